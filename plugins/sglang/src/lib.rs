//! `sglang`: the protocol plugin for SGLang's native `POST /generate`.
//!
//! Streamed as SSE where each event carries the *cumulative* text so far
//! (`{"text": "...", "meta_info": {...}}`), ending with `data: [DONE]`. The
//! stream parser keeps how much text it has passed on and emits only the new
//! part, so each `text` event is a delta as the runner expects.

#![cfg_attr(all(target_arch = "wasm32", not(test)), no_std)]

extern crate alloc;

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use guest_support::json::{self, TokenCount};
use guest_support::params::{apply_params, parse_params, to_body};
use guest_support::{
    Event, Framing, HttpRequest, Info, Protocol, RequestInput, StreamParse, preview,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The API path.
pub const PATH: &str = "/generate";

/// SGLang's native API.
pub struct Sglang;

impl Protocol for Sglang {
    const INFO: Info = Info {
        name: "sglang",
        version: env!("CARGO_PKG_VERSION"),
        description: "SGLang native /generate (SSE, cumulative text)",
        framing: Framing::Sse,
    };
    type Parser = Parser;

    /// `{"text": prompt, "sampling_params": {...}, "stream": bool}`; chat
    /// messages are joined by blank lines. `sampling_params` holds
    /// `max_new_tokens` when given, then every key of `params` (`null`
    /// removes one).
    fn build_request(input: &RequestInput<'_>) -> Result<HttpRequest, String> {
        let params = parse_params(input.params_json)?;
        let mut sampling = Map::new();
        if let Some(max) = input.max_tokens {
            sampling.insert("max_new_tokens".to_owned(), max.into());
        }
        apply_params(&mut sampling, params);
        let mut body = Map::new();
        body.insert("text".to_owned(), input.prompt.flatten().into());
        body.insert("sampling_params".to_owned(), Value::Object(sampling));
        body.insert("stream".to_owned(), input.stream.into());
        Ok(HttpRequest::post_json(PATH, to_body(&body)?))
    }

    fn parse_response(status: u16, body: &[u8]) -> Result<Vec<Event>, String> {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if !(200..300).contains(&status) {
            return Ok(alloc::vec![Event::Error(json::http_error(status, text))]);
        }
        let mut events = Vec::new();
        Parser::default().emit(text, &mut events)?;
        Ok(events)
    }
}

/// The parser of one stream: the byte length of the text already emitted.
#[derive(Default)]
pub struct Parser {
    sent: usize,
}

impl StreamParse for Parser {
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
            _ => self.emit(data, out),
        }
    }
}

impl Parser {
    /// The events of one cumulative chunk (or a whole body): the new text,
    /// and once `finish_reason` is set the finish reason and usage.
    fn emit(&mut self, raw: &str, out: &mut Vec<Event>) -> Result<(), String> {
        let chunk: Chunk = json::parse(raw)?;
        if let Some(error) = chunk.error {
            out.push(Event::Error(json::describe_error(error.get())));
        }
        if let Some(text) = chunk.text {
            // A shorter text, or a cut inside a character, cannot extend what
            // was sent.
            let Some(new) = text.get(self.sent..) else {
                return Err(format!(
                    "the text is not cumulative: a chunk does not extend the {} bytes already received: {}",
                    self.sent,
                    preview(&text, 100)
                ));
            };
            if !new.is_empty() {
                out.push(Event::Text(new.to_owned()));
            }
            self.sent = text.len();
        }
        if let Some(meta) = chunk.meta_info
            && let Some(reason) = meta.finish_reason
        {
            if let Some(kind) = reason.kind() {
                out.push(Event::Finish(kind));
            }
            let (prompt, completion) = (meta.prompt_tokens.0, meta.completion_tokens.0);
            if prompt.is_some() || completion.is_some() {
                out.push(Event::Usage { prompt, completion });
            }
        }
        Ok(())
    }
}

/// One chunk or a whole response.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    meta_info: Option<Meta>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    prompt_tokens: TokenCount,
    #[serde(default)]
    completion_tokens: TokenCount,
    /// `null` until the last chunk; then `{"type": "length", ...}` or, in
    /// older versions, a plain string.
    #[serde(default)]
    finish_reason: Option<FinishReason>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FinishReason {
    Typed {
        #[serde(rename = "type")]
        kind: Option<String>,
    },
    Plain(String),
}

impl FinishReason {
    fn kind(self) -> Option<String> {
        match self {
            FinishReason::Typed { kind } => kind,
            FinishReason::Plain(s) => Some(s),
        }
    }
}

guest_support::export_plugin!(Sglang);

#[cfg(test)]
mod tests {
    use super::*;
    use guest_support::Prompt;
    use guest_support::protocol::parse_frames;
    use serde_json::json;

    #[test]
    fn request_nests_sampling_params() {
        let input = RequestInput {
            prompt: Prompt::Text("Hi"),
            max_tokens: Some(8),
            stream: true,
            params_json: r#"{"temperature": 0}"#,
        };
        let req = Sglang::build_request(&input).unwrap_or_else(|e| panic!("{e}"));
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        assert_eq!(
            body,
            json!({"text": "Hi", "sampling_params": {"max_new_tokens": 8, "temperature": 0}, "stream": true})
        );
    }

    #[test]
    fn cumulative_text_becomes_deltas() {
        let frames = [
            (
                None,
                r#"{"text":"Hel","meta_info":{"prompt_tokens":4,"completion_tokens":1,"finish_reason":null}}"#,
            ),
            (
                None,
                r#"{"text":"Hello","meta_info":{"prompt_tokens":4,"completion_tokens":2,"finish_reason":null}}"#,
            ),
            (
                None,
                r#"{"text":"Hello","meta_info":{"prompt_tokens":4,"completion_tokens":3,"finish_reason":{"type":"length","length":3}}}"#,
            ),
            (None, "[DONE]"),
        ];
        assert_eq!(
            parse_frames::<Parser>(&frames),
            Ok(alloc::vec![
                Event::Text("Hel".into()),
                Event::Text("lo".into()),
                Event::Finish("length".into()),
                Event::Usage {
                    prompt: Some(4),
                    completion: Some(3)
                },
                Event::Done,
            ])
        );
    }

    #[test]
    fn text_that_is_not_cumulative_is_an_error() {
        let frames = [(None, r#"{"text":"Hello"}"#), (None, r#"{"text":"Bye"}"#)];
        let err = parse_frames::<Parser>(&frames).err().unwrap_or_default();
        assert!(err.starts_with("the text is not cumulative"), "{err}");
    }

    #[test]
    fn whole_body_and_errors() {
        let body = br#"{"text":"All","meta_info":{"prompt_tokens":2,"completion_tokens":1,"finish_reason":{"type":"stop","matched":2}}}"#;
        assert_eq!(
            Sglang::parse_response(200, body),
            Ok(alloc::vec![
                Event::Text("All".into()),
                Event::Finish("stop".into()),
                Event::Usage {
                    prompt: Some(2),
                    completion: Some(1)
                },
            ])
        );
        assert_eq!(
            parse_frames::<Parser>(&[(None, r#"{"error":{"message":"bad"}}"#)]),
            Ok(alloc::vec![Event::Error("bad".into())])
        );
    }
}
