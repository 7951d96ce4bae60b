//! `openai-completions`: the protocol plugin for OpenAI-compatible
//! `/v1/completions` servers (vLLM, SGLang, llama.cpp, TGI's OpenAI layer).
//!
//! The logic is plain Rust over `guest-support`'s contract types, tested
//! natively; [`guest_support::export_plugin!`] makes it a component. On
//! wasm32 the crate is `no_std` (with `alloc`), so it can reach no WASI.

#![cfg_attr(all(target_arch = "wasm32", not(test)), no_std)]

extern crate alloc;

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use guest_support::json::{self, First, TokenCount};
use guest_support::params::{apply_params, parse_params, to_body};
use guest_support::{Event, Framing, HttpRequest, Info, Protocol, RequestInput, StreamParse};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, json};

/// The API path, joined to the scenario's target URL by the host.
pub const PATH: &str = "/v1/completions";

/// The `/v1/completions` protocol.
pub struct OpenAiCompletions;

impl Protocol for OpenAiCompletions {
    const INFO: Info = Info {
        name: "openai-completions",
        version: env!("CARGO_PKG_VERSION"),
        description: "OpenAI-compatible /v1/completions (vLLM, SGLang, llama.cpp, ...)",
        framing: Framing::Sse,
    };
    type Parser = Parser;

    /// `prompt` (chat messages joined by blank lines), `max_tokens` when
    /// given, `stream`, and when streaming `stream_options.include_usage`;
    /// then `params` over it (`null` removes a key).
    fn build_request(input: &RequestInput<'_>) -> Result<HttpRequest, String> {
        let params = parse_params(input.params_json)?;
        let mut body = Map::new();
        body.insert("prompt".to_owned(), input.prompt.flatten().into());
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
        apply_params(&mut body, params);
        Ok(HttpRequest::post_json(PATH, to_body(&body)?))
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

/// Completions chunks are self-contained, so the parser holds no state.
#[derive(Default)]
pub struct Parser;

impl StreamParse for Parser {
    /// `[DONE]` is `done`; empty data is skipped; an `event: error` frame is
    /// `error`; any other data must be a completion chunk.
    fn feed(
        &mut self,
        event: Option<&str>,
        data: &str,
        out: &mut Vec<Event>,
    ) -> Result<(), String> {
        let data = data.trim();
        if event == Some("error") {
            out.push(Event::Error(json::describe_error(data)));
            return Ok(());
        }
        match data {
            "" => Ok(()),
            "[DONE]" => {
                out.push(Event::Done);
                Ok(())
            }
            _ => emit(data, out),
        }
    }
}

/// A chunk or a whole `text_completion`.
#[derive(Deserialize)]
struct Completion<'a> {
    #[serde(default)]
    choices: Option<First<Choice>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    #[serde(default)]
    object: Option<String>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: TokenCount,
    #[serde(default)]
    completion_tokens: TokenCount,
}

/// The events of one chunk or body: an error, text, finish, then usage.
fn emit(raw: &str, out: &mut Vec<Event>) -> Result<(), String> {
    let doc: Completion = json::parse(raw)?;
    if let Some(error) = doc.error {
        out.push(Event::Error(json::describe_error(error.get())));
    } else if doc.object.as_deref() == Some("error") {
        out.push(Event::Error(json::describe_error(raw)));
    }
    if let Some(First(Some(choice))) = doc.choices {
        if let Some(text) = choice.text.filter(|t| !t.is_empty()) {
            out.push(Event::Text(text));
        }
        if let Some(reason) = choice.finish_reason {
            out.push(Event::Finish(reason));
        }
    }
    if let Some(usage) = doc.usage {
        let (prompt, completion) = (usage.prompt_tokens.0, usage.completion_tokens.0);
        if prompt.is_some() || completion.is_some() {
            out.push(Event::Usage { prompt, completion });
        }
    }
    Ok(())
}

guest_support::export_plugin!(OpenAiCompletions);

#[cfg(test)]
mod tests {
    use super::*;
    use guest_support::protocol::parse_frames;
    use guest_support::{ChatMessage, Prompt};
    use serde_json::Value;

    fn body(input: &RequestInput) -> Value {
        let req = OpenAiCompletions::build_request(input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((req.method, req.path.as_str()), ("POST", PATH));
        serde_json::from_slice(&req.body).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn request_carries_prompt_budget_stream_and_params() {
        let input = RequestInput {
            prompt: Prompt::Text("Once"),
            max_tokens: Some(16),
            stream: true,
            params_json: r#"{"model": "m", "stream_options": null}"#,
        };
        assert_eq!(
            body(&input),
            json!({"prompt": "Once", "max_tokens": 16, "stream": true, "model": "m"})
        );
        let chat = Prompt::Chat(alloc::vec![
            ChatMessage {
                role: "system",
                content: "A"
            },
            ChatMessage {
                role: "user",
                content: "B"
            },
        ]);
        let input = RequestInput {
            prompt: chat,
            max_tokens: None,
            stream: false,
            params_json: "",
        };
        assert_eq!(body(&input), json!({"prompt": "A\n\nB", "stream": false}));
    }

    #[test]
    fn stream_gives_text_finish_usage_and_done() {
        let frames = [
            (
                None,
                r#"{"id":"c","object":"text_completion","choices":[{"index":0,"text":"Hi","logprobs":null,"finish_reason":null}]}"#,
            ),
            (
                None,
                r#"{"choices":[{"index":0,"text":"!","finish_reason":"length"}],"usage":null}"#,
            ),
            (
                None,
                r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
            ),
            (None, "[DONE]"),
        ];
        let events = parse_frames::<Parser>(&frames);
        assert_eq!(
            events,
            Ok(alloc::vec![
                Event::Text("Hi".into()),
                Event::Text("!".into()),
                Event::Finish("length".into()),
                Event::Usage {
                    prompt: Some(3),
                    completion: Some(2)
                },
                Event::Done,
            ])
        );
    }

    #[test]
    fn errors_in_stream_and_body() {
        let events = parse_frames::<Parser>(&[(
            None,
            r#"{"object":"error","message":"too long","code":400}"#,
        )]);
        assert_eq!(
            events,
            Ok(alloc::vec![Event::Error("too long (code: 400)".into())])
        );
        let events = parse_frames::<Parser>(&[(Some("error"), r#"{"error":{"message":"boom"}}"#)]);
        assert_eq!(events, Ok(alloc::vec![Event::Error("boom".into())]));
        assert!(parse_frames::<Parser>(&[(None, "nope")]).is_err());
        let events =
            OpenAiCompletions::parse_response(429, br#"{"error":{"message":"slow down"}}"#);
        assert_eq!(
            events,
            Ok(alloc::vec![Event::Error("HTTP 429: slow down".into())])
        );
    }

    #[test]
    fn whole_body_gives_text_finish_and_usage() {
        let body = br#"{"object":"text_completion","choices":[{"index":0,"text":"All of it","finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":3}}"#;
        assert_eq!(
            OpenAiCompletions::parse_response(200, body),
            Ok(alloc::vec![
                Event::Text("All of it".into()),
                Event::Finish("stop".into()),
                Event::Usage {
                    prompt: Some(4),
                    completion: Some(3)
                },
            ])
        );
    }
}
