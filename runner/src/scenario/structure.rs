//! The structural pass: walk the parsed tree beside the JSON Schema generated
//! from the raw types, report every unknown key and wrong type with its
//! position, and return a pruned copy of the tree that holds only what fits.
//!
//! The walker reads these schema keywords: `$ref` (into `$defs`), `anyOf` /
//! `oneOf`, `type`, `format` (integer ranges), `enum` / `const`, `properties`,
//! `additionalProperties`, `required` and `items`. It deliberately ignores the
//! value constraints that the schema carries for editors (`minimum`,
//! `pattern`): those are semantic, and [`super::validate`] reports them with a
//! better message. Scalar rules match [`super::tree::NodeDeserializer`] (any
//! scalar is text, integers are numbers), so a pruned tree always
//! deserializes into the raw types.

use serde_json::Value;

use super::suggest::{nearest, unknown_key};
use super::tree::{Kind, Node, Pos, shorten};

/// A problem found by the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
    /// The fix.
    pub help: Option<String>,
}

/// Checks `node` against `schema` (a schema document with `$defs`). Returns the
/// pruned tree (`None` when the root itself does not fit) and every problem.
pub fn check(schema: &Value, node: &Node) -> (Option<Node>, Vec<Problem>) {
    let walker = Walker { root: schema };
    let mut problems = Vec::new();
    let root_key = Pos { line: 1, col: 1 };
    let kept = walker.walk(
        node,
        schema,
        &Path(Vec::new()),
        root_key,
        None,
        &mut problems,
    );
    (kept, problems)
}

/// The dotted path of a node, for messages (`target.timeouts.idle`, `load.levels[2]`).
#[derive(Clone)]
struct Path(Vec<String>);

impl Path {
    fn key(&self, key: &str) -> Path {
        let mut p = self.0.clone();
        p.push(format!(".{key}"));
        Path(p)
    }
    fn index(&self, i: usize) -> Path {
        let mut p = self.0.clone();
        p.push(format!("[{i}]"));
        Path(p)
    }
    fn show(&self) -> String {
        let s: String = self.0.concat();
        s.trim_start_matches('.').to_string()
    }
    /// "at the top level" or "in `target`".
    fn place(&self) -> String {
        if self.0.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in `{}`", self.show())
        }
    }
    /// How to name the value in "X must be ...".
    fn subject(&self) -> String {
        if self.0.is_empty() {
            "the scenario".to_string()
        } else {
            format!("`{}`", self.show())
        }
    }
}

struct Walker<'s> {
    root: &'s Value,
}

impl<'s> Walker<'s> {
    /// Follows `$ref`s to the schema that says something.
    fn resolve(&self, mut schema: &'s Value) -> &'s Value {
        // Bounded: a schema generated from Rust types has no ref cycles at
        // one level, but a corrupt one must not hang the walk.
        for _ in 0..32 {
            let Some(target) = schema.get("$ref").and_then(Value::as_str) else {
                return schema;
            };
            let Some(name) = target.strip_prefix("#/$defs/") else {
                return schema;
            };
            match self.root.get("$defs").and_then(|d| d.get(name)) {
                Some(next) => schema = next,
                None => return schema,
            }
        }
        schema
    }

    fn walk(
        &self,
        node: &Node,
        schema: &'s Value,
        path: &Path,
        key_pos: Pos,
        outer_desc: Option<&'s str>,
        out: &mut Vec<Problem>,
    ) -> Option<Node> {
        let schema = self.resolve(schema);
        let desc = outer_desc.or_else(|| schema.get("description").and_then(Value::as_str));
        match schema {
            Value::Bool(true) => return Some(node.clone()),
            Value::Bool(false) => {
                out.push(Problem {
                    pos: node.pos,
                    message: format!("{} is not allowed", path.subject()),
                    help: Some("remove it".to_string()),
                });
                return None;
            }
            _ => {}
        }
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            return self.walk_branches(node, branches, path, key_pos, desc, out);
        }
        if let Some(types) = type_list(schema)
            && !types.iter().any(|t| kind_fits(node, t))
        {
            out.push(Problem {
                pos: node.pos,
                message: format!(
                    "{} must be {}, found {}",
                    path.subject(),
                    expected(&types),
                    node.describe()
                ),
                help: Some(help_from(desc, &types)),
            });
            return None;
        }
        if let Kind::Int(value, text) = &node.kind
            && let Some((lo, hi)) = schema
                .get("format")
                .and_then(Value::as_str)
                .and_then(int_range)
            && (*value < lo || *value > hi)
        {
            out.push(Problem {
                pos: node.pos,
                message: format!("{} is out of range: `{text}`", path.subject()),
                help: Some(format!("write a whole number from {lo} to {hi}")),
            });
            return None;
        }
        if let Some(allowed) = constants(schema) {
            return self.check_constant(node, &allowed, path, out);
        }
        match &node.kind {
            Kind::Map(entries) => Some(self.walk_map(node, entries, schema, path, key_pos, out)),
            Kind::Seq(items) => {
                let item_schema = schema.get("items").unwrap_or(&Value::Bool(true));
                let kept = items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| {
                        self.walk(item, item_schema, &path.index(i), item.pos, None, out)
                    })
                    .collect();
                Some(Node {
                    pos: node.pos,
                    kind: Kind::Seq(kept),
                })
            }
            _ => Some(node.clone()),
        }
    }

    /// Where else in the schema `key` is a valid key, as "in `target`" /
    /// "at the top level", so a key at the wrong depth gets pointed home.
    fn homes(&self, key: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut seen = Vec::new();
        self.find_homes(self.root, &Path(Vec::new()), key, &mut seen, &mut found);
        found
    }

    fn find_homes(
        &self,
        schema: &'s Value,
        path: &Path,
        key: &str,
        seen: &mut Vec<&'s str>,
        found: &mut Vec<String>,
    ) {
        // Each definition is entered once per search: no cycles, bounded work.
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            if seen.contains(&target) {
                return;
            }
            seen.push(target);
        }
        let schema = self.resolve(schema);
        for branch in schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.find_homes(branch, path, key, seen, found);
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            if properties.contains_key(key) {
                found.push(path.place());
            }
            for (name, property) in properties {
                self.find_homes(property, &path.key(name), key, seen, found);
            }
        }
    }

    /// `anyOf` / `oneOf`: the first branch that fits without problems wins.
    /// When none does, report through the one branch of the node's shape, or
    /// else say which shapes or values would fit.
    fn walk_branches(
        &self,
        node: &Node,
        branches: &'s [Value],
        path: &Path,
        key_pos: Pos,
        desc: Option<&'s str>,
        out: &mut Vec<Problem>,
    ) -> Option<Node> {
        let mut scratch = Vec::new();
        for branch in branches {
            scratch.clear();
            if let Some(kept) = self.walk(node, branch, path, key_pos, desc, &mut scratch)
                && scratch.is_empty()
            {
                return Some(kept);
            }
        }
        let shaped: Vec<&Value> = branches
            .iter()
            .filter(|b| self.shape_fits(node, b))
            .collect();
        if let [only] = shaped.as_slice() {
            return self.walk(node, only, path, key_pos, desc, out);
        }
        let mut values = Vec::new();
        if branches
            .iter()
            .all(|b| self.collect_constants(b, &mut values))
            && !values.is_empty()
        {
            return self.check_constant(node, &values, path, out);
        }
        let mut types = Vec::new();
        for branch in branches {
            self.collect_types(branch, &mut types);
        }
        out.push(Problem {
            pos: node.pos,
            message: format!(
                "{} must be {}, found {}",
                path.subject(),
                expected(&types),
                node.describe()
            ),
            help: Some(help_from(desc, &types)),
        });
        None
    }

    fn walk_map(
        &self,
        node: &Node,
        entries: &[(Node, Node)],
        schema: &'s Value,
        path: &Path,
        key_pos: Pos,
        out: &mut Vec<Problem>,
    ) -> Node {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        let mut kept = Vec::new();
        for (key, value) in entries {
            let name = key.scalar_text().unwrap_or_default();
            let sub_path = path.key(name);
            let property = properties.and_then(|p| p.get(name));
            let value_schema = match (property, additional) {
                (Some(p), _) => p,
                (None, Some(Value::Bool(false))) => {
                    let valid: Vec<&str> = properties
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    let homes = self.homes(name);
                    out.push(unknown_key(key, name, &path.place(), &valid, &homes));
                    continue;
                }
                (None, Some(extra)) => extra,
                (None, None) => &Value::Bool(true),
            };
            let desc = value_schema.get("description").and_then(Value::as_str);
            if let Some(v) = self.walk(value, value_schema, &sub_path, key.pos, desc, out) {
                kept.push((key.clone(), v));
            }
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !entries.iter().any(|(k, _)| k.scalar_text() == Some(name)) {
                    out.push(Problem {
                        pos: key_pos,
                        message: format!("missing key `{name}` {}", path.place()),
                        help: Some(format!("add `{name}:` {}", path.place())),
                    });
                }
            }
        }
        Node {
            pos: node.pos,
            kind: Kind::Map(kept),
        }
    }

    fn check_constant(
        &self,
        node: &Node,
        allowed: &[String],
        path: &Path,
        out: &mut Vec<Problem>,
    ) -> Option<Node> {
        let text = node.scalar_text().unwrap_or_default();
        if allowed.iter().any(|a| a == text) {
            return Some(node.clone());
        }
        let list = allowed
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let help = match nearest(text, allowed.iter().map(String::as_str)) {
            Some(near) => format!("did you mean `{near}`? valid values: {list}"),
            None => format!("valid values: {list}"),
        };
        out.push(Problem {
            pos: node.pos,
            message: format!("unknown value `{}` for {}", shorten(text), path.subject()),
            help: Some(help),
        });
        None
    }

    /// Whether the node's kind fits the branch, ignoring what is inside.
    fn shape_fits(&self, node: &Node, schema: &'s Value) -> bool {
        let schema = self.resolve(schema);
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            return branches.iter().any(|b| self.shape_fits(node, b));
        }
        match type_list(schema) {
            Some(types) => types.iter().any(|t| kind_fits(node, t)),
            None => schema != &Value::Bool(false),
        }
    }

    /// Adds the `const` / `enum` values of a branch; false when it has none.
    fn collect_constants(&self, schema: &'s Value, values: &mut Vec<String>) -> bool {
        let schema = self.resolve(schema);
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            return branches.iter().all(|b| self.collect_constants(b, values));
        }
        match constants(schema) {
            Some(found) => {
                values.extend(found);
                true
            }
            // `null` beside an enum (an optional field) is not a wrong value.
            None => type_list(schema).is_some_and(|t| t == ["null"]),
        }
    }

    fn collect_types(&self, schema: &'s Value, types: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            for branch in branches {
                self.collect_types(branch, types);
            }
        } else if let Some(found) = type_list(schema) {
            for t in found {
                if !types.contains(&t) {
                    types.push(t);
                }
            }
        }
    }
}

fn type_list(schema: &Value) -> Option<Vec<String>> {
    match schema.get("type")? {
        Value::String(t) => Some(vec![t.clone()]),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
        ),
        _ => None,
    }
}

fn constants(schema: &Value) -> Option<Vec<String>> {
    if let Some(c) = schema.get("const") {
        return Some(vec![scalar_string(c)]);
    }
    schema
        .get("enum")
        .and_then(Value::as_array)
        .map(|vs| vs.iter().map(scalar_string).collect())
}

fn scalar_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The YAML-friendly type rules shared with the tree deserializer.
fn kind_fits(node: &Node, ty: &str) -> bool {
    matches!(
        (ty, &node.kind),
        ("null", Kind::Null)
            | ("boolean", Kind::Bool(..))
            | ("integer", Kind::Int(..))
            | ("number", Kind::Int(..) | Kind::Float(..))
            | (
                "string",
                Kind::Bool(..) | Kind::Int(..) | Kind::Float(..) | Kind::Str(_)
            )
            | ("object", Kind::Map(_))
            | ("array", Kind::Seq(_))
    )
}

fn int_range(format: &str) -> Option<(i128, i128)> {
    Some(match format {
        "uint8" => (0, u8::MAX.into()),
        "uint16" => (0, u16::MAX.into()),
        "uint32" => (0, u32::MAX.into()),
        "uint64" | "uint" => (0, u64::MAX.into()),
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" | "int" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

fn expected(types: &[String]) -> String {
    let words: Vec<&str> = types
        .iter()
        .filter(|t| t.as_str() != "null")
        .map(|t| match t.as_str() {
            "boolean" => "true or false",
            "integer" => "a whole number",
            "number" => "a number",
            "string" => "text",
            "object" => "a mapping (`key: value` entries)",
            "array" => "a list (`[a, b]` or `- a` lines)",
            _ => "a value of another kind",
        })
        .collect();
    match words.as_slice() {
        [] => "empty".to_string(),
        [one] => (*one).to_string(),
        many => many.join(" or "),
    }
}

fn help_from(desc: Option<&str>, types: &[String]) -> String {
    match desc {
        Some(d) => shorten_help(d),
        None => format!("write {}", expected(types)),
    }
}

/// Doc comments span several lines; a help line is one.
fn shorten_help(desc: &str) -> String {
    desc.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Node {
        super::super::yaml::parse(text).unwrap()
    }

    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["must"],
            "properties": {
                "must": { "type": "string" },
                "n": { "type": ["integer", "null"], "format": "uint8" },
                "flag": { "type": "boolean", "description": "A switch.\nDefault: off." },
                "mode": { "anyOf": [{ "$ref": "#/$defs/Mode" }, { "type": "null" }] },
                "list": { "type": "array", "items": { "type": "number" } },
                "inner": { "$ref": "#/$defs/Inner" }
            },
            "$defs": {
                "Mode": { "oneOf": [
                    { "type": "string", "const": "fast" },
                    { "type": "string", "const": "slow" }
                ]},
                "Inner": { "type": "object", "additionalProperties": false,
                           "properties": { "depth": { "type": "integer" } } }
            }
        })
    }

    #[test]
    fn reports_everything_and_prunes() {
        let text = "must: x\nn: 300\nflag: maybe\nmode: fsat\nlist: [1, a, 2.5]\ninner: {depht: 1}\nextra: 1\n";
        let (kept, problems) = check(&schema(), &parse(text));
        let messages: Vec<String> = problems
            .iter()
            .map(|p| format!("{}:{} {}", p.pos.line, p.pos.col, p.message))
            .collect();
        assert_eq!(
            messages,
            vec![
                "2:4 `n` is out of range: `300`",
                "3:7 `flag` must be true or false, found the string `maybe`",
                "4:7 unknown value `fsat` for `mode`",
                "5:11 `list[1]` must be a number, found the string `a`",
                "6:9 unknown key `depht` in `inner`",
                "7:1 unknown key `extra` at the top level",
            ]
        );
        assert_eq!(problems[1].help.as_deref(), Some("A switch. Default: off."));
        assert!(
            problems[2]
                .help
                .as_deref()
                .unwrap()
                .starts_with("did you mean `fast`?")
        );
        assert_eq!(
            problems[4].help.as_deref(),
            Some("did you mean `depth`? valid keys here: `depth`")
        );
        let kept = kept.unwrap();
        let Kind::Map(entries) = &kept.kind else {
            panic!("root is a map")
        };
        let keys: Vec<&str> = entries
            .iter()
            .filter_map(|(k, _)| k.scalar_text())
            .collect();
        assert_eq!(keys, vec!["must", "list", "inner"]);
        let Kind::Seq(list) = &entries[1].1.kind else {
            panic!("list")
        };
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn missing_required_and_clean_input() {
        let (_, problems) = check(&schema(), &parse("n: 3\n"));
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].message, "missing key `must` at the top level");
        let (kept, problems) = check(&schema(), &parse("must: 5\nmode: slow\nn: ~\n"));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(kept.unwrap(), parse("must: 5\nmode: slow\nn: ~\n"));
    }
}
