//! One record per request: every timestamp the metrics need, and the outcome.
//!
//! Times are nanoseconds on the run's monotonic clock (see [`crate::clock`]),
//! taken when bytes come off the socket, before any parsing. Every metric in
//! DESIGN.md's table is a function of these fields, so nothing needs a re-run.

use serde::{Deserialize, Serialize};

/// One content event: when it arrived and how many chars (Unicode scalar
/// values) of visible text it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentEvent {
    /// Arrival time, ns on the run clock.
    pub at: u64,
    /// Chars of content text in this event.
    pub chars: u32,
}

/// Token counts as the server reported them in `usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt (input) tokens.
    pub prompt_tokens: Option<u32>,
    /// Completion (output) tokens.
    pub completion_tokens: Option<u32>,
}

/// Why a request failed. The names are stable: they appear in results.json,
/// requests.jsonl and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The TCP/TLS connection could not be made.
    Connect,
    /// The connection was not made within `timeouts.connect`.
    TimeoutConnect,
    /// No content arrived within `timeouts.first_token` of the send.
    TimeoutFirstToken,
    /// The stream went silent for longer than `timeouts.idle`.
    TimeoutIdle,
    /// The request took longer than `timeouts.total`.
    TimeoutTotal,
    /// The server answered with a non-2xx status (the code is in `Sample::status`).
    Http,
    /// The server sent an error inside the stream or body.
    StreamError,
    /// The connection broke before the stream ended.
    StreamDropped,
    /// The response ended without any content.
    Empty,
    /// The response is not the protocol: the plugin rejected it, or the
    /// body could not be read as text frames (bytes that are not UTF-8, a
    /// line or a whole body longer than the line limit).
    Protocol,
    /// The plugin trapped (a bug or a sandbox violation in the plugin).
    PluginFault,
    /// The request was still running when the run was stopped.
    Cancelled,
}

impl ErrorClass {
    /// The class name as reports print it; `http` carries its status
    /// (`http_503`).
    pub fn label(self, status: Option<u16>) -> String {
        match (self, status) {
            (ErrorClass::Http, Some(code)) => format!("http_{code}"),
            _ => self.as_str().to_string(),
        }
    }

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Connect => "connect",
            ErrorClass::TimeoutConnect => "timeout_connect",
            ErrorClass::TimeoutFirstToken => "timeout_first_token",
            ErrorClass::TimeoutIdle => "timeout_idle",
            ErrorClass::TimeoutTotal => "timeout_total",
            ErrorClass::Http => "http",
            ErrorClass::StreamError => "stream_error",
            ErrorClass::StreamDropped => "stream_dropped",
            ErrorClass::Empty => "empty",
            ErrorClass::Protocol => "protocol",
            ErrorClass::PluginFault => "plugin_fault",
            ErrorClass::Cancelled => "cancelled",
        }
    }
}

/// A failed request: its class and the message that explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The error class.
    pub class: ErrorClass,
    /// What went wrong, as the server, the network or the plugin said it.
    pub message: String,
}

/// Everything recorded about one request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Index of the load level (0-based) the request belongs to.
    pub level: u32,
    /// The closed-loop user that sent it; open loop: the in-flight slot it
    /// held (the lowest number free when it was sent).
    pub user: u32,
    /// Index of the dataset item sent.
    pub item: u32,
    /// Turn index within a multi-turn session (0: the first, or a single
    /// request).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub turn: u32,
    /// When the request was due: for a closed-loop user, when it became free.
    pub planned: u64,
    /// When the request was handed to the HTTP client.
    pub sent: u64,
    /// When the response headers arrived.
    pub headers: Option<u64>,
    /// When the first body bytes arrived.
    pub first_byte: Option<u64>,
    /// When the first data event (any event the plugin recognised) arrived.
    pub first_event: Option<u64>,
    /// Every content event, in order.
    pub content: Vec<ContentEvent>,
    /// Chars of reasoning text (not counted as content).
    pub reasoning_chars: u64,
    /// Token counts the server reported.
    pub usage: Option<Usage>,
    /// Why generation stopped, as the server said.
    pub finish_reason: Option<String>,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// When the request ended (success or failure).
    pub end: u64,
    /// `None` for a success.
    pub failure: Option<Failure>,
    /// Output tokens of the whole reply by the scenario's `tokenizer.json`
    /// (special tokens excluded), counted after the request ended; `None`
    /// without a tokenizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_tokens: Option<u32>,
    /// The reply's content text, kept only while a later stage needs it
    /// ([`crate::executor::RunContext::keep_text`]); never written out.
    #[serde(skip)]
    pub text: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Sample {
    /// Whether the request succeeded.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// Total content chars.
    pub fn chars(&self) -> u64 {
        self.content.iter().map(|e| u64::from(e.chars)).sum()
    }
}
