//! Whole (non-streamed) OpenAI answers, with their injected faults, and the
//! HTTP error answers every fault draw can give.

use std::io;

use axum::Json;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::faults::{FAULT_MESSAGE, Fault, INVALID_UTF8_LITERAL, error_object, huge_literal};
use super::request::{FinishReason, ParsedRequest};
use super::response::{ResponseMeta, error_response, full_body};

/// A stand-in for the bytes that are not UTF-8 in a body built by
/// `serde_json`, which only writes valid UTF-8; swapped for them after.
const INVALID_UTF8_MARK: &str = "\u{1}mock-invalid-utf8\u{1}";

/// The answer to `error_rate`: `status` with an OpenAI error body.
pub(crate) fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error_response(status, "server_error", FAULT_MESSAGE, None)
}

/// The answer to `rate_limit_rate`: 429, `Retry-After: 1`, and OpenAI's
/// rate-limit error body.
pub(crate) fn rate_limited() -> Response {
    let mut response = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        "mock fault: rate limit reached; retry after 1 s",
        None,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

/// The whole body of a response holding `text`, with `fault`'s change:
///
/// - empty: content `""` and no completion tokens;
/// - error event: a 200 whose body is an OpenAI error object;
/// - malformed: the first half of the JSON;
/// - drop: the first half of the JSON, then the connection closes;
/// - invalid UTF-8: bytes 0xFF 0xFE at the end of the content;
/// - huge line: 10 MiB of text as the content (past the runner's 8 MiB
///   limit on a whole body).
///
/// Stalls and HTTP errors are applied before the body is built.
pub(crate) fn body(
    req: &ParsedRequest,
    meta: &ResponseMeta,
    text: &str,
    tokens: u32,
    finish: FinishReason,
    fault: Option<Fault>,
) -> Response {
    let json = |text: &str, tokens: u32, finish: FinishReason| {
        // Serializing a `Value` to bytes cannot fail.
        serde_json::to_vec(&full_body(req, meta, text, tokens, finish)).unwrap_or_default()
    };
    let json_response =
        |bytes: Vec<u8>| ([(header::CONTENT_TYPE, "application/json")], bytes).into_response();
    match fault {
        Some(Fault::Empty) => Json(full_body(req, meta, "", 0, FinishReason::Stop)).into_response(),
        Some(Fault::ErrorEvent) => json_response(error_object().into_bytes()),
        Some(Fault::Malformed) => {
            let mut bytes = json(text, tokens, finish);
            bytes.truncate(bytes.len() / 2);
            json_response(bytes)
        }
        Some(Fault::Drop) => {
            let mut bytes = json(text, tokens, finish);
            bytes.truncate(bytes.len() / 2);
            let parts: [io::Result<Bytes>; 2] = [
                Ok(Bytes::from(bytes)),
                Err(io::Error::other("mock fault: connection dropped mid-body")),
            ];
            let body = Body::from_stream(futures_util::stream::iter(parts));
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Some(Fault::InvalidUtf8) => {
            let marked = format!("{text}{INVALID_UTF8_MARK}");
            let bytes = json(&marked, tokens, finish);
            let mark = serde_json::to_string(INVALID_UTF8_MARK).unwrap_or_default();
            // The mark's escaped form, without its quotes.
            let mark = mark.trim_matches('"').as_bytes();
            let invalid = INVALID_UTF8_LITERAL.strip_prefix(b"\"").unwrap_or_default();
            let invalid = invalid.strip_suffix(b"\"").unwrap_or_default();
            json_response(replace(&bytes, mark, invalid))
        }
        Some(Fault::HugeLine) => {
            let literal = huge_literal();
            // The literal is ASCII `x`s between quotes.
            let huge = std::str::from_utf8(&literal[1..literal.len() - 1]).unwrap_or_default();
            json_response(json(huge, tokens, finish))
        }
        None
        | Some(Fault::Error(_) | Fault::RateLimit | Fault::StallFirst(_) | Fault::StallMid(_)) => {
            json_response(json(text, tokens, finish))
        }
    }
}

/// `haystack` with the first `from` replaced by `to`.
fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    match haystack.windows(from.len()).position(|w| w == from) {
        Some(at) => [&haystack[..at], to, &haystack[at + from.len()..]].concat(),
        None => haystack.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::request::{Endpoint, parse_request};
    use serde_json::Value;

    async fn bytes_of(fault: Option<Fault>) -> (u16, Vec<u8>) {
        let req =
            parse_request(Endpoint::Chat, br#"{"messages":[{"content":"hi"}]}"#).expect("valid");
        let meta = ResponseMeta::new(Endpoint::Chat, 0, 0);
        let response = body(&req, &meta, "ab", 2, FinishReason::Stop, fault);
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        (status, bytes)
    }

    fn content(bytes: &[u8]) -> Value {
        let v: Value = serde_json::from_slice(bytes).expect("json");
        v["choices"][0]["message"]["content"].clone()
    }

    #[tokio::test]
    async fn each_fault_changes_the_body_as_documented() {
        let (status, clean) = bytes_of(None).await;
        assert_eq!((status, content(&clean)), (200, Value::from("ab")));
        let (_, empty) = bytes_of(Some(Fault::Empty)).await;
        assert_eq!(content(&empty), Value::from(""));
        let (status, error) = bytes_of(Some(Fault::ErrorEvent)).await;
        assert_eq!(status, 200);
        let error: Value = serde_json::from_slice(&error).expect("json");
        assert_eq!(error["error"]["message"], FAULT_MESSAGE);
        let (_, malformed) = bytes_of(Some(Fault::Malformed)).await;
        assert!(serde_json::from_slice::<Value>(&malformed).is_err());
        assert!(clean.starts_with(&malformed));
        let (_, invalid) = bytes_of(Some(Fault::InvalidUtf8)).await;
        assert!(std::str::from_utf8(&invalid).is_err());
        let lossy = String::from_utf8_lossy(&invalid).into_owned();
        let v: Value = serde_json::from_str(&lossy).expect("json but for the bad bytes");
        assert_eq!(v["choices"][0]["message"]["content"], "ab\u{FFFD}\u{FFFD}");
        let (_, huge) = bytes_of(Some(Fault::HugeLine)).await;
        assert_eq!(
            content(&huge).as_str().map(str::len),
            Some(super::super::faults::HUGE_LINE_BYTES)
        );
    }

    #[test]
    fn errors_carry_their_status_and_retry_after() {
        assert_eq!(server_error(503).status(), 503);
        let limited = rate_limited();
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.headers()[header::RETRY_AFTER], "1");
    }
}
