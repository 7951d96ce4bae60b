//! Validation of the `target` section: endpoint, plugin, params, headers and
//! timeouts, with `${env:NAME}` interpolation and secret collection.

use super::interpolate::{Interpolated, interpolate};
use super::raw::{KeyValues, TargetSection, TimeoutsSection};
use super::tree::{Kind, Located, Node, Pos, shorten};
use super::validate::{Context, Report, duration_at};
use super::{Endpoint, PluginRef, Target, Timeouts};
use crate::mock::MockConfig;

/// The plugin used when the scenario names none.
pub const DEFAULT_PLUGIN: &str = "openai-chat";

/// Validates the target section; `url_flag` (`--url`) replaces its endpoint.
pub fn validate(
    raw: Option<Located<TargetSection>>,
    url_flag: Option<&str>,
    cx: &Context<'_>,
    report: &mut Report<'_>,
) -> Target {
    let mut secrets = Vec::new();
    let (section, section_pos) = match raw {
        Some(located) => (located.value, Some(located.pos)),
        None => (TargetSection::default(), None),
    };
    let endpoint = match url_flag {
        Some(url) => check_url(url, url)
            .map_err(|(m, h)| report.flag("--url", m, h))
            .map(Endpoint::Url),
        None => endpoint(&section, section_pos, cx, report, &mut secrets),
    }
    .unwrap_or_else(|()| Endpoint::Url(String::new()));
    let plugin = plugin(section.plugin, cx, report);
    let params = match section.params {
        Some(node) => match to_json(&node, cx, report, &mut secrets) {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        },
        None => serde_json::Map::new(),
    };
    let headers = headers(section.headers, cx, report, &mut secrets);
    Target {
        endpoint,
        plugin,
        params,
        headers,
        secrets,
        stream: section.stream.unwrap_or(true),
        timeouts: timeouts(section.timeouts.unwrap_or_default(), report),
    }
}

fn endpoint(
    section: &TargetSection,
    section_pos: Option<Pos>,
    cx: &Context<'_>,
    report: &mut Report<'_>,
    secrets: &mut Vec<String>,
) -> Result<Endpoint, ()> {
    let both_help =
        "keep one: `url` calls a running server, `mock` starts the embedded mock server";
    match (&section.url, &section.mock, section_pos) {
        (Some(_), Some(mock), _) => {
            report.at(mock.pos, "`target` has both `url` and `mock`", both_help);
            Err(())
        }
        (Some(url), None, _) => {
            let text = resolve(&url.value, url.pos, cx, report, secrets).ok_or(())?;
            check_url(&url.value, &text)
                .map(Endpoint::Url)
                .map_err(|(m, h)| report.at(url.pos, m, h))
        }
        (None, Some(mock), _) => {
            let problems = check_mock(&mock.value);
            if problems.is_empty() {
                Ok(Endpoint::Mock(mock.value.clone()))
            } else {
                for (m, h) in problems {
                    report.at(mock.pos, m, h);
                }
                Err(())
            }
        }
        (None, None, Some(pos)) => {
            report.at(
                pos,
                "`target` has neither `url` nor `mock`",
                "add `url: http://HOST:PORT` for a running server, or `mock: {}` for the embedded mock",
            );
            Err(())
        }
        (None, None, None) => {
            report.whole(
                "--url",
                "no target given",
                "add a `target:` section with `url:` (a running server) or `mock: {}` (the embedded mock), or pass --url URL",
            );
            Err(())
        }
    }
}

/// Checks a base URL. `shown` is the value as written (before
/// interpolation), so a secret never lands in a message.
fn check_url(shown: &str, url: &str) -> Result<String, (String, String)> {
    let help = "write a base URL like `http://127.0.0.1:30000` (http or https, with a host)";
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    match host {
        Some(host) if !host.is_empty() && !url.contains(char::is_whitespace) => {
            Ok(url.trim_end_matches('/').to_string())
        }
        _ => Err((
            format!("`{}` is not an http(s) URL", shorten(shown)),
            help.to_string(),
        )),
    }
}

/// Every problem of the mock's settings, as (message, help).
fn check_mock(mock: &MockConfig) -> Vec<(String, String)> {
    mock.problems()
        .into_iter()
        .map(|p| (format!("`target.mock.{}` {}", p.field, p.message), p.help))
        .collect()
}

fn plugin(raw: Option<Located<String>>, cx: &Context<'_>, report: &mut Report<'_>) -> PluginRef {
    let Some(raw) = raw else {
        return PluginRef::Builtin(DEFAULT_PLUGIN.to_string());
    };
    let name = raw.value.trim();
    if name.ends_with(".wasm") {
        let path = cx.base.join(name);
        if !path.is_file() {
            report.at(
                raw.pos,
                format!("plugin `{}` does not exist", path.display()),
                "build it with `cargo build --target wasm32-wasip2 --release`; a relative path starts from the scenario's folder",
            );
        }
        return PluginRef::Path(path);
    }
    let looks_like_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !looks_like_name {
        report.at(
            raw.pos,
            format!(
                "`{}` is neither a built-in plugin name nor a `.wasm` path",
                shorten(name)
            ),
            format!(
                "write a built-in name such as `{DEFAULT_PLUGIN}`, or a path ending in `.wasm`"
            ),
        );
    }
    PluginRef::Builtin(name.to_string())
}

/// Interpolates one value, reporting at `pos`; `None` when it failed.
fn resolve(
    text: &str,
    pos: Pos,
    cx: &Context<'_>,
    report: &mut Report<'_>,
    secrets: &mut Vec<String>,
) -> Option<String> {
    match interpolate(text, cx.env) {
        Ok(Interpolated {
            text,
            secrets: found,
        }) => {
            for secret in found {
                if !secrets.contains(&secret) {
                    secrets.push(secret);
                }
            }
            Some(text)
        }
        Err(problems) => {
            for problem in problems {
                report.at(pos, problem.message, problem.help);
            }
            None
        }
    }
}

/// `params` as JSON, with `${env:NAME}` replaced inside strings.
fn to_json(
    node: &Node,
    cx: &Context<'_>,
    report: &mut Report<'_>,
    secrets: &mut Vec<String>,
) -> serde_json::Value {
    use serde_json::Value;
    match &node.kind {
        Kind::Null => Value::Null,
        Kind::Bool(b, _) => Value::Bool(*b),
        Kind::Int(i, text) => {
            if let Ok(u) = u64::try_from(*i) {
                Value::from(u)
            } else if let Ok(s) = i64::try_from(*i) {
                Value::from(s)
            } else {
                report.at(
                    node.pos,
                    format!("`{text}` is too large for a JSON request body"),
                    "use a smaller number, or quote it to send text",
                );
                Value::Null
            }
        }
        Kind::Float(x, text) => match serde_json::Number::from_f64(*x) {
            Some(n) => Value::Number(n),
            None => {
                report.at(
                    node.pos,
                    format!("`{text}` cannot be sent in JSON"),
                    "JSON has no NaN or infinity: use a finite number, or quote it to send text",
                );
                Value::Null
            }
        },
        Kind::Str(s) => {
            Value::String(resolve(s, node.pos, cx, report, secrets).unwrap_or_default())
        }
        Kind::Seq(items) => Value::Array(
            items
                .iter()
                .map(|item| to_json(item, cx, report, secrets))
                .collect(),
        ),
        Kind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, value)| {
                    let key = key.scalar_text().unwrap_or_default().to_string();
                    (key, to_json(value, cx, report, secrets))
                })
                .collect(),
        ),
    }
}

fn headers(
    raw: Option<Located<KeyValues>>,
    cx: &Context<'_>,
    report: &mut Report<'_>,
    secrets: &mut Vec<String>,
) -> Vec<(String, String)> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    let mut headers = Vec::new();
    for (name, value) in raw.value.0 {
        // RFC 9110 token characters.
        let valid_name = !name.value.is_empty()
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
        if !valid_name {
            report.at(
                name.pos,
                format!("`{}` is not a valid HTTP header name", shorten(&name.value)),
                "a header name is letters, digits and `-` (e.g. `Authorization`, `X-Request-Id`)",
            );
        }
        let Some(text) = resolve(&value.value, value.pos, cx, report, secrets) else {
            continue;
        };
        if text.contains(['\r', '\n', '\0']) {
            report.at(
                value.pos,
                format!(
                    "header `{}` has a line break in its value",
                    shorten(&name.value)
                ),
                "a header value is one line; check the value and any `${env:...}` it uses",
            );
            continue;
        }
        headers.push((name.value, text));
    }
    headers
}

fn timeouts(raw: TimeoutsSection, report: &mut Report<'_>) -> Timeouts {
    let d = Timeouts::default();
    Timeouts {
        connect: duration_at(
            report,
            raw.connect,
            "target.timeouts.connect",
            d.connect,
            false,
        ),
        first_token: duration_at(
            report,
            raw.first_token,
            "target.timeouts.first_token",
            d.first_token,
            false,
        ),
        idle: duration_at(report, raw.idle, "target.timeouts.idle", d.idle, false),
        total: duration_at(report, raw.total, "target.timeouts.total", d.total, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            check_url("u", "http://127.0.0.1:30000/"),
            Ok("http://127.0.0.1:30000".into())
        );
        assert_eq!(
            check_url("u", "https://host/v1"),
            Ok("https://host/v1".into())
        );
        for bad in ["127.0.0.1:30000", "http://", "ftp://x", "http:// x", ""] {
            assert!(check_url(bad, bad).is_err(), "{bad:?}");
        }
        // The message quotes the value as written, never the resolved secret.
        let (message, _) = check_url("${env:U}", "not a url s3cret").unwrap_err();
        assert!(!message.contains("s3cret"));
    }

    #[test]
    fn mock_values() {
        assert!(check_mock(&MockConfig::default()).is_empty());
        let bad = MockConfig {
            gap_ms: -1.0,
            ..MockConfig::default()
        };
        assert_eq!(check_mock(&bad)[0].0, "`target.mock.gap_ms` is -1");
        let zero = MockConfig {
            output_tokens: Some(0),
            ..MockConfig::default()
        };
        assert_eq!(check_mock(&zero).len(), 1);
        let faults = MockConfig {
            faults: crate::mock::MockFaults {
                error_rate: 2.0,
                empty_rate: -1.0,
                ..Default::default()
            },
            ..MockConfig::default()
        };
        let problems = check_mock(&faults);
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].0, "`target.mock.faults.error_rate` is 2");
        assert!(problems[1].1.contains("from 0 to 1"));
    }
}
