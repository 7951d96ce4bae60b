//! `triton`: the protocol plugin for NVIDIA Triton Inference Server's
//! generate extension: `POST /v2/models/{model}/generate_stream` (SSE, one
//! response object per event) and `POST /v2/models/{model}/generate` (one
//! object). The model name comes from the scenario's `params.model`.
//!
//! Each response carries `text_output`, a delta when streaming (as the
//! TensorRT-LLM ensemble sends it). The finish reason and token counts are
//! read when the model returns them as outputs (`finish_reason`,
//! `num_input_tokens`, `num_output_tokens`, as vLLM's backend does on
//! request); Triton itself adds none.

#![cfg_attr(all(target_arch = "wasm32", not(test)), no_std)]

extern crate alloc;

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use guest_support::json::{self, TokenCount};
use guest_support::params::{apply_params, parse_params, take_string, to_body};
use guest_support::{Event, Framing, HttpRequest, Info, Protocol, RequestInput, StreamParse};
use serde::Deserialize;
use serde_json::Map;
use serde_json::value::RawValue;

/// Triton's generate extension.
pub struct Triton;

impl Protocol for Triton {
    const INFO: Info = Info {
        name: "triton",
        version: env!("CARGO_PKG_VERSION"),
        description: "Triton generate extension /v2/models/{model}/generate_stream and generate",
        framing: Framing::Sse,
    };
    type Parser = Parser;

    /// `POST /v2/models/{model}/generate_stream` (or `/generate`), where
    /// `model` is taken out of `params` (required; add `"version": "1"` to
    /// address one version). Body: `text_input` (chat messages joined by
    /// blank lines), `max_tokens` when given, `stream: true` when streaming
    /// (the TensorRT-LLM ensemble's inputs), then the other `params` over it
    /// (`parameters`, `temperature`, ...; `null` removes a key).
    fn build_request(input: &RequestInput<'_>) -> Result<HttpRequest, String> {
        let mut params = parse_params(input.params_json)?;
        let model = take_string(&mut params, "model")?.ok_or_else(|| {
            "params.model must name the Triton model, e.g. params: {\"model\": \"ensemble\"}"
                .to_owned()
        })?;
        let version = take_string(&mut params, "version")?;
        if model.is_empty() || model.contains(['/', '?', '#']) {
            return Err(format!("params.model {model:?} is not a Triton model name"));
        }
        let mut path = format!("/v2/models/{model}");
        if let Some(version) = version {
            path.push_str("/versions/");
            path.push_str(&version);
        }
        path.push_str(if input.stream {
            "/generate_stream"
        } else {
            "/generate"
        });
        let mut body = Map::new();
        body.insert("text_input".to_owned(), input.prompt.flatten().into());
        if let Some(max) = input.max_tokens {
            body.insert("max_tokens".to_owned(), max.into());
        }
        if input.stream {
            body.insert("stream".to_owned(), true.into());
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

/// Every response object is self-contained, so the parser holds no state.
#[derive(Default)]
pub struct Parser;

impl StreamParse for Parser {
    /// Empty data is skipped; every other event is a response object or an
    /// `{"error": ..}` (Triton sends inference errors inside the stream,
    /// after the 200 status).
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
        emit(data, out)
    }
}

/// One response object.
#[derive(Deserialize)]
struct Output<'a> {
    #[serde(default)]
    text_output: Option<String>,
    #[serde(borrow, default)]
    finish_reason: Option<&'a RawValue>,
    #[serde(default)]
    num_input_tokens: TokenCount,
    #[serde(default)]
    num_output_tokens: TokenCount,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// The events of one response object: an error, the text, then the finish
/// reason and counts when the model returns them.
fn emit(raw: &str, out: &mut Vec<Event>) -> Result<(), String> {
    let output: Output = json::parse(raw)?;
    if let Some(error) = output.error {
        out.push(Event::Error(json::describe_error(error.get())));
    }
    if let Some(text) = output.text_output.filter(|t| !t.is_empty()) {
        out.push(Event::Text(text));
    }
    if let Some(reason) = output.finish_reason.and_then(|r| finish_reason(r.get())) {
        out.push(Event::Finish(reason));
    }
    let (prompt, completion) = (output.num_input_tokens.0, output.num_output_tokens.0);
    if prompt.is_some() || completion.is_some() {
        out.push(Event::Usage { prompt, completion });
    }
    Ok(())
}

/// A finish reason given as a string or a one-element array of strings
/// (outputs are tensors); `null` and empty strings are none.
fn finish_reason(raw: &str) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Reason {
        One(Option<String>),
        Many(Vec<Option<String>>),
    }
    let reason = match serde_json::from_str(raw).ok()? {
        Reason::One(r) => r,
        Reason::Many(all) => all.into_iter().next().flatten(),
    };
    reason.filter(|r| !r.is_empty())
}

guest_support::export_plugin!(Triton);

#[cfg(test)]
mod tests {
    use super::*;
    use guest_support::Prompt;
    use guest_support::protocol::parse_frames;
    use serde_json::{Value, json};

    fn request(stream: bool, params: &str) -> Result<HttpRequest, String> {
        Triton::build_request(&RequestInput {
            prompt: Prompt::Text("Hi"),
            max_tokens: Some(16),
            stream,
            params_json: params,
        })
    }

    #[test]
    fn model_comes_from_params_into_the_path() {
        let req = request(true, r#"{"model": "ensemble", "temperature": 0}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.path, "/v2/models/ensemble/generate_stream");
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        assert_eq!(
            body,
            json!({"text_input": "Hi", "max_tokens": 16, "stream": true, "temperature": 0})
        );
        let req = request(false, r#"{"model": "llama", "version": "2"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.path, "/v2/models/llama/versions/2/generate");
        let err = request(true, "{}").err().unwrap_or_default();
        assert!(
            err.starts_with("params.model must name the Triton model"),
            "{err}"
        );
        assert!(request(true, r#"{"model": "a/b"}"#).is_err());
        assert!(request(true, r#"{"model": 3}"#).is_err());
    }

    #[test]
    fn stream_reads_text_and_optional_outputs() {
        let frames = [
            (
                None,
                r#"{"model_name":"ensemble","model_version":"1","sequence_end":false,"sequence_id":0,"text_output":"Hel"}"#,
            ),
            (
                None,
                r#"{"model_name":"ensemble","model_version":"1","text_output":"lo","finish_reason":["length"],"num_input_tokens":3,"num_output_tokens":2}"#,
            ),
        ];
        assert_eq!(
            parse_frames::<Parser>(&frames),
            Ok(alloc::vec![
                Event::Text("Hel".into()),
                Event::Text("lo".into()),
                Event::Finish("length".into()),
                Event::Usage {
                    prompt: Some(3),
                    completion: Some(2)
                },
            ])
        );
        assert_eq!(
            parse_frames::<Parser>(&[(
                None,
                r#"{"error":"in ensemble 'ensemble', out of memory"}"#
            )]),
            Ok(alloc::vec![Event::Error(
                "in ensemble 'ensemble', out of memory".into()
            )])
        );
        assert_eq!(
            Triton::parse_response(400, br#"{"error":"unknown model"}"#),
            Ok(alloc::vec![Event::Error("HTTP 400: unknown model".into())])
        );
    }
}
