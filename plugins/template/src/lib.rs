//! `plugin-template`: a protocol plugin for the llm-perf runner.
//!
//! It speaks an OpenAI-like chat API (`POST /v1/chat/completions`, streamed
//! as server-sent events). Change the four functions marked "your protocol"
//! to teach the runner another API; the rest is the plumbing every plugin
//! needs. `README.md` walks through building, checking and running it.
//!
//! The runner gives a plugin no WASI: no stdout, environment, files, clocks
//! or randomness. Calls into those trap, and the request counts as a
//! `plugin_fault`. So this crate:
//! - never prints (`println!`, `eprintln!`, `dbg!`): it logs with [`log`];
//! - uses `BTreeMap`, never `std::collections::HashMap` with its default,
//!   randomly seeded hasher (serde_json's `Map` is a `BTreeMap` already);
//! - installs a panic hook ([`sandbox_hooks`]) because std's default hook
//!   reads the environment and writes to stderr.

use std::cell::RefCell;

use serde::Deserialize;

wit_bindgen::generate!({
    // The contract, copied from the runner (`wit/plugin.wit`). Keep it in
    // step with the runner you target: it refuses another major.minor.
    path: "wit",
    world: "plugin",
});

use exports::llm_perf::plugin::protocol::{Guest, GuestStreamParser};
use llm_perf::plugin::host::{Level, log};
use llm_perf::plugin::types as wit;

/// The contract version this plugin was built against: the version in
/// `wit/plugin.wit`'s `package` line.
const WIT_VERSION: &str = "0.1.0";

/// Reports panics through `host.log` instead of std's default hook, which
/// would call WASI and trap before saying what went wrong.
fn sandbox_hooks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| log(Level::Error, &info.to_string())));
    });
}

/// The component's exports.
struct Plugin;

impl Guest for Plugin {
    type StreamParser = StreamParser;

    fn info() -> wit::PluginInfo {
        wit::PluginInfo {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            wit_version: WIT_VERSION.to_owned(),
            description: env!("CARGO_PKG_DESCRIPTION").to_owned(),
            // Your protocol: `Sse`, `Ndjson` (one frame per line) or `Raw`.
            framing: wit::Framing::Sse,
        }
    }

    fn build_request(input: wit::RequestInput) -> Result<wit::HttpRequest, String> {
        sandbox_hooks();
        let body = request_body(&input)?;
        Ok(wit::HttpRequest {
            method: "POST".to_owned(),
            path: "/v1/chat/completions".to_owned(),
            headers: vec![wit::Header {
                name: "content-type".to_owned(),
                value: "application/json".to_owned(),
            }],
            body: body.into_bytes(),
        })
    }

    fn parse_response(status: u16, body: Vec<u8>) -> Result<Vec<wit::Event>, String> {
        sandbox_hooks();
        whole_response(status, &body)
    }
}

/// Your protocol: the JSON body for one request. The scenario's `params`
/// (a JSON object) are merged over the defaults, so `model`, `temperature`
/// and any other field come from the scenario.
fn request_body(input: &wit::RequestInput) -> Result<String, String> {
    let params: serde_json::Value = serde_json::from_str(&input.params_json)
        .map_err(|e| format!("params are not JSON: {e}"))?;
    let serde_json::Value::Object(params) = params else {
        return Err("params must be a JSON object (`params:` in the scenario)".to_owned());
    };
    let messages: Vec<serde_json::Value> = match &input.prompt {
        wit::Prompt::Text(text) => vec![serde_json::json!({"role": "user", "content": text})],
        wit::Prompt::Chat(messages) => messages
            .iter()
            .map(|m| serde_json::json!({"role": m.role, "content": m.content}))
            .collect(),
    };
    let mut body = serde_json::Map::new();
    body.insert("messages".to_owned(), messages.into());
    body.insert("stream".to_owned(), input.stream.into());
    if let Some(n) = input.max_tokens {
        body.insert("max_tokens".to_owned(), n.into());
    }
    if input.stream {
        // Ask for token counts on the last chunk.
        body.insert(
            "stream_options".to_owned(),
            serde_json::json!({"include_usage": true}),
        );
    }
    for (key, value) in params {
        if value.is_null() {
            body.remove(&key);
        } else {
            body.insert(key, value);
        }
    }
    Ok(serde_json::Value::Object(body).to_string())
}

/// One streamed chunk or whole response. Name only the fields you read:
/// serde skips the rest cheaply, and `feed` runs once per network read.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    /// A streamed chunk's delta.
    #[serde(default)]
    delta: Option<Message>,
    /// A whole response's message.
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u32>,
    #[serde(default)]
    completion_tokens: Option<u32>,
}

/// Your protocol: the events in one chunk (or one whole response), in order.
fn chunk_events(chunk: Chunk, out: &mut Vec<wit::Event>) {
    if let Some(error) = chunk.error {
        let message = match &error["message"] {
            serde_json::Value::String(m) => m.clone(),
            _ => error.to_string(),
        };
        out.push(wit::Event::Error(message));
    }
    if let Some(choice) = chunk.choices.into_iter().next() {
        if let Some(m) = choice.delta.or(choice.message) {
            // Empty deltas carry nothing: an empty `text` would count as a token.
            if let Some(r) = m.reasoning_content.filter(|r| !r.is_empty()) {
                out.push(wit::Event::Reasoning(r));
            }
            if let Some(t) = m.content.filter(|t| !t.is_empty()) {
                out.push(wit::Event::Text(t));
            }
        }
        if let Some(reason) = choice.finish_reason {
            out.push(wit::Event::Finish(reason));
        }
    }
    if let Some(u) = chunk.usage {
        out.push(wit::Event::Usage(wit::Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }));
    }
}

/// Your protocol: the events of one streamed frame.
fn frame_events(frame: &wit::Frame, out: &mut Vec<wit::Event>) -> Result<(), String> {
    let data = frame.data.trim();
    if data.is_empty() {
        return Ok(());
    }
    if data == "[DONE]" {
        out.push(wit::Event::Done);
        return Ok(());
    }
    let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
        let head: String = data.chars().take(100).collect();
        format!("a stream frame is not a chat chunk ({e}): {head}")
    })?;
    chunk_events(chunk, out);
    Ok(())
}

/// Your protocol: the events of a whole (non-streamed) response.
fn whole_response(status: u16, body: &[u8]) -> Result<Vec<wit::Event>, String> {
    if !(200..300).contains(&status) {
        let head: String = String::from_utf8_lossy(body).chars().take(200).collect();
        return Ok(vec![wit::Event::Error(format!("HTTP {status}: {head}"))]);
    }
    let chunk: Chunk = serde_json::from_slice(body)
        .map_err(|e| format!("the response is not a chat completion: {e}"))?;
    let mut out = Vec::new();
    chunk_events(chunk, &mut out);
    Ok(out)
}

/// The parser of one streamed response. This protocol needs no state
/// between frames; one that does (cumulative text, a partial tool call)
/// keeps it here, behind a `RefCell`, since `feed` takes `&self`.
struct StreamParser {
    /// Frames seen so far, for the log line at the end.
    frames: RefCell<u64>,
}

impl GuestStreamParser for StreamParser {
    fn new() -> Self {
        sandbox_hooks();
        StreamParser {
            frames: RefCell::new(0),
        }
    }

    fn feed(&self, frames: Vec<wit::Frame>) -> Result<Vec<wit::Event>, String> {
        *self.frames.borrow_mut() += frames.len() as u64;
        let mut out = Vec::with_capacity(frames.len());
        for frame in &frames {
            frame_events(frame, &mut out)?;
        }
        Ok(out)
    }

    fn finish(&self) -> Result<Vec<wit::Event>, String> {
        if *self.frames.borrow() == 0 {
            log(Level::Debug, "the stream ended without a frame");
        }
        Ok(Vec::new())
    }
}

export!(Plugin);

#[cfg(test)]
mod tests {
    //! These run natively (`cargo test`), without the runner.

    use super::*;

    fn input(prompt: wit::Prompt, params: &str) -> wit::RequestInput {
        wit::RequestInput {
            prompt,
            max_tokens: Some(64),
            stream: true,
            params_json: params.to_owned(),
        }
    }

    #[test]
    fn params_are_merged_over_the_body() {
        let body = request_body(&input(
            wit::Prompt::Text("hi".to_owned()),
            r#"{"model":"m","stream_options":null}"#,
        ))
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["model"], "m");
        assert_eq!(v["messages"][0]["content"], "hi");
        assert_eq!(v["max_tokens"], 64);
        assert!(v.get("stream_options").is_none());
    }

    #[test]
    fn params_that_are_not_an_object_are_refused() {
        let err = request_body(&input(wit::Prompt::Text("hi".to_owned()), "[1]")).unwrap_err();
        assert!(err.contains("JSON object"), "{err}");
    }

    #[test]
    fn a_frame_gives_its_events_in_order() {
        let frame = wit::Frame {
            event: None,
            data: r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":"stop"}]}"#.to_owned(),
        };
        let mut out = Vec::new();
        frame_events(&frame, &mut out).unwrap();
        assert!(
            matches!(&out[..], [wit::Event::Text(t), wit::Event::Finish(f)] if t == "Hi" && f == "stop")
        );
    }

    #[test]
    fn a_frame_of_another_shape_is_an_error() {
        let frame = wit::Frame {
            event: None,
            data: "not json".to_owned(),
        };
        assert!(frame_events(&frame, &mut Vec::new()).is_err());
    }
}
