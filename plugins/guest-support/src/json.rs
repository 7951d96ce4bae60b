//! JSON helpers every JSON-speaking plugin shares: parsing with a quoted
//! preview on failure, lenient token counts, the first element of an array,
//! and a readable message from an error value.
//!
//! `feed` runs once per streamed frame, so plugins parse frames into small
//! `#[derive(Deserialize)]` structs that name only the fields they read;
//! these helpers keep that cheap (no `serde_json::Value` on the hot path).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};

use crate::event::preview;

/// Parses `raw` into `T`, naming the problem when it is not one: `not JSON:
/// ..` for a syntax error, `unexpected JSON (..): ..` for a valid document of
/// the wrong shape, each quoting the first 100 characters.
pub fn parse<'a, T: Deserialize<'a>>(raw: &'a str) -> Result<T, String> {
    serde_json::from_str(raw).map_err(|e| {
        if e.is_data() {
            format!("unexpected JSON ({e}): {}", preview(raw, 100))
        } else {
            format!("not JSON: {}", preview(raw, 100))
        }
    })
}

/// A readable message from an error value: a string as it is; an object's
/// `message` (or `error` string) with its `type` and `code` when present; an
/// `{"error": {...}}` wrapper unwrapped; anything else quoted (200
/// characters at most). Runs only on the error path, so it may use `Value`.
pub fn describe_error(raw: &str) -> String {
    use serde_json::Value;
    let value: Value = match serde_json::from_str(raw) {
        Ok(v) => v,
        Err(_) => return preview(raw.trim(), 200),
    };
    match &value {
        Value::String(s) => s.clone(),
        Value::Object(map) => {
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

/// One `error` event for a non-2xx response: `HTTP <status>: ` and the
/// body's error message ([`describe_error`]), or `(empty body)`.
pub fn http_error(status: u16, body: &str) -> String {
    let body = body.trim();
    let message = if body.is_empty() {
        "(empty body)".to_owned()
    } else {
        describe_error(body)
    };
    format!("HTTP {status}: {message}")
}

/// The first element of a JSON array; the others are skipped without being
/// collected (no `Vec` per chunk).
pub struct First<T>(pub Option<T>);

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
/// whole frame over a field the load test only reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TokenCount(pub Option<u32>);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        #[serde(default)]
        n: TokenCount,
        #[serde(default)]
        first: Option<First<u32>>,
    }

    #[test]
    fn token_counts_are_lenient() {
        let n = |raw: &str| parse::<Doc>(raw).map(|d| d.n.0);
        assert_eq!(n(r#"{"n": 5}"#), Ok(Some(5)));
        assert_eq!(n(r#"{"n": 5.0}"#), Ok(Some(5)));
        assert_eq!(n(r#"{"n": 5.5}"#), Ok(None));
        assert_eq!(n(r#"{"n": -1}"#), Ok(None));
        assert_eq!(n(r#"{"n": null}"#), Ok(None));
        assert_eq!(n(r#"{}"#), Ok(None));
    }

    #[test]
    fn first_takes_the_first_element_only() {
        let doc: Doc = parse(r#"{"first": [7, 8, 9]}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc.first.and_then(|f| f.0), Some(7));
        let doc: Doc = parse(r#"{"first": []}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc.first.and_then(|f| f.0), None);
    }

    #[test]
    fn parse_errors_name_syntax_and_shape() {
        let err = parse::<Doc>("{oops").err().unwrap_or_default();
        assert_eq!(err, "not JSON: {oops");
        let err = parse::<Doc>(r#"{"n": "x"}"#).err().unwrap_or_default();
        assert!(err.starts_with("unexpected JSON ("), "{err}");
    }

    #[test]
    fn errors_are_described_readably() {
        assert_eq!(describe_error(r#""boom""#), "boom");
        assert_eq!(
            describe_error(r#"{"error":{"message":"m","type":"t","code":3}}"#),
            "m (type: t, code: 3)"
        );
        assert_eq!(describe_error(r#"{"error":"overloaded"}"#), "overloaded");
        assert_eq!(describe_error("plain text"), "plain text");
        assert_eq!(http_error(503, ""), "HTTP 503: (empty body)");
        assert_eq!(
            http_error(400, r#"{"error":"bad input","error_type":"validation"}"#),
            "HTTP 400: bad input"
        );
    }
}
