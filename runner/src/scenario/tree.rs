//! The parsed document as a tree that knows where every node came from, and a
//! serde `Deserializer` over it.
//!
//! The YAML parser ([`super::yaml`]) builds a [`Node`] tree; the structural
//! check ([`super::structure`]) walks and prunes it; the typed pass then
//! deserializes the raw scenario types straight from the pruned tree. Because
//! this module owns both ends of [`Located`], a raw field can ask for the
//! position of its value without the raw types naming the YAML crate.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};

/// A 1-based line and column (in characters). `0:0` means unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
}

/// One value of the document, with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value starts (for a block mapping: its first key).
    pub pos: Pos,
    /// The value.
    pub kind: Kind,
}

/// The shape of a node. Scalars keep the text they were written as, so a
/// number read into a string field reads back exactly as typed (`1.50`, not
/// `1.5`).
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool, String),
    /// An integer.
    Int(i128, String),
    /// A float.
    Float(f64, String),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order. Keys are `Str` nodes.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The text of a scalar as written (`None` for null, sequences and mappings).
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Bool(_, text) | Kind::Int(_, text) | Kind::Float(_, text) | Kind::Str(text) => {
                Some(text)
            }
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => None,
        }
    }

    /// A short description of what the node is, for "expected X, found Y".
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Null => "nothing (null)".to_string(),
            Kind::Bool(_, text) => format!("the boolean `{text}`"),
            Kind::Int(_, text) => format!("the integer `{text}`"),
            Kind::Float(_, text) => format!("the number `{text}`"),
            Kind::Str(text) => format!("the string `{}`", shorten(text)),
            Kind::Seq(_) => "a list".to_string(),
            Kind::Map(_) => "a mapping".to_string(),
        }
    }
}

/// Cuts long values so one message stays one line.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    let one_line = text.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= MAX {
        one_line
    } else {
        let cut: String = one_line.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// A value with the position it was written at. Deserializing from a [`Node`]
/// fills in `pos`; from any other deserializer `pos` is unknown (`0:0`).
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub pos: Pos,
}

/// The newtype name that tells [`NodeDeserializer`] to hand over the position.
const LOCATED: &str = "$runner::scenario::Located";

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LocatedVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for LocatedVisitor<T> {
            type Value = Located<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value")
            }

            // Our own deserializer answers with (line, col, value).
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let line = seq.next_element()?.unwrap_or(0);
                let col = seq.next_element()?.unwrap_or(0);
                let value = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::custom("missing value"))?;
                Ok(Located {
                    value,
                    pos: Pos { line, col },
                })
            }

            // Any other deserializer treats the marker as a plain newtype.
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<Self::Value, D::Error> {
                Ok(Located {
                    value: T::deserialize(deserializer)?,
                    pos: Pos::default(),
                })
            }
        }

        deserializer.deserialize_newtype_struct(LOCATED, LocatedVisitor(std::marker::PhantomData))
    }
}

/// The schema of a located value is the schema of the value.
impl<T: JsonSchema> JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A raw field can keep a whole subtree (`target.params`) with its positions.
impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let located = Located::<Kind>::deserialize(deserializer)?;
        Ok(Node {
            pos: located.pos,
            kind: located.value,
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v, v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into(), v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into(), v.to_string()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Int(v, v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v, v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        d.deserialize_any(KindVisitor)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Located<String>>()? {
            let key = Node {
                pos: key.pos,
                kind: Kind::Str(key.value),
            };
            entries.push((key, map.next_value()?));
        }
        Ok(Kind::Map(entries))
    }
}

/// A deserialization error with the position of the innermost node involved.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeError {
    /// What went wrong.
    pub message: String,
    /// Where, when known.
    pub pos: Option<Pos>,
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TreeError {}

impl de::Error for TreeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        TreeError {
            message: msg.to_string(),
            pos: None,
        }
    }
}

/// Deserializes `T` from a tree.
pub fn from_node<'de, T: Deserialize<'de>>(node: &'de Node) -> Result<T, TreeError> {
    T::deserialize(NodeDeserializer(node))
}

/// A serde `Deserializer` over one [`Node`].
///
/// Scalars follow YAML habits: any scalar reads as a string (its text as
/// written), integers read as floats, and nothing else converts. The
/// structural check applies the same rules, so a tree it accepted always
/// deserializes.
#[derive(Clone, Copy)]
pub struct NodeDeserializer<'a>(pub &'a Node);

impl NodeDeserializer<'_> {
    /// Attaches this node's position to an error that has none yet.
    fn locate(&self, mut error: TreeError) -> TreeError {
        if error.pos.is_none() {
            error.pos = Some(self.0.pos);
        }
        error
    }
}

impl<'de> Deserializer<'de> for NodeDeserializer<'de> {
    type Error = TreeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        let result = match &self.0.kind {
            Kind::Null => visitor.visit_unit(),
            Kind::Bool(b, _) => visitor.visit_bool(*b),
            Kind::Int(i, _) => match (u64::try_from(*i), i64::try_from(*i)) {
                (Ok(u), _) => visitor.visit_u64(u),
                (_, Ok(i)) => visitor.visit_i64(i),
                _ => visitor.visit_i128(*i),
            },
            Kind::Float(x, _) => visitor.visit_f64(*x),
            Kind::Str(s) => visitor.visit_str(s),
            Kind::Seq(items) => visitor.visit_seq(SeqAccess(items.iter())),
            Kind::Map(entries) => visitor.visit_map(MapAccess {
                entries: entries.iter(),
                value: None,
            }),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        match self.0.scalar_text() {
            Some(text) => visitor.visit_str(text).map_err(|e| self.locate(e)),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        match self.0.kind {
            Kind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| self.locate(e))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        if name == LOCATED {
            visitor
                .visit_seq(LocatedAccess {
                    node: self.0,
                    step: 0,
                })
                .map_err(|e| self.locate(e))
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        // Only unit variants written as a plain word are used by scenarios.
        match self.0.scalar_text() {
            Some(text) => visitor
                .visit_enum(text.into_deserializer())
                .map_err(|e: TreeError| self.locate(e)),
            None => Err(self.locate(de::Error::custom(format!(
                "expected a word, found {}",
                self.0.describe()
            )))),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// Hands [`Located`] its line, column and value.
struct LocatedAccess<'a> {
    node: &'a Node,
    step: u8,
}

impl<'de> de::SeqAccess<'de> for LocatedAccess<'de> {
    type Error = TreeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, TreeError> {
        let step = self.step;
        self.step = self.step.saturating_add(1);
        match step {
            0 => seed
                .deserialize(self.node.pos.line.into_deserializer())
                .map(Some),
            1 => seed
                .deserialize(self.node.pos.col.into_deserializer())
                .map(Some),
            2 => seed.deserialize(NodeDeserializer(self.node)).map(Some),
            _ => Ok(None),
        }
    }
}

struct SeqAccess<'a>(std::slice::Iter<'a, Node>);

impl<'de> de::SeqAccess<'de> for SeqAccess<'de> {
    type Error = TreeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, TreeError> {
        match self.0.next() {
            Some(node) => seed.deserialize(NodeDeserializer(node)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapAccess<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'de> {
    type Error = TreeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TreeError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(NodeDeserializer(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, TreeError> {
        match self.value.take() {
            Some(node) => seed.deserialize(NodeDeserializer(node)),
            None => Err(de::Error::custom("a mapping value was read before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u32, col: u32, kind: Kind) -> Node {
        Node {
            pos: Pos { line, col },
            kind,
        }
    }

    fn key(line: u32, name: &str) -> Node {
        at(line, 1, Kind::Str(name.to_string()))
    }

    #[derive(Debug, Deserialize)]
    struct Sample {
        name: Located<String>,
        n: Option<Located<u32>>,
        list: Vec<f64>,
    }

    #[test]
    fn located_values_and_coercions() {
        let tree = at(
            1,
            1,
            Kind::Map(vec![
                (key(1, "name"), at(1, 7, Kind::Float(1.5, "1.50".into()))),
                (key(2, "n"), at(2, 4, Kind::Int(7, "7".into()))),
                (
                    key(3, "list"),
                    at(3, 7, Kind::Seq(vec![at(3, 8, Kind::Int(2, "2".into()))])),
                ),
                (key(4, "extra"), at(4, 8, Kind::Null)),
            ]),
        );
        let sample: Sample = from_node(&tree).unwrap();
        assert_eq!(sample.name.value, "1.50");
        assert_eq!(sample.name.pos, Pos { line: 1, col: 7 });
        let n = sample.n.unwrap();
        assert_eq!((n.value, n.pos), (7, Pos { line: 2, col: 4 }));
        assert_eq!(sample.list, vec![2.0]);
    }

    #[test]
    fn errors_carry_the_innermost_position() {
        let tree = at(
            1,
            1,
            Kind::Map(vec![
                (key(1, "name"), at(1, 7, Kind::Str("x".into()))),
                (
                    key(2, "list"),
                    at(2, 7, Kind::Seq(vec![at(2, 9, Kind::Str("a".into()))])),
                ),
            ]),
        );
        let err = from_node::<Sample>(&tree).unwrap_err();
        assert_eq!(err.pos, Some(Pos { line: 2, col: 9 }));
    }

    #[test]
    fn located_through_another_deserializer_has_no_position() {
        let v: Located<u32> = serde_json::from_str("5").unwrap();
        assert_eq!((v.value, v.pos), (5, Pos::default()));
    }
}
