//! The one module that knows the YAML crate (`serde-saphyr`).
//!
//! It turns text into a [`Node`] tree with positions, or a syntax error with
//! one. Everything after this (structure check, typed pass, validation) works
//! on the tree, so swapping the YAML crate means rewriting this file only.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DefaultMessageFormatter, Location, MessageFormatter, Spanned};

use super::tree::{Kind, Node, Pos};

/// A YAML syntax error (or a document the tree cannot hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The parser's message, without location.
    pub message: String,
    /// How to fix it.
    pub help: String,
    /// Where, when the parser knows.
    pub pos: Option<Pos>,
}

/// Parses one YAML document. An empty document (or one with only comments)
/// is an empty mapping, so a blank scenario gets the usual "missing" errors.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    match serde_saphyr::from_str::<Spanned<Raw>>(text) {
        Ok(spanned) => {
            let node = convert(text, spanned);
            if node.kind == Kind::Null {
                Ok(Node {
                    pos: Pos { line: 1, col: 1 },
                    kind: Kind::Map(Vec::new()),
                })
            } else {
                Ok(node)
            }
        }
        Err(error) => {
            let inner = error.without_snippet();
            let raw_message = DefaultMessageFormatter.format_message(inner).to_string();
            let (message, help) = explain(&raw_message);
            Err(SyntaxError {
                message,
                help,
                pos: error.location().map(|l| pos_of(&l)),
            })
        }
    }
}

/// Rewords the parser messages that speak of the library's own options, and
/// gives each a fix.
fn explain(raw: &str) -> (String, String) {
    if let Some(key) = raw.strip_prefix("duplicate mapping key: ") {
        let key = key.split(", set ").next().unwrap_or(key);
        return (
            format!("the key `{key}` appears twice in this mapping"),
            "keep one of the two entries".to_string(),
        );
    }
    if raw.starts_with("multiple YAML documents") {
        return (
            "the file holds more than one YAML document".to_string(),
            "a scenario is one document: remove the `---` separator and what follows, or split the file"
                .to_string(),
        );
    }
    (
        format!("invalid YAML: {raw}"),
        "fix the YAML syntax here: check the indentation (spaces, not tabs), the `key: value` colons, and that quotes and brackets are closed"
            .to_string(),
    )
}

fn pos_of(location: &Location) -> Pos {
    Pos {
        line: u32::try_from(location.line()).unwrap_or(u32::MAX),
        col: u32::try_from(location.column()).unwrap_or(u32::MAX),
    }
}

/// The text a scalar was written as, from its span; the formatted value when
/// the span is not available.
fn source_text(text: &str, location: &Location, fallback: impl fmt::Display) -> String {
    let span = location.span();
    let slice = span
        .byte_offset()
        .zip(span.byte_len())
        .and_then(|(start, len)| {
            let start = usize::try_from(start).ok()?;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            text.get(start..end)
        });
    match slice {
        Some(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => fallback.to_string(),
    }
}

fn convert(text: &str, spanned: Spanned<Raw>) -> Node {
    let pos = pos_of(&spanned.referenced);
    let defined = spanned.defined;
    let kind = match spanned.value {
        Raw::Null => Kind::Null,
        Raw::Bool(b) => Kind::Bool(b, source_text(text, &defined, b)),
        Raw::Int(i) => Kind::Int(i, source_text(text, &defined, i)),
        Raw::Float(x) => Kind::Float(x, source_text(text, &defined, x)),
        Raw::Str(s) => Kind::Str(s),
        Raw::Seq(items) => Kind::Seq(items.into_iter().map(|n| convert(text, n)).collect()),
        Raw::Map(entries) => Kind::Map(
            entries
                .into_iter()
                .map(|(key, value)| {
                    // A key like `n` or `1` reads as a bool or a number in
                    // YAML; as a key we want it as written.
                    let name = match key.value {
                        KeyText::Str(s) => s,
                        KeyText::Other(fallback) => source_text(text, &key.defined, fallback),
                    };
                    let key = Node {
                        pos: pos_of(&key.referenced),
                        kind: Kind::Str(name),
                    };
                    (key, convert(text, value))
                })
                .collect(),
        ),
    };
    Node { pos, kind }
}

/// What the YAML crate hands us, before positions are flattened into [`Node`].
enum Raw {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<KeyText>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        i128::try_from(v)
            .map(Raw::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

/// A mapping key: any scalar. Keys that are themselves lists or mappings are
/// rejected, since no scenario key is one.
enum KeyText {
    /// A string key.
    Str(String),
    /// Another scalar; its source text is used, this is the fallback.
    Other(String),
}

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a plain key (a word, not a list or a mapping)")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText::Str(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText::Other(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText::Other(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText::Other(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText::Other(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<KeyText, E> {
                Ok(KeyText::Other("null".to_string()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> &[(Node, Node)] {
        match &node.kind {
            Kind::Map(entries) => entries,
            other => panic!("expected a mapping, got {other:?}"),
        }
    }

    #[test]
    fn positions_and_scalar_text() {
        let tree = parse("a: 1.50\nb:\n  c: [1, -2, x]\n  d: yes\n").unwrap();
        let top = map(&tree);
        assert_eq!(top[0].0.pos, Pos { line: 1, col: 1 });
        assert_eq!(top[0].1.kind, Kind::Float(1.5, "1.50".into()));
        assert_eq!(top[0].1.pos, Pos { line: 1, col: 4 });
        let inner = map(&top[1].1);
        assert_eq!(inner[0].0.pos, Pos { line: 3, col: 3 });
        match &inner[0].1.kind {
            Kind::Seq(items) => {
                assert_eq!(items[1].kind, Kind::Int(-2, "-2".into()));
                assert_eq!(items[2].pos, Pos { line: 3, col: 14 });
            }
            other => panic!("expected a list, got {other:?}"),
        }
        assert!(matches!(inner[1].1.kind, Kind::Bool(true, _)));
    }

    #[test]
    fn keys_read_as_written() {
        // YAML would read these keys as a bool, a number and null.
        let tree = parse("n: 1\n10: 2\n~: 3\n\"y\": 4\n").unwrap();
        let keys: Vec<&str> = map(&tree)
            .iter()
            .filter_map(|(k, _)| k.scalar_text())
            .collect();
        assert_eq!(keys, vec!["n", "10", "~", "y"]);
    }

    #[test]
    fn empty_document_is_an_empty_mapping() {
        for text in ["", "# only a comment\n", "\n\n"] {
            assert_eq!(parse(text).unwrap().kind, Kind::Map(Vec::new()));
        }
    }

    #[test]
    fn syntax_errors_have_positions_and_help() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(err.pos, Some(Pos { line: 2, col: 2 }));
        assert!(err.message.starts_with("invalid YAML"), "{}", err.message);
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.message, "the key `a` appears twice in this mapping");
        assert_eq!(err.pos, Some(Pos { line: 2, col: 1 }));
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(err.help.contains("---"));
    }
}
