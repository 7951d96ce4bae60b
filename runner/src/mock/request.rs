//! OpenAI request bodies as the mock reads them, and the output plan they
//! lead to. Unknown fields (`temperature`, `tools`, ...) are ignored, as a
//! lenient server would; a field the mock relies on with the wrong type gets a
//! 400 naming it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::response::error_response;

/// The model name used when a request names none, and listed by `/v1/models`.
pub(crate) const DEFAULT_MODEL: &str = "mock-model";

/// Output length when neither the config nor the request sets one.
pub(crate) const DEFAULT_OUTPUT_TOKENS: u32 = 128;

/// The most tokens one response may hold, so a huge `max_tokens` gets a 400
/// instead of an endless stream or a giant body.
pub(crate) const MAX_OUTPUT_TOKENS: u32 = 1 << 20;

/// Which OpenAI endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `POST /v1/chat/completions`: `messages` in, `delta.content` out.
    Chat,
    /// `POST /v1/completions`: `prompt` in, `text` out.
    Completions,
}

/// What the mock needs from a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedRequest {
    /// The endpoint the request came to.
    pub endpoint: Endpoint,
    /// The requested model, echoed back; [`DEFAULT_MODEL`] when absent.
    pub model: String,
    /// `"stream": true`.
    pub stream: bool,
    /// `"stream_options": {"include_usage": true}`.
    pub include_usage: bool,
    /// `max_completion_tokens`, else `max_tokens` (the newer name wins, as in
    /// vLLM); always at least 1.
    pub max_tokens: Option<u64>,
    /// The prompt's length in tokens, estimated as `ceil(chars / 2)` (chars
    /// are Unicode scalar values of every text part), plus one per token id
    /// when a completions prompt is given as ids; at least 1.
    pub prompt_tokens: u32,
}

/// A 400 with OpenAI's error shape: `{"error":{"message","type","param","code"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRequest {
    /// What is wrong and how to fix it.
    pub message: String,
    /// The offending field, when there is one.
    pub param: Option<String>,
}

impl BadRequest {
    fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        BadRequest {
            message: message.into(),
            param: Some(param.into()),
        }
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        error_response(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &self.message,
            self.param.as_deref(),
        )
    }
}

/// Parses a request body for `endpoint`.
pub(crate) fn parse_request(endpoint: Endpoint, body: &[u8]) -> Result<ParsedRequest, BadRequest> {
    let value: Value = serde_json::from_slice(body).map_err(|e| BadRequest {
        message: format!(
            "request body is not valid JSON ({e}); send a JSON object such as {}",
            match endpoint {
                Endpoint::Chat => r#"{"messages":[{"role":"user","content":"hi"}]}"#,
                Endpoint::Completions => r#"{"prompt":"hi"}"#,
            }
        ),
        param: None,
    })?;
    let Value::Object(obj) = value else {
        return Err(BadRequest {
            message: "request body must be a JSON object".into(),
            param: None,
        });
    };
    let model = match obj.get("model") {
        None | Some(Value::Null) => DEFAULT_MODEL.to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(BadRequest::new("model", "`model` must be a string")),
    };
    let stream = read_bool(&obj, "stream")?;
    let include_usage = match obj.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(Value::Object(opts)) => read_bool(opts, "include_usage")?,
        Some(_) => {
            return Err(BadRequest::new(
                "stream_options",
                "`stream_options` must be an object such as {\"include_usage\": true}",
            ));
        }
    };
    let max_tokens = match read_max(&obj, "max_completion_tokens")? {
        Some(n) => Some(n),
        None => read_max(&obj, "max_tokens")?,
    };
    let (chars, ids) = match endpoint {
        Endpoint::Chat => (chat_prompt_chars(&obj)?, 0),
        Endpoint::Completions => completion_prompt_size(&obj)?,
    };
    let from_text = chars.div_ceil(2);
    let prompt_tokens = u32::try_from(from_text.saturating_add(ids))
        .unwrap_or(u32::MAX)
        .max(1);
    Ok(ParsedRequest {
        endpoint,
        model,
        stream,
        include_usage,
        max_tokens,
        prompt_tokens,
    })
}

fn read_bool(obj: &Map<String, Value>, key: &str) -> Result<bool, BadRequest> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(BadRequest::new(
            key,
            format!("`{key}` must be true or false"),
        )),
    }
}

fn read_max(obj: &Map<String, Value>, key: &str) -> Result<Option<u64>, BadRequest> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(0) => Err(BadRequest::new(key, format!("`{key}` must be at least 1"))),
            Some(n) => Ok(Some(n)),
            None => Err(BadRequest::new(
                key,
                format!("`{key}` must be a positive integer, got {v}"),
            )),
        },
    }
}

/// Chars of every text part of every message.
fn chat_prompt_chars(obj: &Map<String, Value>) -> Result<u64, BadRequest> {
    let messages = match obj.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => {
            return Err(BadRequest::new("messages", "`messages` must not be empty"));
        }
        Some(_) => {
            return Err(BadRequest::new(
                "messages",
                "`messages` must be an array of messages",
            ));
        }
        None => {
            return Err(BadRequest::new(
                "messages",
                "`messages` is missing; add e.g. \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]",
            ));
        }
    };
    let mut chars = 0u64;
    for (i, message) in messages.iter().enumerate() {
        let Value::Object(message) = message else {
            return Err(BadRequest::new(
                format!("messages[{i}]"),
                format!("`messages[{i}]` must be an object with `role` and `content`"),
            ));
        };
        chars += match message.get("content") {
            None | Some(Value::Null) => 0,
            Some(Value::String(s)) => char_count(s),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .map(char_count)
                .sum(),
            Some(_) => {
                return Err(BadRequest::new(
                    format!("messages[{i}].content"),
                    format!(
                        "`messages[{i}].content` must be a string, an array of content parts or null"
                    ),
                ));
            }
        };
    }
    Ok(chars)
}

/// (chars of text, count of token ids) of a completions `prompt`.
fn completion_prompt_size(obj: &Map<String, Value>) -> Result<(u64, u64), BadRequest> {
    let bad = || {
        BadRequest::new(
            "prompt",
            "`prompt` must be a string, an array of strings or an array of token ids",
        )
    };
    match obj.get("prompt") {
        None | Some(Value::Null) => Err(BadRequest::new(
            "prompt",
            "`prompt` is missing; add e.g. \"prompt\": \"Once upon a time\"",
        )),
        Some(Value::String(s)) => Ok((char_count(s), 0)),
        Some(Value::Array(items)) => {
            let (mut chars, mut ids) = (0u64, 0u64);
            for item in items {
                match item {
                    Value::String(s) => chars += char_count(s),
                    Value::Number(n) if n.is_u64() => ids += 1,
                    _ => return Err(bad()),
                }
            }
            Ok((chars, ids))
        }
        Some(_) => Err(bad()),
    }
}

fn char_count(s: &str) -> u64 {
    s.chars().count() as u64
}

/// Why the output stopped, as OpenAI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FinishReason {
    /// The output reached the request's `max_tokens`.
    Length,
    /// The output ended on its own (the mock's `output_tokens`).
    Stop,
}

impl FinishReason {
    /// The name on the wire.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FinishReason::Length => "length",
            FinishReason::Stop => "stop",
        }
    }
}

/// How many tokens a response holds and why it stops: the smaller of the
/// config's `output_tokens` and the request's max when both are set, else
/// whichever is set, else [`DEFAULT_OUTPUT_TOKENS`].
pub(crate) fn output_plan(
    output_tokens: Option<u32>,
    max_tokens: Option<u64>,
) -> Result<(u32, FinishReason), BadRequest> {
    let n = match (output_tokens, max_tokens) {
        (Some(c), Some(m)) => u64::from(c).min(m),
        (Some(c), None) => u64::from(c),
        (None, Some(m)) => m,
        (None, None) => u64::from(DEFAULT_OUTPUT_TOKENS),
    };
    if n > u64::from(MAX_OUTPUT_TOKENS) {
        return Err(BadRequest::new(
            "max_tokens",
            format!(
                "`max_tokens` is {n}; the mock serves at most {MAX_OUTPUT_TOKENS} tokens per response"
            ),
        ));
    }
    let finish = if max_tokens == Some(n) {
        FinishReason::Length
    } else {
        FinishReason::Stop
    };
    // n <= MAX_OUTPUT_TOKENS, so it fits.
    Ok((n as u32, finish))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: &str) -> Result<ParsedRequest, BadRequest> {
        parse_request(Endpoint::Chat, body.as_bytes())
    }

    fn completions(body: &str) -> Result<ParsedRequest, BadRequest> {
        parse_request(Endpoint::Completions, body.as_bytes())
    }

    #[test]
    fn chat_request_fields_are_read() {
        let req = chat(
            r#"{"model":"qwen","stream":true,"stream_options":{"include_usage":true},
                "max_tokens":9,"temperature":0.2,
                "messages":[{"role":"system","content":"abc"},
                            {"role":"user","content":[{"type":"text","text":"你好"},{"type":"image_url","image_url":{}}]},
                            {"role":"assistant","content":null}]}"#,
        )
        .expect("valid");
        assert_eq!(req.model, "qwen");
        assert!(req.stream && req.include_usage);
        assert_eq!(req.max_tokens, Some(9));
        // "abc" + "你好" = 5 chars -> ceil(5 / 2) = 3.
        assert_eq!(req.prompt_tokens, 3);
    }

    #[test]
    fn defaults_and_max_completion_tokens_precedence() {
        let req = chat(r#"{"messages":[{"role":"user","content":""}]}"#).expect("valid");
        assert_eq!(req.model, DEFAULT_MODEL);
        assert!(!req.stream && !req.include_usage);
        assert_eq!(req.max_tokens, None);
        assert_eq!(req.prompt_tokens, 1, "at least 1");
        let req =
            chat(r#"{"messages":[{"content":"x"}],"max_tokens":50,"max_completion_tokens":7}"#)
                .expect("valid");
        assert_eq!(req.max_tokens, Some(7));
        let req =
            chat(r#"{"messages":[{"content":"x"}],"max_tokens":50,"max_completion_tokens":null}"#)
                .expect("valid");
        assert_eq!(req.max_tokens, Some(50));
    }

    #[test]
    fn completions_prompt_forms() {
        assert_eq!(
            completions(r#"{"prompt":"abcd"}"#)
                .expect("ok")
                .prompt_tokens,
            2
        );
        assert_eq!(
            completions(r#"{"prompt":["abc","de"]}"#)
                .expect("ok")
                .prompt_tokens,
            3
        );
        assert_eq!(
            completions(r#"{"prompt":[1,2,3,4,5]}"#)
                .expect("ok")
                .prompt_tokens,
            5
        );
    }

    #[test]
    fn bad_requests_name_the_field() {
        let cases = [
            (Endpoint::Chat, "not json", None),
            (Endpoint::Chat, "[1,2]", None),
            (Endpoint::Chat, "{}", Some("messages")),
            (Endpoint::Chat, r#"{"messages":[]}"#, Some("messages")),
            (Endpoint::Chat, r#"{"messages":"hi"}"#, Some("messages")),
            (Endpoint::Chat, r#"{"messages":[1]}"#, Some("messages[0]")),
            (
                Endpoint::Chat,
                r#"{"messages":[{"content":5}]}"#,
                Some("messages[0].content"),
            ),
            (
                Endpoint::Chat,
                r#"{"messages":[{"content":"x"}],"max_tokens":0}"#,
                Some("max_tokens"),
            ),
            (
                Endpoint::Chat,
                r#"{"messages":[{"content":"x"}],"max_tokens":"9"}"#,
                Some("max_tokens"),
            ),
            (
                Endpoint::Chat,
                r#"{"messages":[{"content":"x"}],"stream":"yes"}"#,
                Some("stream"),
            ),
            (
                Endpoint::Chat,
                r#"{"messages":[{"content":"x"}],"model":3}"#,
                Some("model"),
            ),
            (
                Endpoint::Chat,
                r#"{"messages":[{"content":"x"}],"stream_options":true}"#,
                Some("stream_options"),
            ),
            (
                Endpoint::Completions,
                r#"{"messages":[{"content":"x"}]}"#,
                Some("prompt"),
            ),
            (
                Endpoint::Completions,
                r#"{"prompt":{"a":1}}"#,
                Some("prompt"),
            ),
            (
                Endpoint::Completions,
                r#"{"prompt":[1,"a",null]}"#,
                Some("prompt"),
            ),
        ];
        for (endpoint, body, param) in cases {
            let err = parse_request(endpoint, body.as_bytes()).expect_err(body);
            assert_eq!(err.param.as_deref(), param, "{body}");
            assert!(!err.message.is_empty());
        }
    }

    #[test]
    fn output_plan_follows_the_config_docs() {
        assert_eq!(
            output_plan(Some(20), Some(7)).ok(),
            Some((7, FinishReason::Length))
        );
        assert_eq!(
            output_plan(Some(5), Some(100)).ok(),
            Some((5, FinishReason::Stop))
        );
        assert_eq!(
            output_plan(Some(5), None).ok(),
            Some((5, FinishReason::Stop))
        );
        assert_eq!(
            output_plan(None, Some(33)).ok(),
            Some((33, FinishReason::Length))
        );
        assert_eq!(
            output_plan(None, None).ok(),
            Some((128, FinishReason::Stop))
        );
        assert_eq!(
            output_plan(Some(10), Some(1 << 40)).ok(),
            Some((10, FinishReason::Stop))
        );
        let err = output_plan(None, Some(1 << 40)).expect_err("too long");
        assert_eq!(err.param.as_deref(), Some("max_tokens"));
    }
}
