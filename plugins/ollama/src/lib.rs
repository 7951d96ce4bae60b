//! `ollama`: the protocol plugin for Ollama's native API: `/api/chat` for
//! chat prompts, `/api/generate` for text prompts, streamed as NDJSON (one
//! JSON object per line) or answered with one object.
//!
//! The logic is plain Rust over `guest-support`'s contract types, tested
//! natively; [`guest_support::export_plugin!`] makes it a component.

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
use serde_json::{Map, Value};

/// The chat endpoint, for chat prompts.
pub const CHAT_PATH: &str = "/api/chat";
/// The generate endpoint, for text prompts.
pub const GENERATE_PATH: &str = "/api/generate";

/// Ollama's native API.
pub struct Ollama;

impl Protocol for Ollama {
    const INFO: Info = Info {
        name: "ollama",
        version: env!("CARGO_PKG_VERSION"),
        description: "Ollama /api/chat and /api/generate (NDJSON)",
        framing: Framing::Ndjson,
    };
    type Parser = Parser;

    /// A text prompt goes to `/api/generate` as `prompt`, chat messages to
    /// `/api/chat` as `messages`. `stream` is always sent (Ollama streams
    /// unless told otherwise) and the budget is `options.num_predict`. Then
    /// `params` over it; an `options` param is merged key by key into the
    /// body's `options`, so `{"options": {"temperature": 0}}` keeps
    /// `num_predict`.
    fn build_request(input: &RequestInput<'_>) -> Result<HttpRequest, String> {
        let mut params = parse_params(input.params_json)?;
        let mut body = Map::new();
        let path = match &input.prompt {
            Prompt::Text(text) => {
                body.insert("prompt".to_owned(), (*text).into());
                GENERATE_PATH
            }
            Prompt::Chat(_) => {
                body.insert("messages".to_owned(), input.prompt.messages());
                CHAT_PATH
            }
        };
        body.insert("stream".to_owned(), input.stream.into());
        let mut options = Map::new();
        if let Some(max) = input.max_tokens {
            options.insert("num_predict".to_owned(), max.into());
        }
        match params.remove("options") {
            Some(Value::Object(extra)) => apply_params(&mut options, extra),
            None | Some(Value::Null) => {}
            Some(_) => return Err("params.options must be a JSON object of Ollama options".into()),
        }
        if !options.is_empty() {
            body.insert("options".to_owned(), Value::Object(options));
        }
        apply_params(&mut body, params);
        Ok(HttpRequest::post_json(path, to_body(&body)?))
    }

    fn parse_response(status: u16, body: &[u8]) -> Result<Vec<Event>, String> {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if !(200..300).contains(&status) {
            return Ok(alloc::vec![Event::Error(json::http_error(status, text))]);
        }
        let mut events = Vec::new();
        emit(text, &mut events)?;
        Ok(events)
    }
}

/// Each NDJSON line is self-contained, so the parser holds no state.
#[derive(Default)]
pub struct Parser;

impl StreamParse for Parser {
    /// Blank lines are skipped; every other line must be an Ollama object.
    fn feed(
        &mut self,
        _event: Option<&str>,
        data: &str,
        out: &mut Vec<Event>,
    ) -> Result<(), String> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(());
        }
        emit(data, out)
    }
}

/// One line of a stream, or a whole response.
#[derive(Deserialize)]
struct Chunk<'a> {
    /// `/api/chat`: the assistant message (delta when streaming).
    #[serde(default)]
    message: Option<Message>,
    /// `/api/generate`: the text (delta when streaming).
    #[serde(default)]
    response: Option<String>,
    /// `/api/generate`: thinking output of reasoning models.
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: TokenCount,
    #[serde(default)]
    eval_count: TokenCount,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
}

/// The events of one object: an error; reasoning and text; and on the last
/// (`done: true`) the finish reason, usage and `done`.
fn emit(raw: &str, out: &mut Vec<Event>) -> Result<(), String> {
    let chunk: Chunk = json::parse(raw)?;
    if let Some(error) = chunk.error {
        out.push(Event::Error(json::describe_error(error.get())));
    }
    let (thinking, text) = match chunk.message {
        Some(m) => (m.thinking.or(chunk.thinking), m.content),
        None => (chunk.thinking, chunk.response),
    };
    if let Some(thinking) = thinking.filter(|t| !t.is_empty()) {
        out.push(Event::Reasoning(thinking));
    }
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        out.push(Event::Text(text));
    }
    if chunk.done {
        if let Some(reason) = chunk.done_reason {
            out.push(Event::Finish(reason));
        }
        let (prompt, completion) = (chunk.prompt_eval_count.0, chunk.eval_count.0);
        if prompt.is_some() || completion.is_some() {
            out.push(Event::Usage { prompt, completion });
        }
        out.push(Event::Done);
    }
    Ok(())
}

guest_support::export_plugin!(Ollama);

#[cfg(test)]
mod tests {
    use super::*;
    use guest_support::ChatMessage;
    use guest_support::protocol::parse_frames;
    use serde_json::json;

    fn request(input: &RequestInput) -> (String, Value) {
        let req = Ollama::build_request(input).unwrap_or_else(|e| panic!("{e}"));
        let body = serde_json::from_slice(&req.body).unwrap_or_else(|e| panic!("{e}"));
        (req.path, body)
    }

    #[test]
    fn text_goes_to_generate_and_chat_to_chat() {
        let input = RequestInput {
            prompt: Prompt::Text("Why?"),
            max_tokens: Some(32),
            stream: true,
            params_json: r#"{"model": "llama3", "options": {"temperature": 0}}"#,
        };
        let (path, body) = request(&input);
        assert_eq!(path, GENERATE_PATH);
        assert_eq!(
            body,
            json!({"prompt": "Why?", "stream": true, "model": "llama3",
                   "options": {"num_predict": 32, "temperature": 0}})
        );
        let input = RequestInput {
            prompt: Prompt::Chat(alloc::vec![ChatMessage {
                role: "user",
                content: "Hi"
            }]),
            max_tokens: None,
            stream: false,
            params_json: "{}",
        };
        let (path, body) = request(&input);
        assert_eq!(path, CHAT_PATH);
        assert_eq!(
            body,
            json!({"messages": [{"role": "user", "content": "Hi"}], "stream": false})
        );
        let bad = RequestInput {
            params_json: r#"{"options": 1}"#,
            ..input
        };
        assert!(Ollama::build_request(&bad).is_err());
    }

    #[test]
    fn chat_stream_gives_thinking_text_finish_usage_done() {
        let frames = [
            (
                None,
                r#"{"model":"m","message":{"role":"assistant","content":"","thinking":"hmm"},"done":false}"#,
            ),
            (
                None,
                r#"{"model":"m","message":{"role":"assistant","content":"Hi"},"done":false}"#,
            ),
            (
                None,
                r#"{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":7,"eval_count":2}"#,
            ),
        ];
        assert_eq!(
            parse_frames::<Parser>(&frames),
            Ok(alloc::vec![
                Event::Reasoning("hmm".into()),
                Event::Text("Hi".into()),
                Event::Finish("stop".into()),
                Event::Usage {
                    prompt: Some(7),
                    completion: Some(2)
                },
                Event::Done,
            ])
        );
    }

    #[test]
    fn generate_body_and_errors() {
        let body = br#"{"model":"m","response":"Whole","done":true,"done_reason":"length","prompt_eval_count":3,"eval_count":1}"#;
        assert_eq!(
            Ollama::parse_response(200, body),
            Ok(alloc::vec![
                Event::Text("Whole".into()),
                Event::Finish("length".into()),
                Event::Usage {
                    prompt: Some(3),
                    completion: Some(1)
                },
                Event::Done,
            ])
        );
        assert_eq!(
            parse_frames::<Parser>(&[(None, r#"{"error":"model 'x' not found"}"#)]),
            Ok(alloc::vec![Event::Error("model 'x' not found".into())])
        );
        assert_eq!(
            Ollama::parse_response(404, br#"{"error":"model 'x' not found"}"#),
            Ok(alloc::vec![Event::Error(
                "HTTP 404: model 'x' not found".into()
            )])
        );
        assert!(parse_frames::<Parser>(&[(None, "data: {}")]).is_err());
    }
}
