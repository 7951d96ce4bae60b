//! The plugins' own view of the contract's events, free of generated binding
//! types so the translation logic can be unit-tested on the host target.
//! [`crate::export_plugin!`] converts them at the component boundary.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;

/// What the plugin found in a response; mirrors the WIT `event` variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A content delta: text the user sees.
    Text(String),
    /// A reasoning delta (`reasoning_content`, `thinking`, ...).
    Reasoning(String),
    /// Token counts the server reported.
    Usage {
        /// Prompt (input) tokens.
        prompt: Option<u32>,
        /// Completion (output) tokens.
        completion: Option<u32>,
    },
    /// Why generation stopped (`stop`, `length`, ...).
    Finish(String),
    /// An error the server sent inside the stream or body.
    Error(String),
    /// The stream's explicit end marker (`[DONE]`, `message_stop`, ...).
    Done,
}

/// The first `max` characters of `s` (not bytes, so a multi-byte character is
/// never split), with `…` appended when something was cut. Used to quote
/// unexpected server data in error messages without flooding the log.
pub fn preview(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::preview;

    #[test]
    fn preview_keeps_short_text_and_cuts_long_text_on_char_boundaries() {
        assert_eq!(preview("abc", 3), "abc");
        assert_eq!(preview("abcd", 3), "abc…");
        assert_eq!(preview("ééé", 2), "éé…");
        assert_eq!(preview("", 5), "");
    }
}
