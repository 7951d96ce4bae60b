//! `dashscope`: the protocol plugin for Alibaba Cloud DashScope's native
//! text-generation API (Qwen), `POST
//! /api/v1/services/aigc/text-generation/generation`, streamed as SSE with
//! `incremental_output` (each event carries only the new text) or answered
//! with one object.
//!
//! Every event repeats the cumulative `usage`; the stream parser keeps the
//! latest and reports it once, when the body ends, so counts are never
//! added up twice.

#![cfg_attr(all(target_arch = "wasm32", not(test)), no_std)]

extern crate alloc;

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use guest_support::json::{self, First, TokenCount};
use guest_support::params::{apply_params, parse_params, to_body};
use guest_support::{Event, Framing, HttpRequest, Info, Protocol, RequestInput, StreamParse};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The API path.
pub const PATH: &str = "/api/v1/services/aigc/text-generation/generation";

/// DashScope's native API.
pub struct DashScope;

impl Protocol for DashScope {
    const INFO: Info = Info {
        name: "dashscope",
        version: env!("CARGO_PKG_VERSION"),
        description: "DashScope (Qwen) native text generation, SSE with incremental_output",
        framing: Framing::Sse,
    };
    type Parser = Parser;

    /// `{"model", "input": {"messages": [...]}, "parameters": {...}}`: a
    /// text prompt is one `user` message; `parameters` holds `result_format:
    /// "message"`, `max_tokens` when given and, when streaming,
    /// `incremental_output: true`. The `model` param goes to the top level;
    /// every other param is set inside `parameters` (`null` removes one).
    /// Streaming adds the `X-DashScope-SSE: enable` header.
    fn build_request(input: &RequestInput<'_>) -> Result<HttpRequest, String> {
        let mut params = parse_params(input.params_json)?;
        let model = params.remove("model");
        let mut parameters = Map::new();
        parameters.insert("result_format".to_owned(), "message".into());
        if let Some(max) = input.max_tokens {
            parameters.insert("max_tokens".to_owned(), max.into());
        }
        if input.stream {
            parameters.insert("incremental_output".to_owned(), true.into());
        }
        apply_params(&mut parameters, params);
        let mut body = Map::new();
        if let Some(model) = model.filter(|m| !m.is_null()) {
            body.insert("model".to_owned(), model);
        }
        body.insert(
            "input".to_owned(),
            json!({ "messages": input.prompt.messages() }),
        );
        body.insert("parameters".to_owned(), Value::Object(parameters));
        let mut request = HttpRequest::post_json(PATH, to_body(&body)?);
        if input.stream {
            request
                .headers
                .push(("x-dashscope-sse", "enable".to_owned()));
        }
        Ok(request)
    }

    fn parse_response(status: u16, body: &[u8]) -> Result<Vec<Event>, String> {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if !(200..300).contains(&status) {
            return Ok(alloc::vec![Event::Error(json::http_error(status, text))]);
        }
        let mut parser = Parser::default();
        let mut events = Vec::new();
        parser.emit(text, &mut events)?;
        parser.finish(&mut events)?;
        Ok(events)
    }
}

/// The parser of one stream: the latest (cumulative) usage seen.
#[derive(Default)]
pub struct Parser {
    usage: Option<(Option<u32>, Option<u32>)>,
}

impl StreamParse for Parser {
    /// `event: error` is `error`; empty data is skipped; every other frame
    /// (`event: result`) is a generation chunk. The `:HTTP_STATUS/200` line
    /// DashScope sends is an SSE comment, which the host drops.
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
        self.emit(data, out)
    }

    /// Reports the last usage seen, once.
    fn finish(&mut self, out: &mut Vec<Event>) -> Result<(), String> {
        if let Some((prompt, completion)) = self.usage.take() {
            out.push(Event::Usage { prompt, completion });
        }
        Ok(())
    }
}

impl Parser {
    /// The events of one chunk: an error (`code` and `message` at the top
    /// level), reasoning, text and the finish reason; usage is kept.
    fn emit(&mut self, raw: &str, out: &mut Vec<Event>) -> Result<(), String> {
        let chunk: Chunk = json::parse(raw)?;
        if let Some(message) = chunk.message.filter(|_| chunk.output.is_none()) {
            let message = match chunk.code {
                Some(code) => alloc::format!("{message} (code: {code})"),
                None => message,
            };
            out.push(Event::Error(message));
        }
        if let Some(output) = chunk.output {
            let (text, reasoning, reason) = match output.choices {
                Some(First(Some(choice))) => {
                    let (text, reasoning) = match choice.message {
                        Some(m) => (m.content, m.reasoning_content),
                        None => (None, None),
                    };
                    (text, reasoning, choice.finish_reason)
                }
                _ => (output.text, None, output.finish_reason),
            };
            if let Some(reasoning) = reasoning.filter(|r| !r.is_empty()) {
                out.push(Event::Reasoning(reasoning));
            }
            if let Some(text) = text.filter(|t| !t.is_empty()) {
                out.push(Event::Text(text));
            }
            // Unfinished chunks carry `null` or the string "null".
            if let Some(reason) = reason.filter(|r| !r.is_empty() && r != "null") {
                out.push(Event::Finish(reason));
            }
        }
        if let Some(usage) = chunk.usage {
            let counts = (usage.input_tokens.0, usage.output_tokens.0);
            if counts.0.is_some() || counts.1.is_some() {
                self.usage = Some(counts);
            }
        }
        Ok(())
    }
}

/// One chunk, a whole response, or an error object.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    output: Option<Output>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct Output {
    /// `result_format: "message"`.
    #[serde(default)]
    choices: Option<First<Choice>>,
    /// `result_format: "text"`.
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    input_tokens: TokenCount,
    #[serde(default)]
    output_tokens: TokenCount,
}

guest_support::export_plugin!(DashScope);

#[cfg(test)]
mod tests {
    use super::*;
    use guest_support::Prompt;
    use guest_support::protocol::parse_frames;

    #[test]
    fn request_nests_input_and_parameters() {
        let input = RequestInput {
            prompt: Prompt::Text("Hi"),
            max_tokens: Some(8),
            stream: true,
            params_json: r#"{"model": "qwen-plus", "temperature": 0.1}"#,
        };
        let req = DashScope::build_request(&input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.path, PATH);
        assert!(
            req.headers
                .contains(&("x-dashscope-sse", "enable".to_owned()))
        );
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        assert_eq!(
            body,
            json!({"model": "qwen-plus",
                   "input": {"messages": [{"role": "user", "content": "Hi"}]},
                   "parameters": {"result_format": "message", "max_tokens": 8,
                                  "incremental_output": true, "temperature": 0.1}})
        );
        let input = RequestInput {
            stream: false,
            params_json: "{}",
            ..input
        };
        let req = DashScope::build_request(&input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.headers.len(), 1);
    }

    #[test]
    fn stream_reports_deltas_and_the_last_usage_once() {
        let chunk = |content: &str, reason: &str, out: u32| {
            alloc::format!(
                r#"{{"output":{{"choices":[{{"message":{{"content":"{content}","reasoning_content":"","role":"assistant"}},"finish_reason":"{reason}"}}]}},"usage":{{"total_tokens":{},"output_tokens":{out},"input_tokens":5}},"request_id":"r"}}"#,
                5 + out
            )
        };
        let (a, b) = (chunk("Hel", "null", 1), chunk("lo", "stop", 2));
        let frames = [(Some("result"), a.as_str()), (Some("result"), b.as_str())];
        assert_eq!(
            parse_frames::<Parser>(&frames),
            Ok(alloc::vec![
                Event::Text("Hel".into()),
                Event::Text("lo".into()),
                Event::Finish("stop".into()),
                Event::Usage {
                    prompt: Some(5),
                    completion: Some(2)
                },
            ])
        );
        let error = r#"{"code":"InvalidParameter","message":"Range of max_tokens should be [1, 8192]","request_id":"r"}"#;
        assert_eq!(
            parse_frames::<Parser>(&[(Some("error"), error)]),
            Ok(alloc::vec![Event::Error(
                "Range of max_tokens should be [1, 8192] (code: InvalidParameter)".into()
            )])
        );
    }

    #[test]
    fn whole_body_text_format_and_errors() {
        let body = br#"{"output":{"text":"All","finish_reason":"length"},"usage":{"input_tokens":2,"output_tokens":1},"request_id":"r"}"#;
        assert_eq!(
            DashScope::parse_response(200, body),
            Ok(alloc::vec![
                Event::Text("All".into()),
                Event::Finish("length".into()),
                Event::Usage {
                    prompt: Some(2),
                    completion: Some(1)
                },
            ])
        );
        assert_eq!(
            DashScope::parse_response(401, br#"{"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"r"}"#),
            Ok(alloc::vec![Event::Error("HTTP 401: Invalid API-key provided. (code: InvalidApiKey)".into())])
        );
    }
}
