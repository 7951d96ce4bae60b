//! `openai-responses`: the protocol plugin for the OpenAI Responses API,
//! `POST /v1/responses`, streamed as typed SSE events
//! (`response.output_text.delta`, `response.completed`, ...) or answered
//! with one `response` object. The stream has no `[DONE]`: it ends with
//! `response.completed`, `response.incomplete` or `response.failed`.

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
use serde_json::Map;
use serde_json::value::RawValue;

/// The API path.
pub const PATH: &str = "/v1/responses";

/// The Responses API.
pub struct OpenAiResponses;

impl Protocol for OpenAiResponses {
    const INFO: Info = Info {
        name: "openai-responses",
        version: env!("CARGO_PKG_VERSION"),
        description: "OpenAI Responses API /v1/responses (typed SSE events)",
        framing: Framing::Sse,
    };
    type Parser = Parser;

    /// `input` (a text prompt as a string, chat messages as `[{role,
    /// content}]`), `max_output_tokens` when given, `stream`, then `params`
    /// over it (`model`, `reasoning`, ...; `null` removes a key).
    fn build_request(input: &RequestInput<'_>) -> Result<HttpRequest, String> {
        let params = parse_params(input.params_json)?;
        let mut body = Map::new();
        let value = match &input.prompt {
            Prompt::Text(text) => (*text).into(),
            Prompt::Chat(_) => input.prompt.messages(),
        };
        body.insert("input".to_owned(), value);
        if let Some(max) = input.max_tokens {
            body.insert("max_output_tokens".to_owned(), max.into());
        }
        body.insert("stream".to_owned(), input.stream.into());
        apply_params(&mut body, params);
        Ok(HttpRequest::post_json(PATH, to_body(&body)?))
    }

    /// A 2xx body is a `response`: its reasoning and message text, then the
    /// same finish, usage and error as a terminal stream event.
    fn parse_response(status: u16, body: &[u8]) -> Result<Vec<Event>, String> {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if !(200..300).contains(&status) {
            return Ok(alloc::vec![Event::Error(json::http_error(status, text))]);
        }
        let response: Response = json::parse(text)?;
        let mut events = Vec::new();
        for item in response.output.iter().flatten() {
            for part in item.summary.iter().flatten() {
                push_non_empty(&mut events, Event::Reasoning, part.text.clone());
            }
            for part in item.content.iter().flatten() {
                let wrap = match (item.kind.as_deref(), part.kind.as_deref()) {
                    (Some("reasoning"), _) | (_, Some("reasoning_text")) => Event::Reasoning,
                    (_, Some("output_text")) => Event::Text,
                    _ => continue,
                };
                push_non_empty(&mut events, wrap, part.text.clone());
            }
        }
        response.end(&mut events, false);
        Ok(events)
    }
}

fn push_non_empty(out: &mut Vec<Event>, wrap: fn(String) -> Event, text: Option<String>) {
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        out.push(wrap(text));
    }
}

/// Every event is self-contained, so the parser holds no state.
#[derive(Default)]
pub struct Parser;

impl StreamParse for Parser {
    /// Dispatches on the data's `type` (the `event:` name repeats it):
    /// output text deltas are `text`; reasoning text and reasoning summary
    /// deltas are `reasoning`; `response.completed` / `.incomplete` /
    /// `.failed` give the finish reason, usage, any error and `done`;
    /// `error` is `error`. Every other type gives nothing.
    fn feed(
        &mut self,
        event: Option<&str>,
        data: &str,
        out: &mut Vec<Event>,
    ) -> Result<(), String> {
        let data = data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let frame: Frame = json::parse(data)?;
        let kind = frame.kind.as_deref().or(event).unwrap_or("");
        match kind {
            "response.output_text.delta" => push_non_empty(out, Event::Text, frame.delta),
            "response.reasoning_text.delta" | "response.reasoning_summary_text.delta" => {
                push_non_empty(out, Event::Reasoning, frame.delta)
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if let Some(response) = frame.response {
                    response.end(out, true);
                } else {
                    out.push(Event::Done);
                }
            }
            "error" => {
                let message = frame.message.unwrap_or_else(|| json::describe_error(data));
                let message = match frame.code {
                    Some(code) => alloc::format!("{message} (code: {code})"),
                    None => message,
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
    delta: Option<String>,
    #[serde(borrow, default)]
    response: Option<Response<'a>>,
    /// An `error` event's fields.
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// A `response` object: in terminal events, or as a whole body.
#[derive(Deserialize)]
struct Response<'a> {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    output: Option<Vec<OutputItem>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    incomplete_details: Option<Incomplete>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct OutputItem {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    content: Option<Vec<Part>>,
    #[serde(default)]
    summary: Option<Vec<Part>>,
}

#[derive(Deserialize)]
struct Part {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Incomplete {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    input_tokens: TokenCount,
    #[serde(default)]
    output_tokens: TokenCount,
}

impl Response<'_> {
    /// The end of a response: its error; the finish reason (`stop` when
    /// completed, the incomplete reason such as `max_output_tokens`
    /// otherwise); usage; and, for a stream, `done`.
    fn end(self, out: &mut Vec<Event>, stream: bool) {
        if let Some(error) = self.error.filter(|e| e.get() != "null") {
            out.push(Event::Error(json::describe_error(error.get())));
        }
        let reason = match self.status.as_deref() {
            Some("completed") => Some("stop".to_owned()),
            Some("incomplete") => Some(
                self.incomplete_details
                    .and_then(|d| d.reason)
                    .unwrap_or_else(|| "incomplete".to_owned()),
            ),
            _ => None,
        };
        if let Some(reason) = reason {
            out.push(Event::Finish(reason));
        }
        if let Some(usage) = self.usage {
            let (prompt, completion) = (usage.input_tokens.0, usage.output_tokens.0);
            if prompt.is_some() || completion.is_some() {
                out.push(Event::Usage { prompt, completion });
            }
        }
        if stream {
            out.push(Event::Done);
        }
    }
}

guest_support::export_plugin!(OpenAiResponses);

#[cfg(test)]
mod tests {
    use super::*;
    use guest_support::ChatMessage;
    use guest_support::protocol::parse_frames;
    use serde_json::{Value, json};

    #[test]
    fn request_sends_input_and_budget() {
        let input = RequestInput {
            prompt: Prompt::Text("Hi"),
            max_tokens: Some(9),
            stream: true,
            params_json: r#"{"model": "gpt"}"#,
        };
        let req = OpenAiResponses::build_request(&input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.path, PATH);
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        assert_eq!(
            body,
            json!({"input": "Hi", "max_output_tokens": 9, "stream": true, "model": "gpt"})
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
        let req = OpenAiResponses::build_request(&input).unwrap_or_else(|e| panic!("{e}"));
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        assert_eq!(
            body,
            json!({"input": [{"role": "user", "content": "A"}], "stream": false})
        );
    }

    #[test]
    fn stream_gives_reasoning_text_and_terminal_events() {
        let frames = [
            (
                Some("response.created"),
                r#"{"type":"response.created","sequence_number":0,"response":{"id":"r","status":"in_progress","output":[]}}"#,
            ),
            (
                Some("response.reasoning_summary_text.delta"),
                r#"{"type":"response.reasoning_summary_text.delta","item_id":"rs","output_index":0,"summary_index":0,"delta":"Think","sequence_number":1}"#,
            ),
            (
                Some("response.output_text.delta"),
                r#"{"type":"response.output_text.delta","item_id":"m","output_index":1,"content_index":0,"delta":"Hi","sequence_number":2}"#,
            ),
            (
                Some("response.output_text.done"),
                r#"{"type":"response.output_text.done","text":"Hi","sequence_number":3}"#,
            ),
            (
                Some("response.incomplete"),
                r#"{"type":"response.incomplete","sequence_number":4,"response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"error":null,"usage":{"input_tokens":5,"output_tokens":2,"total_tokens":7}}}"#,
            ),
        ];
        assert_eq!(
            parse_frames::<Parser>(&frames),
            Ok(alloc::vec![
                Event::Reasoning("Think".into()),
                Event::Text("Hi".into()),
                Event::Finish("max_output_tokens".into()),
                Event::Usage {
                    prompt: Some(5),
                    completion: Some(2)
                },
                Event::Done,
            ])
        );
        let error = r#"{"type":"error","code":"server_error","message":"Overloaded","param":null,"sequence_number":3}"#;
        assert_eq!(
            parse_frames::<Parser>(&[(Some("error"), error)]),
            Ok(alloc::vec![Event::Error(
                "Overloaded (code: server_error)".into()
            )])
        );
        let failed = r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"boom"}}}"#;
        assert_eq!(
            parse_frames::<Parser>(&[(None, failed)]),
            Ok(alloc::vec![
                Event::Error("boom (code: server_error)".into()),
                Event::Done
            ])
        );
    }

    #[test]
    fn whole_response_reads_output_items() {
        let body = br#"{"id":"r","object":"response","status":"completed","output":[
            {"type":"reasoning","id":"rs","summary":[{"type":"summary_text","text":"Why"}]},
            {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Because","annotations":[]}]}],
            "usage":{"input_tokens":3,"output_tokens":4}}"#;
        assert_eq!(
            OpenAiResponses::parse_response(200, body),
            Ok(alloc::vec![
                Event::Reasoning("Why".into()),
                Event::Text("Because".into()),
                Event::Finish("stop".into()),
                Event::Usage {
                    prompt: Some(3),
                    completion: Some(4)
                },
            ])
        );
    }
}
