//! Streamed responses: one SSE frame in, zero or more events out.

use alloc::borrow::ToOwned;
use alloc::string::String;

use crate::event::Event;
use crate::wire;

/// Translates one SSE frame (`event:` name and joined `data:`) into events.
///
/// - `[DONE]` gives `done`; empty data gives nothing (keep-alives).
/// - An `event: error` frame gives `error`, whatever its data looks like.
/// - Any other data must be a JSON chunk; its error object, reasoning, text,
///   finish reason and usage become events. A role-only first chunk gives none.
///
/// An `Err` means the data is not a chat-completions chunk at all.
pub fn feed_frame(
    event: Option<&str>,
    data: &str,
    emit: &mut impl FnMut(Event),
) -> Result<(), String> {
    let trimmed = data.trim();
    if event == Some("error") {
        let message = if trimmed.is_empty() {
            "the server sent an error event with no data".to_owned()
        } else {
            wire::describe_error(trimmed)
        };
        emit(Event::Error(message));
        return Ok(());
    }
    if trimmed.is_empty() {
        return Ok(());
    }
    if trimmed == "[DONE]" {
        emit(Event::Done);
        return Ok(());
    }
    wire::parse(trimmed)?.emit(trimmed, emit);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(event: Option<&str>, data: &str) -> Result<Vec<Event>, String> {
        let mut out = Vec::new();
        feed_frame(event, data, &mut |e| out.push(e))?;
        Ok(out)
    }

    fn text(s: &str) -> Event {
        Event::Text(s.to_owned())
    }

    #[test]
    fn content_delta_is_text() {
        let data = r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel\"lo\n"},"logprobs":null,"finish_reason":null}]}"#;
        assert_eq!(feed(None, data), Ok(vec![text("Hel\"lo\n")]));
    }

    #[test]
    fn role_only_first_chunk_gives_no_event() {
        let data = r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
        assert_eq!(feed(None, data), Ok(vec![]));
        let data = r#"{"choices":[{"index":0,"delta":{"role":"assistant"}}]}"#;
        assert_eq!(feed(None, data), Ok(vec![]));
    }

    #[test]
    fn reasoning_content_and_reasoning_are_reasoning_counted_once() {
        let data = r#"{"choices":[{"delta":{"reasoning_content":"think"}}]}"#;
        assert_eq!(feed(None, data), Ok(vec![Event::Reasoning("think".into())]));
        let data = r#"{"choices":[{"delta":{"reasoning":"hmm","content":null}}]}"#;
        assert_eq!(feed(None, data), Ok(vec![Event::Reasoning("hmm".into())]));
        let data = r#"{"choices":[{"delta":{"reasoning_content":"a","reasoning":"a"}}]}"#;
        assert_eq!(feed(None, data), Ok(vec![Event::Reasoning("a".into())]));
        let data = r#"{"choices":[{"delta":{"reasoning_content":"","reasoning":"b"}}]}"#;
        assert_eq!(feed(None, data), Ok(vec![Event::Reasoning("b".into())]));
    }

    #[test]
    fn finish_reason_is_finish_after_the_last_text() {
        let data = r#"{"choices":[{"index":0,"delta":{"content":"."},"finish_reason":"length"}]}"#;
        assert_eq!(
            feed(None, data),
            Ok(vec![text("."), Event::Finish("length".into())])
        );
    }

    #[test]
    fn usage_only_last_chunk_is_usage() {
        let data = r#"{"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"total_tokens":17,"completion_tokens":5,"prompt_tokens_details":null}}"#;
        let usage = Event::Usage {
            prompt: Some(12),
            completion: Some(5),
        };
        assert_eq!(feed(None, data), Ok(vec![usage]));
    }

    #[test]
    fn null_or_countless_usage_gives_no_event() {
        let data = r#"{"choices":[{"delta":{"content":"x"}}],"usage":null}"#;
        assert_eq!(feed(None, data), Ok(vec![text("x")]));
        let data = r#"{"choices":[],"usage":{"total_tokens":3}}"#;
        assert_eq!(feed(None, data), Ok(vec![]));
    }

    #[test]
    fn odd_token_counts_are_absent_not_fatal() {
        let data = r#"{"usage":{"prompt_tokens":7.0,"completion_tokens":-1}}"#;
        let usage = Event::Usage {
            prompt: Some(7),
            completion: None,
        };
        assert_eq!(feed(None, data), Ok(vec![usage]));
        let data = r#"{"usage":{"prompt_tokens":1.5,"completion_tokens":99999999999}}"#;
        assert_eq!(feed(None, data), Ok(vec![]));
    }

    #[test]
    fn only_the_first_choice_is_read() {
        let data = r#"{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}"#;
        assert_eq!(feed(None, data), Ok(vec![text("a")]));
    }

    #[test]
    fn done_marker_is_done() {
        assert_eq!(feed(None, "[DONE]"), Ok(vec![Event::Done]));
        assert_eq!(feed(None, " [DONE]\n"), Ok(vec![Event::Done]));
    }

    #[test]
    fn empty_data_is_skipped() {
        assert_eq!(feed(None, ""), Ok(vec![]));
        assert_eq!(feed(None, " \n"), Ok(vec![]));
    }

    #[test]
    fn error_object_in_data_is_error() {
        let data =
            r#"{"error":{"message":"context too long","type":"BadRequestError","code":400}}"#;
        let expected = Event::Error("context too long (type: BadRequestError, code: 400)".into());
        assert_eq!(feed(None, data), Ok(vec![expected]));
        let data = r#"{"error":"overloaded"}"#;
        assert_eq!(
            feed(None, data),
            Ok(vec![Event::Error("overloaded".into())])
        );
        let data = r#"{"object":"error","message":"bad","type":"x","code":null}"#;
        assert_eq!(
            feed(None, data),
            Ok(vec![Event::Error("bad (type: x)".into())])
        );
    }

    #[test]
    fn error_event_frame_is_error_whatever_its_data() {
        let json = r#"{"error":{"message":"server crashed"}}"#;
        assert_eq!(
            feed(Some("error"), json),
            Ok(vec![Event::Error("server crashed".into())])
        );
        let json = r#"{"message":"kv cache full","code":"oom"}"#;
        assert_eq!(
            feed(Some("error"), json),
            Ok(vec![Event::Error("kv cache full (code: oom)".into())])
        );
        assert_eq!(
            feed(Some("error"), "plain words"),
            Ok(vec![Event::Error("plain words".into())])
        );
        let empty = feed(Some("error"), "").unwrap_or_default();
        assert!(matches!(empty.as_slice(), [Event::Error(m)] if m.contains("no data")));
    }

    #[test]
    fn error_object_without_message_is_quoted() {
        let data = r#"{"error":{"code":503}}"#;
        assert_eq!(
            feed(None, data),
            Ok(vec![Event::Error(r#"{"code":503}"#.into())])
        );
    }

    #[test]
    fn other_event_names_are_parsed_as_chunks() {
        let data = r#"{"choices":[{"delta":{"content":"x"}}]}"#;
        assert_eq!(feed(Some("message"), data), Ok(vec![text("x")]));
    }

    #[test]
    fn non_json_data_is_an_error_quoting_it() {
        let err = feed(None, "<html>Bad Gateway</html>");
        assert_eq!(err, Err("not JSON: <html>Bad Gateway</html>".into()));
        let long = "x".repeat(300);
        let err = feed(None, &long).err().unwrap_or_default();
        assert_eq!(err, format!("not JSON: {}…", "x".repeat(100)));
    }

    #[test]
    fn json_of_the_wrong_shape_is_an_error() {
        let err = feed(None, "[1,2]").err().unwrap_or_default();
        assert!(err.starts_with("unexpected JSON ("), "{err}");
        let err = feed(None, r#"{"choices":[{"delta":{"content":5}}]}"#)
            .err()
            .unwrap_or_default();
        assert!(err.contains("invalid type"), "{err}");
    }
}
