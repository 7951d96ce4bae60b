//! The OpenAI chat-completions wire format, as far as this plugin reads it.
//!
//! A streamed chunk (`chat.completion.chunk`) and a whole response
//! (`chat.completion`) share one shape here: `choices[0]` carries a `delta` in
//! the first and a `message` in the second, and either may carry `usage` or an
//! `error`. The structs declare only the fields the plugin uses, so serde
//! skips the rest without building anything, and they avoid
//! `serde_json::Value` because `feed` runs once per streamed frame.

use alloc::format;
use alloc::string::String;

use guest_support::json::{First, TokenCount};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::event::{Event, preview};

pub use guest_support::json::describe_error;

/// A chunk or a whole response.
#[derive(Deserialize)]
pub struct Completion<'a> {
    /// Only the first choice is read; the rest are skipped unparsed.
    #[serde(default)]
    choices: Option<First<Choice>>,
    /// Token counts; servers send it on the last chunk, or `null` on each.
    #[serde(default)]
    usage: Option<Usage>,
    /// An error object (`{"message": ..}`) or string, kept raw: it is rare,
    /// and its shape varies between servers.
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    /// `"error"` when the whole document is an error object (vLLM's
    /// `{"object": "error", "message": ..}`).
    #[serde(borrow, default)]
    object: Option<&'a RawValue>,
}

/// One choice of a chunk or response.
#[derive(Deserialize)]
struct Choice {
    /// The streamed delta.
    #[serde(default)]
    delta: Option<Message>,
    /// The whole message of a non-streamed response.
    #[serde(default)]
    message: Option<Message>,
    /// Set on the choice's last chunk.
    #[serde(default)]
    finish_reason: Option<String>,
}

/// The text fields of a delta or message.
#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    /// DeepSeek, vLLM and SGLang name it so.
    #[serde(default)]
    reasoning_content: Option<String>,
    /// Newer vLLM and OpenRouter name it so.
    #[serde(default)]
    reasoning: Option<String>,
}

/// The token counts of a `usage` object.
#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: TokenCount,
    #[serde(default)]
    completion_tokens: TokenCount,
}

impl<'a> Completion<'a> {
    /// Emits the events this chunk or response holds, in the order a reader
    /// meets them: an error, reasoning, text, the finish reason, then usage.
    ///
    /// `raw` is the whole document, read again only when it is itself an
    /// error object. When both `reasoning_content` and `reasoning` are set
    /// (some servers send both names for one delta) only the first counts, so
    /// nothing is counted twice.
    pub fn emit(self, raw: &str, emit: &mut impl FnMut(Event)) {
        if let Some(message) = self.error_message(raw) {
            emit(Event::Error(message));
        }
        if let Some(First(Some(choice))) = self.choices {
            if let Some(msg) = choice.delta.or(choice.message) {
                let reasoning =
                    non_empty(msg.reasoning_content).or_else(|| non_empty(msg.reasoning));
                if let Some(reasoning) = reasoning {
                    emit(Event::Reasoning(reasoning));
                }
                if let Some(text) = non_empty(msg.content) {
                    emit(Event::Text(text));
                }
            }
            if let Some(reason) = choice.finish_reason {
                emit(Event::Finish(reason));
            }
        }
        if let Some(usage) = self.usage {
            let (prompt, completion) = (usage.prompt_tokens.0, usage.completion_tokens.0);
            if prompt.is_some() || completion.is_some() {
                emit(Event::Usage { prompt, completion });
            }
        }
    }

    /// The message of the document's error object, if it carries one;
    /// `raw` is the whole document.
    pub fn error_message(&self, raw: &str) -> Option<String> {
        if let Some(error) = self.error {
            Some(describe_error(error.get()))
        } else if self.object.is_some_and(|o| o.get() == "\"error\"") {
            Some(describe_error(raw))
        } else {
            None
        }
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// Parses a chunk or response, naming the problem when it is not one:
/// `not JSON: ..` for a syntax error, `unexpected JSON: ..` for a valid
/// document of the wrong shape.
pub fn parse(raw: &str) -> Result<Completion<'_>, String> {
    serde_json::from_str(raw).map_err(|e| {
        if e.is_data() {
            format!("unexpected JSON ({e}): {}", preview(raw, 100))
        } else {
            format!("not JSON: {}", preview(raw, 100))
        }
    })
}
