//! Non-streamed responses: a status and a whole body in, events out.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::event::{Event, preview};
use crate::wire;

/// Translates a whole `chat.completion` body with its HTTP status.
///
/// - 2xx: the message's reasoning and text, the finish reason and usage; an
///   error object in the body gives `error`. A body that is not a completion
///   is an `Err`.
/// - Other statuses: one `error`, `HTTP <status>: ` and the body's error
///   message, or the first 200 characters of the body when it has none.
pub fn parse_response(status: u16, body: &[u8]) -> Result<Vec<Event>, String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !(200..300).contains(&status) {
        let message = match wire::parse(text)
            .ok()
            .and_then(|doc| doc.error_message(text))
        {
            Some(message) => message,
            None if text.is_empty() => "(empty body)".to_owned(),
            None => preview(text, 200),
        };
        return Ok(vec![Event::Error(format!("HTTP {status}: {message}"))]);
    }
    let mut events = Vec::new();
    wire::parse(text)?.emit(text, &mut |e| events.push(e));
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_body_gives_text_finish_and_usage() {
        let body = br#"{"id":"c","object":"chat.completion","created":1,"model":"m",
            "choices":[{"index":0,"message":{"role":"assistant","content":"Hi there","tool_calls":[]},"logprobs":null,"finish_reason":"stop"}],
            "usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#;
        let expected = vec![
            Event::Text("Hi there".into()),
            Event::Finish("stop".into()),
            Event::Usage {
                prompt: Some(9),
                completion: Some(2),
            },
        ];
        assert_eq!(parse_response(200, body), Ok(expected));
    }

    #[test]
    fn reasoning_comes_before_text() {
        let body = br#"{"choices":[{"message":{"reasoning_content":"why","content":"because"},"finish_reason":"stop"}]}"#;
        let expected = vec![
            Event::Reasoning("why".into()),
            Event::Text("because".into()),
            Event::Finish("stop".into()),
        ];
        assert_eq!(parse_response(200, body), Ok(expected));
    }

    #[test]
    fn error_object_with_success_status_is_error() {
        let body = br#"{"error":{"message":"model not loaded"}}"#;
        assert_eq!(
            parse_response(200, body),
            Ok(vec![Event::Error("model not loaded".into())])
        );
    }

    #[test]
    fn error_status_with_error_object_names_status_and_message() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        let expected = "HTTP 429: Rate limit reached (type: requests, code: rate_limit_exceeded)";
        assert_eq!(
            parse_response(429, body),
            Ok(vec![Event::Error(expected.into())])
        );
        let body = br#"{"object":"error","message":"max_tokens too large","type":"BadRequestError","code":400}"#;
        let expected = "HTTP 400: max_tokens too large (type: BadRequestError, code: 400)";
        assert_eq!(
            parse_response(400, body),
            Ok(vec![Event::Error(expected.into())])
        );
    }

    #[test]
    fn error_status_without_error_object_quotes_the_body() {
        assert_eq!(
            parse_response(502, b"<html>Bad Gateway</html>"),
            Ok(vec![Event::Error(
                "HTTP 502: <html>Bad Gateway</html>".into()
            )])
        );
        assert_eq!(
            parse_response(500, br#"{"detail":"boom"}"#),
            Ok(vec![Event::Error(r#"HTTP 500: {"detail":"boom"}"#.into())])
        );
        assert_eq!(
            parse_response(503, b""),
            Ok(vec![Event::Error("HTTP 503: (empty body)".into())])
        );
        let long = "y".repeat(500);
        let expected = format!("HTTP 500: {}…", "y".repeat(200));
        assert_eq!(
            parse_response(500, long.as_bytes()),
            Ok(vec![Event::Error(expected)])
        );
    }

    #[test]
    fn invalid_utf8_is_quoted_lossily() {
        let events = parse_response(500, b"\xff\xfeoops").unwrap_or_default();
        assert_eq!(
            events,
            vec![Event::Error("HTTP 500: \u{fffd}\u{fffd}oops".into())]
        );
    }

    #[test]
    fn success_status_with_non_json_body_is_an_err() {
        assert_eq!(parse_response(200, b"OK"), Err("not JSON: OK".into()));
    }

    #[test]
    fn success_without_choices_gives_no_event() {
        assert_eq!(parse_response(200, br#"{"choices":[]}"#), Ok(vec![]));
    }
}
