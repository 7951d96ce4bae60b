//! Building the `/v1/chat/completions` request.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use serde_json::{Map, Value, json};

use crate::event::preview;

/// The API path, joined to the scenario's target URL by the host.
pub const PATH: &str = "/v1/chat/completions";

/// One chat message, borrowed from the host's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatMessage<'a> {
    /// `system`, `user`, `assistant`, ...
    pub role: &'a str,
    /// The message text.
    pub content: &'a str,
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt<'a> {
    /// A plain prompt, sent as one user message.
    Text(&'a str),
    /// Chat messages, sent as they are.
    Chat(Vec<ChatMessage<'a>>),
}

/// Everything one request is built from; mirrors the WIT `request-input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInput<'a> {
    /// The prompt.
    pub prompt: Prompt<'a>,
    /// The output token budget, sent as `max_tokens` when given.
    pub max_tokens: Option<u32>,
    /// Whether to ask for a streamed response.
    pub stream: bool,
    /// The scenario's `params`: a JSON object merged over the body.
    pub params_json: &'a str,
}

/// The request to send; mirrors the WIT `http-request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Always `POST`.
    pub method: &'static str,
    /// Always [`PATH`].
    pub path: &'static str,
    /// The headers the protocol needs.
    pub headers: Vec<(&'static str, &'static str)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// Builds the request body: `messages`, `max_tokens` when given, `stream`,
/// and when streaming `stream_options.include_usage` (so the last chunk
/// carries token counts). Then every top-level key of `params_json` is set
/// over it, so a scenario can change or add any field (`model`,
/// `temperature`, ...). A `null` param removes the key, for servers that
/// reject a field this plugin sends (`stream_options: null`).
///
/// An `Err` names the problem with `params`: not JSON, or not an object.
pub fn build_request(input: &RequestInput) -> Result<HttpRequest, String> {
    let params = parse_params(input.params_json)?;
    let messages = match &input.prompt {
        Prompt::Text(text) => json!([{ "role": "user", "content": text }]),
        Prompt::Chat(messages) => messages
            .iter()
            .map(|m| json!({ "role": m.role, "content": m.content }))
            .collect(),
    };
    let mut body = Map::new();
    body.insert("messages".to_owned(), messages);
    if let Some(max) = input.max_tokens {
        body.insert("max_tokens".to_owned(), max.into());
    }
    body.insert("stream".to_owned(), input.stream.into());
    if input.stream {
        body.insert(
            "stream_options".to_owned(),
            json!({ "include_usage": true }),
        );
    }
    for (key, value) in params {
        if value.is_null() {
            body.remove(&key);
        } else {
            body.insert(key, value);
        }
    }
    let body =
        serde_json::to_vec(&body).map_err(|e| format!("could not encode the request body: {e}"))?;
    Ok(HttpRequest {
        method: "POST",
        path: PATH,
        headers: vec![("content-type", "application/json")],
        body,
    })
}

/// Parses the scenario's `params`; blank counts as `{}`.
fn parse_params(params_json: &str) -> Result<Map<String, Value>, String> {
    if params_json.trim().is_empty() {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_str(params_json).map_err(|e| {
        format!(
            "params is not valid JSON ({e}): {}",
            preview(params_json, 100)
        )
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => {
            let kind = match other {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "an array",
                Value::Object(_) => "an object",
            };
            Err(format!(
                "params must be a JSON object of body fields (e.g. {{\"model\": \"m\", \"temperature\": 0}}), got {kind}: {}",
                preview(params_json, 100)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(
        prompt: Prompt<'a>,
        max_tokens: Option<u32>,
        stream: bool,
        params_json: &'a str,
    ) -> RequestInput<'a> {
        RequestInput {
            prompt,
            max_tokens,
            stream,
            params_json,
        }
    }

    fn body_of(input: &RequestInput) -> Value {
        let request = build_request(input).unwrap_or_else(|e| panic!("build_request failed: {e}"));
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/v1/chat/completions");
        assert_eq!(request.headers, vec![("content-type", "application/json")]);
        serde_json::from_slice(&request.body).unwrap_or_else(|e| panic!("body is not JSON: {e}"))
    }

    #[test]
    fn text_prompt_is_one_user_message_with_usage_requested_when_streaming() {
        let body = body_of(&input(Prompt::Text("Say \"hi\""), Some(64), true, "{}"));
        assert_eq!(
            body,
            json!({
                "messages": [{"role": "user", "content": "Say \"hi\""}],
                "max_tokens": 64,
                "stream": true,
                "stream_options": {"include_usage": true},
            })
        );
    }

    #[test]
    fn chat_prompt_is_sent_as_given_without_stream_options_when_not_streaming() {
        let chat = vec![
            ChatMessage {
                role: "system",
                content: "Be brief.",
            },
            ChatMessage {
                role: "user",
                content: "Why?",
            },
        ];
        let body = body_of(&input(Prompt::Chat(chat), None, false, ""));
        assert_eq!(
            body,
            json!({
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why?"}],
                "stream": false,
            })
        );
    }

    #[test]
    fn params_are_merged_and_win() {
        let params = r#"{"model": "qwen", "temperature": 0.5, "max_tokens": 10, "stream_options": {"include_usage": false}}"#;
        let body = body_of(&input(Prompt::Text("x"), Some(64), true, params));
        assert_eq!(body["model"], "qwen");
        assert_eq!(body["temperature"], 0.5);
        assert_eq!(body["max_tokens"], 10);
        assert_eq!(body["stream_options"], json!({"include_usage": false}));
        assert_eq!(body["stream"], true);
    }

    #[test]
    fn null_param_removes_the_key() {
        let body = body_of(&input(
            Prompt::Text("x"),
            Some(5),
            true,
            r#"{"stream_options": null, "max_tokens": null}"#,
        ));
        assert_eq!(
            body,
            json!({"messages": [{"role": "user", "content": "x"}], "stream": true})
        );
    }

    #[test]
    fn non_object_params_are_rejected_with_the_fix() {
        for (params, kind) in [
            ("[1]", "an array"),
            ("\"m\"", "a string"),
            ("3", "a number"),
            ("null", "null"),
        ] {
            let err = build_request(&input(Prompt::Text("x"), None, false, params))
                .err()
                .unwrap_or_default();
            assert!(err.starts_with("params must be a JSON object"), "{err}");
            assert!(err.contains(&format!("got {kind}: {params}")), "{err}");
        }
    }

    #[test]
    fn invalid_params_json_is_rejected() {
        let err = build_request(&input(Prompt::Text("x"), None, false, "{model: m}"))
            .err()
            .unwrap_or_default();
        assert!(err.starts_with("params is not valid JSON ("), "{err}");
        assert!(err.ends_with("{model: m}"), "{err}");
    }
}
