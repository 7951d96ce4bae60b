//! The executor: drives users that send requests and records one
//! [`Sample`](crate::sample::Sample) per request.
//!
//! [`RunContext`] holds what every request shares (client, plugin, dataset,
//! clock, in-flight tracker); [`request::execute`] is the one work function;
//! [`run_step`] runs one step of the schedule (closed-loop users or
//! open-loop arrivals) on top of it.

mod drive;
pub mod request;
mod work;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio_util::sync::CancellationToken;

pub use drive::{LevelWindow, Pacer, run_step};
pub use request::Meta;

use crate::clock::RunClock;
use crate::dataset::{Dataset, Item, Prompt};
use crate::framing::FramingKind;
use crate::metrics::InFlight;
use crate::plugin::{self, HttpRequest, Plugin, RequestInput};
use crate::scenario::Timeouts;

/// What every request of a run shares.
pub struct RunContext {
    /// The run clock.
    pub clock: RunClock,
    /// The HTTP client (one connection pool, no cap on connections).
    pub client: reqwest::Client,
    /// Base URL of the target.
    pub base_url: reqwest::Url,
    /// Scenario headers, added after the plugin's.
    pub headers: HeaderMap,
    /// The protocol plugin.
    pub plugin: Arc<Plugin>,
    /// How response bodies are split into frames.
    pub framing: FramingKind,
    /// Longest line the framer accepts, and longest whole (non-streamed)
    /// response body.
    pub max_line: usize,
    /// Whether to ask for streamed responses.
    pub stream: bool,
    /// The scenario's params as a JSON object, serialised once.
    pub params_json: String,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// The prompts.
    pub dataset: Arc<Dataset>,
    /// Requests in flight, integrated over time.
    pub in_flight: InFlight,
    /// Cancelled when the run is stopped (Ctrl-C): in-flight requests end as
    /// `cancelled`, users stop.
    pub cancel: CancellationToken,
    /// Wait after a failed request before a user's next one.
    pub failure_backoff: Duration,
    /// Keep each reply's content text in [`crate::sample::Sample::text`]
    /// (for token counting by a tokenizer, or to carry a reply into the
    /// next turn of a session). Off, nothing is copied.
    pub keep_text: bool,
    /// Replay the dataset's multi-turn sessions turn by turn.
    pub sessions: bool,
    /// Think time (ms) before later turns whose test-set line gives none.
    pub think_ms: Option<crate::scenario::LengthDist>,
    /// Why the run was stopped from inside (a plugin that faults on every
    /// request); set before `cancel` is cancelled.
    pub abort_reason: std::sync::Mutex<Option<String>>,
}

impl RunContext {
    /// Stops the run from inside, keeping the first reason given.
    pub fn abort(&self, reason: String) {
        let mut r = self.abort_reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(reason);
        }
        drop(r);
        self.cancel.cancel();
    }

    /// The reason given to [`RunContext::abort`], if any.
    pub fn aborted(&self) -> Option<String> {
        self.abort_reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Builds the HTTP client used for a run: no connection cap, Nagle off, the
/// scenario's connect timeout.
pub fn http_client(connect_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .build()
}

/// Parses scenario headers into a header map.
pub fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("header name `{k}`: {e}"))?;
        let value = HeaderValue::from_str(v).map_err(|e| format!("header `{k}` value: {e}"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// The framing a plugin asked for.
pub fn framing_of(f: plugin::Framing) -> FramingKind {
    match f {
        plugin::Framing::Sse => FramingKind::Sse,
        plugin::Framing::Ndjson => FramingKind::Ndjson,
        plugin::Framing::Raw => FramingKind::Raw,
    }
}

/// Joins the plugin's request path to the base URL: the base's own path is
/// kept as a prefix (`https://host/api` + `/v1/chat/completions`), and a
/// base that already ends with the plugin's path is used as it is.
pub fn join_url(base: &reqwest::Url, path: &str) -> Result<reqwest::Url, String> {
    let (p, query) = path
        .split_once('?')
        .map_or((path, None), |(p, q)| (p, Some(q)));
    let base_path = base.path().trim_end_matches('/');
    let p = if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    };
    let full = if !base_path.is_empty() && base_path.ends_with(p.trim_end_matches('/')) {
        base_path.to_string()
    } else {
        format!("{base_path}{p}")
    };
    let mut url = base.clone();
    url.set_path(&full);
    url.set_query(query);
    Ok(url)
}

impl RunContext {
    /// The plugin input for an item.
    pub fn input(&self, it: &Item) -> RequestInput {
        let prompt = match &it.prompt {
            Prompt::Text(t) => plugin::Prompt::Text(t.clone()),
            Prompt::Chat(msgs) => plugin::Prompt::Chat(
                msgs.iter()
                    .map(|m| plugin::ChatMessage {
                        role: m.role.clone(),
                        content: m.content.clone(),
                    })
                    .collect(),
            ),
        };
        RequestInput {
            prompt,
            max_tokens: Some(it.max_tokens),
            stream: self.stream,
            params_json: self.params_json.clone(),
        }
    }

    /// Turns the plugin's request into an HTTP request to the target.
    pub fn http_request(&self, req: HttpRequest) -> Result<reqwest::Request, String> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| format!("plugin built an invalid HTTP method `{}`", req.method))?;
        let url = join_url(&self.base_url, &req.path)?;
        let mut out = reqwest::Request::new(method, url);
        let h = out.headers_mut();
        for hd in req.headers {
            let name = HeaderName::from_bytes(hd.name.as_bytes())
                .map_err(|_| format!("plugin built an invalid header name `{}`", hd.name))?;
            let value = HeaderValue::from_str(&hd.value)
                .map_err(|_| format!("plugin built an invalid value for header `{}`", hd.name))?;
            h.insert(name, value);
        }
        for (k, v) in &self.headers {
            h.insert(k.clone(), v.clone());
        }
        *out.body_mut() = Some(req.body.into());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).unwrap()
    }

    #[test]
    fn joins_paths() {
        let p = "/v1/chat/completions";
        let cases = [
            ("http://h:1", "http://h:1/v1/chat/completions"),
            ("http://h:1/", "http://h:1/v1/chat/completions"),
            ("https://h/api", "https://h/api/v1/chat/completions"),
            (
                "http://h/v1/chat/completions",
                "http://h/v1/chat/completions",
            ),
        ];
        for (base, want) in cases {
            assert_eq!(join_url(&url(base), p).unwrap().as_str(), want, "{base}");
        }
        assert_eq!(
            join_url(&url("http://h"), "/generate?x=1")
                .unwrap()
                .as_str(),
            "http://h/generate?x=1"
        );
    }

    #[test]
    fn header_errors_are_reported() {
        assert!(header_map(&[("bad name".into(), "v".into())]).is_err());
        assert_eq!(
            header_map(&[("x-a".into(), "1".into())]).unwrap()["x-a"],
            "1"
        );
    }
}
