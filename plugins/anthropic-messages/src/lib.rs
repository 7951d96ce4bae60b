//! `anthropic-messages`: the protocol plugin for Anthropic's Messages API,
//! `POST /v1/messages`, streamed as typed SSE events (`message_start`,
//! `content_block_delta`, `message_delta`, `message_stop`, `ping`, `error`)
//! or answered with one message.
//!
//! Usage comes in two halves: input tokens in `message_start`, output tokens
//! (cumulative) in `message_delta`. The stream parser keeps the first until
//! the second comes, and reports both as one `usage`.

#![cfg_attr(all(target_arch = "wasm32", not(test)), no_std)]

extern crate alloc;

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use guest_support::json::{self, TokenCount};
use guest_support::params::{apply_params, parse_params, to_body};
use guest_support::{
    Event, Framing, HttpRequest, Info, Prompt, Protocol, RequestInput, StreamParse,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

/// The API path.
pub const PATH: &str = "/v1/messages";
/// The `anthropic-version` header the request sends.
pub const API_VERSION: &str = "2023-06-01";
/// `max_tokens` when the test set and scenario give none: the API requires
/// the field.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

/// The Messages API.
pub struct AnthropicMessages;

impl Protocol for AnthropicMessages {
    const INFO: Info = Info {
        name: "anthropic-messages",
        version: env!("CARGO_PKG_VERSION"),
        description: "Anthropic /v1/messages (typed SSE events)",
        framing: Framing::Sse,
    };
    type Parser = Parser;

    /// `messages` (a text prompt is one `user` message; `system` messages
    /// are joined into the top-level `system`), `max_tokens` (required by
    /// the API: the input's, else 1024), `stream`, then `params` over it.
    /// Headers: `content-type` and `anthropic-version`; the scenario adds
    /// `x-api-key`.
    fn build_request(input: &RequestInput<'_>) -> Result<HttpRequest, String> {
        let params = parse_params(input.params_json)?;
        let mut body = Map::new();
        match &input.prompt {
            Prompt::Text(text) => {
                body.insert(
                    "messages".to_owned(),
                    json!([{"role": "user", "content": text}]),
                );
            }
            Prompt::Chat(messages) => {
                let system: Vec<&str> = messages
                    .iter()
                    .filter(|m| m.role == "system")
                    .map(|m| m.content)
                    .collect();
                if !system.is_empty() {
                    body.insert("system".to_owned(), system.join("\n\n").into());
                }
                let rest: Vec<Value> = messages
                    .iter()
                    .filter(|m| m.role != "system")
                    .map(|m| json!({"role": m.role, "content": m.content}))
                    .collect();
                body.insert("messages".to_owned(), Value::Array(rest));
            }
        }
        let max = input.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
        body.insert("max_tokens".to_owned(), max.into());
        body.insert("stream".to_owned(), input.stream.into());
        apply_params(&mut body, params);
        let mut request = HttpRequest::post_json(PATH, to_body(&body)?);
        request
            .headers
            .push(("anthropic-version", API_VERSION.to_owned()));
        Ok(request)
    }

    /// A 2xx body is a `message`: its `thinking` and `text` blocks, the stop
    /// reason and usage. A `{"type": "error"}` body or a non-2xx status gives
    /// one `error`.
    fn parse_response(status: u16, body: &[u8]) -> Result<Vec<Event>, String> {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if !(200..300).contains(&status) {
            return Ok(alloc::vec![Event::Error(json::http_error(status, text))]);
        }
        let message: Message = json::parse(text)?;
        let mut events = Vec::new();
        if let Some(error) = message.error {
            events.push(Event::Error(json::describe_error(error.get())));
        }
        for block in message.content.unwrap_or_default() {
            block.emit(&mut events);
        }
        if let Some(reason) = message.stop_reason {
            events.push(Event::Finish(reason));
        }
        if let Some(usage) = message.usage {
            usage.emit(None, &mut events);
        }
        Ok(events)
    }
}

/// The parser of one stream: holds `message_start`'s input tokens until
/// `message_delta` brings the output tokens.
#[derive(Default)]
pub struct Parser {
    input_tokens: Option<u32>,
}

impl StreamParse for Parser {
    /// Dispatches on the data's `type` (the `event:` name repeats it):
    /// `content_block_delta` gives text (`text_delta`) or reasoning
    /// (`thinking_delta`); `message_delta` the finish reason and usage;
    /// `message_stop` is `done`; `error` is `error`; `message_start` is
    /// remembered; `ping`, block start/stop and unknown types give nothing.
    fn feed(
        &mut self,
        event: Option<&str>,
        data: &str,
        out: &mut Vec<Event>,
    ) -> Result<(), String> {
        let data = data.trim();
        if data.is_empty() {
            if event == Some("error") {
                out.push(Event::Error(
                    "the server sent an error event with no data".into(),
                ));
            }
            return Ok(());
        }
        let frame: Frame = json::parse(data)?;
        let kind = frame.kind.as_deref().or(event).unwrap_or("");
        match kind {
            "message_start" => {
                if let Some(usage) = frame.message.and_then(|m| m.usage) {
                    self.input_tokens = usage.input_tokens.0;
                }
            }
            "content_block_start" => {
                if let Some(block) = frame.content_block {
                    block.emit(out);
                }
            }
            "content_block_delta" => {
                if let Some(delta) = frame.delta {
                    delta.emit(out);
                }
            }
            "message_delta" => {
                if let Some(reason) = frame.delta.and_then(|d| d.stop_reason) {
                    out.push(Event::Finish(reason));
                }
                if let Some(usage) = frame.usage {
                    usage.emit(self.input_tokens, out);
                }
            }
            "message_stop" => out.push(Event::Done),
            "error" => {
                let message = match frame.error {
                    Some(error) => json::describe_error(error.get()),
                    None => json::describe_error(data),
                };
                out.push(Event::Error(message));
            }
            _ => {}
        }
        Ok(())
    }
}

/// One stream event's data.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    message: Option<Message<'a>>,
    #[serde(default)]
    content_block: Option<Block>,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// A whole message, or `message_start`'s envelope.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default)]
    content: Option<Vec<Block>>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// A content block (whole, or as `content_block_start` opens it).
#[derive(Deserialize)]
struct Block {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
}

impl Block {
    fn emit(self, out: &mut Vec<Event>) {
        if let Some(thinking) = self.thinking.filter(|t| !t.is_empty()) {
            out.push(Event::Reasoning(thinking));
        }
        if let Some(text) = self.text.filter(|t| !t.is_empty()) {
            out.push(Event::Text(text));
        }
    }
}

/// A block delta or a message delta.
#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    stop_reason: Option<String>,
}

impl Delta {
    fn emit(self, out: &mut Vec<Event>) {
        Block {
            text: self.text,
            thinking: self.thinking,
        }
        .emit(out);
    }
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    input_tokens: TokenCount,
    #[serde(default)]
    output_tokens: TokenCount,
}

impl Usage {
    /// One `usage`; `input` stands in when this object lacks input tokens.
    fn emit(self, input: Option<u32>, out: &mut Vec<Event>) {
        let prompt = self.input_tokens.0.or(input);
        let completion = self.output_tokens.0;
        if prompt.is_some() || completion.is_some() {
            out.push(Event::Usage { prompt, completion });
        }
    }
}

guest_support::export_plugin!(AnthropicMessages);

#[cfg(test)]
mod tests {
    use super::*;
    use guest_support::ChatMessage;
    use guest_support::protocol::parse_frames;

    #[test]
    fn request_moves_system_out_and_requires_max_tokens() {
        let input = RequestInput {
            prompt: Prompt::Chat(alloc::vec![
                ChatMessage {
                    role: "system",
                    content: "Be brief."
                },
                ChatMessage {
                    role: "user",
                    content: "Hi"
                },
            ]),
            max_tokens: None,
            stream: true,
            params_json: r#"{"model": "claude"}"#,
        };
        let req = AnthropicMessages::build_request(&input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.path, PATH);
        assert!(
            req.headers
                .contains(&("anthropic-version", API_VERSION.to_owned()))
        );
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        assert_eq!(
            body,
            json!({"system": "Be brief.", "messages": [{"role": "user", "content": "Hi"}],
                   "max_tokens": 1024, "stream": true, "model": "claude"})
        );
    }

    #[test]
    fn stream_joins_usage_halves_and_reads_thinking() {
        let frames = [
            (
                Some("message_start"),
                r#"{"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}"#,
            ),
            (
                Some("content_block_start"),
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
            ),
            (
                Some("content_block_delta"),
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me see"}}"#,
            ),
            (
                Some("content_block_delta"),
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"abc"}}"#,
            ),
            (Some("ping"), r#"{"type": "ping"}"#),
            (
                Some("content_block_delta"),
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hello"}}"#,
            ),
            (
                Some("message_delta"),
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}"#,
            ),
            (Some("message_stop"), r#"{"type":"message_stop"}"#),
        ];
        assert_eq!(
            parse_frames::<Parser>(&frames),
            Ok(alloc::vec![
                Event::Reasoning("Let me see".into()),
                Event::Text("Hello".into()),
                Event::Finish("end_turn".into()),
                Event::Usage {
                    prompt: Some(12),
                    completion: Some(5)
                },
                Event::Done,
            ])
        );
        let error =
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(
            parse_frames::<Parser>(&[(Some("error"), error)]),
            Ok(alloc::vec![Event::Error(
                "Overloaded (type: overloaded_error)".into()
            )])
        );
    }

    #[test]
    fn whole_message_and_http_errors() {
        let body = br#"{"id":"m","type":"message","role":"assistant","content":[{"type":"text","text":"Hi!"}],"stop_reason":"max_tokens","usage":{"input_tokens":3,"output_tokens":2}}"#;
        assert_eq!(
            AnthropicMessages::parse_response(200, body),
            Ok(alloc::vec![
                Event::Text("Hi!".into()),
                Event::Finish("max_tokens".into()),
                Event::Usage {
                    prompt: Some(3),
                    completion: Some(2)
                },
            ])
        );
        let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: required"}}"#;
        assert_eq!(
            AnthropicMessages::parse_response(400, body),
            Ok(alloc::vec![Event::Error(
                "HTTP 400: max_tokens: required (type: invalid_request_error)".into()
            )])
        );
    }
}
