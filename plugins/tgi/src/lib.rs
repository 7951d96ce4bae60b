//! `tgi`: the protocol plugin for Hugging Face text-generation-inference's
//! native API: `POST /generate_stream` (SSE, one token per event, the last
//! with `details`) and `POST /generate` (one JSON body).
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
use guest_support::{Event, Framing, HttpRequest, Info, Protocol, RequestInput, StreamParse};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The streaming endpoint.
pub const STREAM_PATH: &str = "/generate_stream";
/// The whole-response endpoint.
pub const GENERATE_PATH: &str = "/generate";

/// TGI's native API.
pub struct Tgi;

impl Protocol for Tgi {
    const INFO: Info = Info {
        name: "tgi",
        version: env!("CARGO_PKG_VERSION"),
        description: "Hugging Face TGI /generate_stream (SSE) and /generate",
        framing: Framing::Sse,
    };
    type Parser = Parser;

    /// `{"inputs": prompt, "parameters": {...}}` to `/generate_stream` or
    /// `/generate`. Chat messages are joined by blank lines (this API takes
    /// one string; apply a chat template in the test set if the model needs
    /// one). `parameters` holds `max_new_tokens` when given and `details:
    /// true` (so a whole response reports its token count), then every key
    /// of `params` (`temperature`, `top_p`, ...; `null` removes one).
    fn build_request(input: &RequestInput<'_>) -> Result<HttpRequest, String> {
        let params = parse_params(input.params_json)?;
        let mut parameters = Map::new();
        if let Some(max) = input.max_tokens {
            parameters.insert("max_new_tokens".to_owned(), max.into());
        }
        parameters.insert("details".to_owned(), true.into());
        apply_params(&mut parameters, params);
        let mut body = Map::new();
        body.insert("inputs".to_owned(), input.prompt.flatten().into());
        body.insert("parameters".to_owned(), Value::Object(parameters));
        let path = if input.stream {
            STREAM_PATH
        } else {
            GENERATE_PATH
        };
        Ok(HttpRequest::post_json(path, to_body(&body)?))
    }

    /// A 2xx body is `{"generated_text", "details"}` (or a one-element
    /// array of it); other statuses give one `error`.
    fn parse_response(status: u16, body: &[u8]) -> Result<Vec<Event>, String> {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if !(200..300).contains(&status) {
            return Ok(alloc::vec![Event::Error(json::http_error(status, text))]);
        }
        let whole: Whole = if text.starts_with('[') {
            let mut all: Vec<Whole> = json::parse(text)?;
            if all.is_empty() {
                return Err("the response is an empty array".into());
            }
            all.swap_remove(0)
        } else {
            json::parse(text)?
        };
        let mut events = Vec::new();
        if let Some(error) = whole.error {
            events.push(Event::Error(json::describe_error(error.get())));
        }
        if let Some(text) = whole.generated_text.filter(|t| !t.is_empty()) {
            events.push(Event::Text(text));
        }
        if let Some(details) = whole.details {
            details.emit(&mut events);
        }
        Ok(events)
    }
}

/// Each event is self-contained, so the parser holds no state.
#[derive(Default)]
pub struct Parser;

impl StreamParse for Parser {
    /// Empty data is skipped; `[DONE]` (sent by some proxies) is `done`;
    /// every other frame is a token event or `{"error": ..}`. A special
    /// token (`</s>`) is not text; the last event's `details` give the
    /// finish reason and token counts.
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
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            out.push(Event::Done);
            return Ok(());
        }
        let chunk: StreamChunk = json::parse(data)?;
        if let Some(error) = chunk.error {
            out.push(Event::Error(json::describe_error(error.get())));
        }
        if let Some(token) = chunk.token
            && !token.special
            && !token.text.is_empty()
        {
            out.push(Event::Text(token.text));
        }
        if let Some(details) = chunk.details {
            details.emit(out);
        }
        Ok(())
    }
}

/// One `/generate_stream` event.
#[derive(Deserialize)]
struct StreamChunk<'a> {
    #[serde(default)]
    token: Option<Token>,
    #[serde(default)]
    details: Option<Details>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    text: String,
    #[serde(default)]
    special: bool,
}

/// A `/generate` body.
#[derive(Deserialize)]
struct Whole<'a> {
    #[serde(default)]
    generated_text: Option<String>,
    #[serde(default)]
    details: Option<Details>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// The generation's details: on the last stream event, or in a body.
#[derive(Deserialize)]
struct Details {
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    generated_tokens: TokenCount,
    /// Prompt tokens; newer TGI versions send it in stream details.
    #[serde(default)]
    input_length: TokenCount,
    /// The prompt's tokens, in a whole response's details.
    #[serde(default)]
    prefill: Option<Vec<serde::de::IgnoredAny>>,
}

impl Details {
    fn emit(self, out: &mut Vec<Event>) {
        if let Some(reason) = self.finish_reason {
            out.push(Event::Finish(reason));
        }
        let prompt = self.input_length.0.or_else(|| {
            self.prefill
                .filter(|p| !p.is_empty())
                .and_then(|p| u32::try_from(p.len()).ok())
        });
        let completion = self.generated_tokens.0;
        if prompt.is_some() || completion.is_some() {
            out.push(Event::Usage { prompt, completion });
        }
    }
}

guest_support::export_plugin!(Tgi);

#[cfg(test)]
mod tests {
    use super::*;
    use guest_support::protocol::parse_frames;
    use guest_support::{ChatMessage, Prompt};
    use serde_json::json;

    #[test]
    fn request_picks_the_path_and_fills_parameters() {
        let input = RequestInput {
            prompt: Prompt::Text("Hi"),
            max_tokens: Some(20),
            stream: true,
            params_json: r#"{"temperature": 0.5, "details": null}"#,
        };
        let req = Tgi::build_request(&input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.path, STREAM_PATH);
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        assert_eq!(
            body,
            json!({"inputs": "Hi", "parameters": {"max_new_tokens": 20, "temperature": 0.5}})
        );
        let input = RequestInput {
            prompt: Prompt::Chat(alloc::vec![ChatMessage {
                role: "user",
                content: "A"
            }]),
            max_tokens: None,
            stream: false,
            params_json: "",
        };
        let req = Tgi::build_request(&input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.path, GENERATE_PATH);
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        assert_eq!(
            body,
            json!({"inputs": "A", "parameters": {"details": true}})
        );
    }

    #[test]
    fn stream_skips_special_tokens_and_reads_details() {
        let frames = [
            (
                None,
                r#"{"index":1,"token":{"id":1,"text":"Hi","logprob":-0.1,"special":false},"generated_text":null,"details":null}"#,
            ),
            (
                None,
                r#"{"index":2,"token":{"id":2,"text":"</s>","logprob":0.0,"special":true},"generated_text":"Hi","details":{"finish_reason":"eos_token","generated_tokens":2,"input_length":4,"seed":null}}"#,
            ),
        ];
        assert_eq!(
            parse_frames::<Parser>(&frames),
            Ok(alloc::vec![
                Event::Text("Hi".into()),
                Event::Finish("eos_token".into()),
                Event::Usage {
                    prompt: Some(4),
                    completion: Some(2)
                },
            ])
        );
        assert_eq!(
            parse_frames::<Parser>(&[(
                None,
                r#"{"error":"Input validation error","error_type":"validation"}"#
            )]),
            Ok(alloc::vec![Event::Error("Input validation error".into())])
        );
    }

    #[test]
    fn whole_body_and_http_errors() {
        let body = br#"{"generated_text":"Hello there","details":{"finish_reason":"length","generated_tokens":3,"prefill":[],"tokens":[]}}"#;
        assert_eq!(
            Tgi::parse_response(200, body),
            Ok(alloc::vec![
                Event::Text("Hello there".into()),
                Event::Finish("length".into()),
                Event::Usage {
                    prompt: None,
                    completion: Some(3)
                },
            ])
        );
        let body = br#"[{"generated_text":"x"}]"#;
        assert_eq!(
            Tgi::parse_response(200, body),
            Ok(alloc::vec![Event::Text("x".into())])
        );
        assert_eq!(
            Tgi::parse_response(422, br#"{"error":"too long","error_type":"validation"}"#),
            Ok(alloc::vec![Event::Error("HTTP 422: too long".into())])
        );
    }
}
