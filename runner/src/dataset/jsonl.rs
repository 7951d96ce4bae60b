//! `jsonl`: one JSON object per line; a [`FieldMap`] of dotted paths says
//! where the prompt (or messages), `max_tokens` and the expected output
//! length are.
//!
//! Only the top-level keys a path starts with are built into JSON values;
//! every other key is skipped by the parser without allocating, which keeps
//! a million-line file within the load budget.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::parse::{LineProblem, message_list};
use super::{Item, Prompt};
use crate::scenario::FieldMap;

/// The four paths split into segments once.
pub struct Paths {
    prompt: Vec<String>,
    messages: Vec<String>,
    max_tokens: Vec<String>,
    output_len: Vec<String>,
    map: FieldMap,
    /// Distinct first segments, the only top-level keys that are read.
    heads: Vec<String>,
}

impl Paths {
    /// Splits the field map's paths.
    pub fn new(map: &FieldMap) -> Self {
        let split = |p: &str| p.split('.').map(str::to_string).collect::<Vec<_>>();
        let mut paths = Paths {
            prompt: split(&map.prompt),
            messages: split(&map.messages),
            max_tokens: split(&map.max_tokens),
            output_len: split(&map.output_len),
            map: map.clone(),
            heads: Vec::new(),
        };
        for path in [
            &paths.prompt,
            &paths.messages,
            &paths.max_tokens,
            &paths.output_len,
        ] {
            if let Some(head) = path.first()
                && !paths.heads.contains(head)
            {
                paths.heads.push(head.clone());
            }
        }
        paths
    }
}

const HELP_PROMPT: &str = "each line needs the prompt as a string (`\"prompt\": \"...\"`) or a message list; set `dataset.fields.prompt` or `fields.messages` to where yours live";

/// Parses one line; `Ok(None)` for a blank line.
pub fn parse_line(
    line: &str,
    paths: &Paths,
    default_max_tokens: u32,
) -> Result<Option<Item>, LineProblem> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let picked = Picker {
        heads: &paths.heads,
    }
    .deserialize(&mut de)
    .and_then(|picked| de.end().map(|()| picked))
    .map_err(|e| {
        LineProblem::new(
            format!("bad JSON: {e}"),
            "each line is one JSON object, e.g. `{\"prompt\": \"...\", \"max_tokens\": 256}`",
        )
    })?;
    let Some(picked) = picked else {
        return Err(LineProblem::new(
            "the line is not a JSON object",
            "each line is one JSON object, e.g. `{\"prompt\": \"...\"}`",
        ));
    };
    let mut picked = picked;
    let get = |path: &[String]| lookup(&picked, &paths.heads, path);
    let output_len = count_field(get(&paths.output_len), &paths.map.output_len)?;
    let max_tokens = count_field(get(&paths.max_tokens), &paths.map.max_tokens)?
        .or(output_len)
        .unwrap_or(default_max_tokens);
    let prompt = match get(&paths.messages) {
        Some(Value::Array(list)) => Prompt::Chat(message_list(list)?),
        Some(other) => {
            return Err(LineProblem::new(
                format!(
                    "`{}` is {}, not a list of messages",
                    paths.map.messages,
                    kind(other)
                ),
                "give `[{\"role\": \"user\", \"content\": \"...\"}]`",
            ));
        }
        None if paths.map.explicit.messages && !paths.map.explicit.prompt => {
            return Err(missing(&paths.map.messages, HELP_PROMPT));
        }
        // The prompt is moved out of the parsed line, not copied: one
        // allocation per line fewer on large files.
        None => match lookup_mut(&mut picked, &paths.heads, &paths.prompt) {
            Some(Value::String(text)) if !text.trim().is_empty() => {
                Prompt::Text(std::mem::take(text))
            }
            Some(Value::String(_)) => {
                return Err(LineProblem::new(
                    format!("`{}` is empty", paths.map.prompt),
                    "write the prompt, or delete the line",
                ));
            }
            Some(other) => {
                return Err(LineProblem::new(
                    format!("`{}` is {}, not a string", paths.map.prompt, kind(other)),
                    HELP_PROMPT,
                ));
            }
            None => return Err(missing(&paths.map.prompt, HELP_PROMPT)),
        },
    };
    Ok(Some(Item {
        prompt,
        max_tokens,
        input_len: 0,
        output_len,
    }))
}

fn missing(path: &str, help: &str) -> LineProblem {
    LineProblem::new(format!("the line has no `{path}`"), help)
}

/// A positive integer field; absent (or null) is fine: the caller falls
/// back.
fn count_field(value: Option<&Value>, path: &str) -> Result<Option<u32>, LineProblem> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) if n >= 1 && n <= u64::from(u32::MAX) => Ok(Some(n as u32)),
            _ => Err(LineProblem::new(
                format!(
                    "`{path}` is {n}; it must be a whole number from 1 to {}",
                    u32::MAX
                ),
                "write a positive integer",
            )),
        },
        Some(other) => Err(LineProblem::new(
            format!("`{path}` is {}, not a number", kind(other)),
            "write a positive integer",
        )),
    }
}

/// What a JSON value is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Follows `path` from the picked top-level values.
fn lookup<'v>(picked: &'v [Option<Value>], heads: &[String], path: &[String]) -> Option<&'v Value> {
    let (head, rest) = path.split_first()?;
    let index = heads.iter().position(|h| h == head)?;
    let mut value = picked.get(index)?.as_ref()?;
    for segment in rest {
        value = match value {
            Value::Object(map) => map.get(segment)?,
            Value::Array(list) => list.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// [`lookup`], for moving a value out.
fn lookup_mut<'v>(
    picked: &'v mut [Option<Value>],
    heads: &[String],
    path: &[String],
) -> Option<&'v mut Value> {
    let (head, rest) = path.split_first()?;
    let index = heads.iter().position(|h| h == head)?;
    let mut value = picked.get_mut(index)?.as_mut()?;
    for segment in rest {
        value = match value {
            Value::Object(map) => map.get_mut(segment)?,
            Value::Array(list) => list.get_mut(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Reads a top-level object, keeping only the values of `heads` (in that
/// order); `None` when the line is JSON but not an object.
struct Picker<'h> {
    heads: &'h [String],
}

impl<'de> DeserializeSeed<'de> for Picker<'_> {
    type Value = Option<Vec<Option<Value>>>;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Picker<'_> {
    type Value = Option<Vec<Option<Value>>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut picked = vec![None; self.heads.len()];
        while let Some(wanted) = map.next_key_seed(KeySeed { heads: self.heads })? {
            match wanted {
                Some(i) => picked[i] = Some(map.next_value::<Value>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(picked))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Reads an object key as the index of the head it names, without
/// allocating (the parser hands over a borrowed string).
struct KeySeed<'h> {
    heads: &'h [String],
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.heads.iter().position(|h| h == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ChatMessage;

    fn paths(edit: impl FnOnce(&mut FieldMap)) -> Paths {
        let mut map = FieldMap::default();
        edit(&mut map);
        Paths::new(&map)
    }

    #[test]
    fn default_fields() {
        let p = paths(|_| {});
        let item = parse_line(
            r#"{"prompt": "hi", "max_tokens": 7, "x": [1, {"y": 2}]}"#,
            &p,
            9,
        )
        .unwrap()
        .unwrap();
        assert_eq!(item.prompt, Prompt::Text("hi".into()));
        assert_eq!((item.max_tokens, item.output_len), (7, None));
        let item = parse_line(r#"{"prompt": "hi", "output_len": 30}"#, &p, 9)
            .unwrap()
            .unwrap();
        assert_eq!((item.max_tokens, item.output_len), (30, Some(30)));
        let item = parse_line(r#"{"messages": [{"role": "user", "content": "q"}]}"#, &p, 9)
            .unwrap()
            .unwrap();
        assert_eq!(
            item.prompt,
            Prompt::Chat(vec![ChatMessage {
                role: "user".into(),
                content: "q".into()
            }])
        );
        assert_eq!(item.max_tokens, 9);
        assert_eq!(parse_line("  ", &p, 9), Ok(None));
    }

    #[test]
    fn dotted_paths() {
        let p = paths(|m| {
            m.prompt = "data.turns.1.text".into();
            m.explicit.prompt = true;
            m.max_tokens = "meta.limit".into();
        });
        let line = r#"{"data": {"turns": [{"text": "a"}, {"text": "b"}]}, "meta": {"limit": 5}}"#;
        let item = parse_line(line, &p, 9).unwrap().unwrap();
        assert_eq!(item.prompt, Prompt::Text("b".into()));
        assert_eq!(item.max_tokens, 5);
    }

    #[test]
    fn errors() {
        let p = paths(|_| {});
        let err = |line: &str| parse_line(line, &p, 9).unwrap_err().message;
        assert!(err("{oops").starts_with("bad JSON"), "{}", err("{oops"));
        assert!(err(r#"{"prompt": "a"} x"#).starts_with("bad JSON"));
        assert_eq!(err("[1, 2]"), "the line is not a JSON object");
        assert_eq!(err(r#"{"text": "a"}"#), "the line has no `prompt`");
        assert_eq!(
            err(r#"{"prompt": 3}"#),
            "`prompt` is a number, not a string"
        );
        assert_eq!(err(r#"{"prompt": " "}"#), "`prompt` is empty");
        assert_eq!(
            err(r#"{"prompt": "a", "max_tokens": 0}"#),
            format!(
                "`max_tokens` is 0; it must be a whole number from 1 to {}",
                u32::MAX
            )
        );
        assert_eq!(
            err(r#"{"prompt": "a", "max_tokens": "5"}"#),
            "`max_tokens` is a string, not a number"
        );
        assert_eq!(
            err(r#"{"messages": "hi"}"#),
            "`messages` is a string, not a list of messages"
        );
        let strict = paths(|m| {
            m.prompt = "q".into();
            m.explicit.prompt = true;
        });
        assert_eq!(
            parse_line(r#"{"prompt": "a"}"#, &strict, 9)
                .unwrap_err()
                .message,
            "the line has no `q`"
        );
    }
}
