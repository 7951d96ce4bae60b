//! The OpenAI chat-completions wire format, as far as this plugin reads it.
//!
//! A streamed chunk (`chat.completion.chunk`) and a whole response
//! (`chat.completion`) share one shape here: `choices[0]` carries a `delta` in
//! the first and a `message` in the second, and either may carry `usage` or an
//! `error`. The structs declare only the fields the plugin uses, so serde
//! skips the rest without building anything, and they avoid
//! `serde_json::Value` because `feed` runs once per streamed frame.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::event::{Event, preview};

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

/// A readable message from an error value: a string as it is; an object's
/// `message` with its `type` and `code` when present; anything else quoted.
/// Runs only on the error path, so it may use `Value`.
pub fn describe_error(raw: &str) -> String {
    use serde_json::Value;
    let value: Value = match serde_json::from_str(raw) {
        Ok(v) => v,
        Err(_) => return preview(raw.trim(), 200),
    };
    match &value {
        Value::String(s) => s.clone(),
        Value::Object(map) => {
            // `{"error": {...}}` sent on an `event: error` frame: unwrap it.
            if let Some(inner) = map.get("error").filter(|v| !v.is_null()) {
                return describe_error(&inner.to_string());
            }
            let Some(message) = map.get("message").and_then(Value::as_str) else {
                return preview(raw.trim(), 200);
            };
            let mut details = Vec::new();
            for key in ["type", "code"] {
                match map.get(key) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => details.push(format!("{key}: {s}")),
                    Some(other) => details.push(format!("{key}: {other}")),
                }
            }
            if details.is_empty() {
                message.to_owned()
            } else {
                format!("{message} ({})", details.join(", "))
            }
        }
        _ => preview(raw.trim(), 200),
    }
}

/// The first element of a JSON array; the others are skipped without being
/// collected (no `Vec` per chunk).
struct First<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct FirstVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for FirstVisitor<T> {
            type Value = First<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<First<T>, A::Error> {
                let first = seq.next_element()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(First(first))
            }
        }
        de.deserialize_seq(FirstVisitor(PhantomData))
    }
}

/// A token count: any JSON number or `null`. A count that is negative,
/// fractional or beyond `u32` is treated as absent rather than failing the
/// whole chunk over a field the load test only reports.
#[derive(Default)]
struct TokenCount(Option<u32>);

impl<'de> Deserialize<'de> for TokenCount {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl Visitor<'_> for CountVisitor {
            type Value = TokenCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a token count")
            }
            fn visit_u64<E>(self, v: u64) -> Result<TokenCount, E> {
                Ok(TokenCount(u32::try_from(v).ok()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<TokenCount, E> {
                Ok(TokenCount(u32::try_from(v).ok()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<TokenCount, E> {
                // `as` saturates, so a value that survives the round trip is
                // a whole number within range (`f64::fract` is not in core).
                let count = v as u32;
                Ok(TokenCount((f64::from(count) == v).then_some(count)))
            }
            fn visit_unit<E>(self) -> Result<TokenCount, E> {
                Ok(TokenCount(None))
            }
            fn visit_none<E>(self) -> Result<TokenCount, E> {
                Ok(TokenCount(None))
            }
        }
        de.deserialize_any(CountVisitor)
    }
}
