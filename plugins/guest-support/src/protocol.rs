//! The plugin side of the contract in plain Rust: what a protocol implements
//! ([`Protocol`], [`StreamParse`]) and the data it sees, mirroring the WIT
//! types so the logic is testable natively. [`crate::export_plugin!`] turns
//! an implementation into the component's exports.

use alloc::string::String;
use alloc::vec::Vec;

use crate::event::Event;

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
    /// A plain prompt.
    Text(&'a str),
    /// Chat messages, sent as they are.
    Chat(Vec<ChatMessage<'a>>),
}

impl Prompt<'_> {
    /// The prompt as one text, for APIs that take a single string: a text
    /// prompt as it is, chat messages' contents joined by blank lines.
    pub fn flatten(&self) -> String {
        match self {
            Prompt::Text(text) => String::from(*text),
            Prompt::Chat(messages) => {
                let parts: Vec<&str> = messages.iter().map(|m| m.content).collect();
                parts.join("\n\n")
            }
        }
    }

    /// The prompt as `[{role, content}]` messages: a text prompt becomes one
    /// `user` message.
    pub fn messages(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Prompt::Text(text) => json!([{ "role": "user", "content": text }]),
            Prompt::Chat(messages) => messages
                .iter()
                .map(|m| json!({ "role": m.role, "content": m.content }))
                .collect(),
        }
    }
}

/// Everything one request is built from; mirrors the WIT `request-input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInput<'a> {
    /// The prompt.
    pub prompt: Prompt<'a>,
    /// The output token budget, when given.
    pub max_tokens: Option<u32>,
    /// Whether to ask for a streamed response.
    pub stream: bool,
    /// The scenario's `params`: a JSON object.
    pub params_json: &'a str,
}

/// The request to send; mirrors the WIT `http-request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `POST`, `GET`, ...
    pub method: &'static str,
    /// Path and query, joined to the target URL by the host.
    pub path: String,
    /// The headers the protocol needs.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A `POST` of a JSON body to `path`.
    pub fn post_json(path: impl Into<String>, body: Vec<u8>) -> Self {
        HttpRequest {
            method: "POST",
            path: path.into(),
            headers: alloc::vec![("content-type", String::from("application/json"))],
            body,
        }
    }
}

/// How the host frames a streamed body; mirrors the WIT `framing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Server-sent events.
    Sse,
    /// One frame per line.
    Ndjson,
    /// One frame per network read.
    Raw,
}

/// What a plugin says about itself (its version comes from its package).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// The built-in name (`ollama`).
    pub name: &'static str,
    /// The plugin's version: `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
    /// One line for `runner plugin list`.
    pub description: &'static str,
    /// The framing of streamed bodies.
    pub framing: Framing,
}

/// One model API.
pub trait Protocol {
    /// Name, version, description and framing.
    const INFO: Info;
    /// The parser of one streamed response.
    type Parser: StreamParse + Default;
    /// Builds the HTTP request for one input; an `Err` is a configuration
    /// problem (bad params).
    fn build_request(input: &RequestInput<'_>) -> Result<HttpRequest, String>;
    /// The events of a whole non-streamed body with its HTTP status.
    fn parse_response(status: u16, body: &[u8]) -> Result<Vec<Event>, String>;
}

/// The parser of one streamed response; it may keep state between frames.
pub trait StreamParse {
    /// Translates one frame (its SSE `event:` name and data) into events
    /// appended to `out`. An `Err` means the stream is not this protocol's.
    fn feed(&mut self, event: Option<&str>, data: &str, out: &mut Vec<Event>)
    -> Result<(), String>;
    /// Called once when the body ends; appends anything still held.
    fn finish(&mut self, _out: &mut Vec<Event>) -> Result<(), String> {
        Ok(())
    }
}

/// Feeds every frame of a whole body to a fresh parser and finishes it: a
/// test helper, and what a fixture runner does per network read.
pub fn parse_frames<P: StreamParse + Default>(
    frames: &[(Option<&str>, &str)],
) -> Result<Vec<Event>, String> {
    let mut parser = P::default();
    let mut out = Vec::new();
    for (event, data) in frames {
        parser.feed(*event, data, &mut out)?;
    }
    parser.finish(&mut out)?;
    Ok(out)
}
