//! `sharegpt`: `{"conversations": [{"from": "human", "value": "..."},
//! {"from": "gpt", "value": "..."}, ...]}` entries, either as one JSON array
//! (the usual `.json` file) or one entry per line.
//!
//! Roles: `human` / `user` are the user; `gpt` / `assistant` (and other
//! model names) are replies; `system` is the system prompt. `role` and
//! `content` are accepted in place of `from` and `value`, and `messages` in
//! place of `conversations`.
//!
//! The array is split into its entries by a small scanner that tracks
//! strings and nesting, so every entry is parsed on its own and a problem is
//! reported at the line where its entry starts.

use serde_json::Value;

use super::conversations::first_prompt;
use super::parse::LineProblem;
use super::read::Problems;
use super::{Item, Session, Turn};
use crate::scenario::Turns;

const SHAPE: &str = "each entry is `{\"conversations\": [{\"from\": \"human\", \"value\": \"...\"}, {\"from\": \"gpt\", \"value\": \"...\"}]}`";

/// Parses one entry's JSON text.
pub fn parse_entry(
    text: &str,
    turns: Turns,
    default_max_tokens: u32,
) -> Result<(Item, Session), LineProblem> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| LineProblem::new(format!("bad JSON: {e}"), SHAPE))?;
    let list = match value.get("conversations").or_else(|| value.get("messages")) {
        Some(Value::Array(list)) => list,
        Some(_) => return Err(LineProblem::new("`conversations` is not a list", SHAPE)),
        None if value.is_object() => {
            return Err(LineProblem::new("the entry has no `conversations`", SHAPE));
        }
        None => return Err(LineProblem::new("the entry is not a JSON object", SHAPE)),
    };
    let mut system = None;
    let mut users: Vec<String> = Vec::new();
    // The reply right after the first user turn: its length is the expected
    // output length of the single-turn item.
    let mut first_reply: Option<usize> = None;
    for (i, message) in list.iter().enumerate() {
        let number = i + 1;
        let field = |names: [&str; 2]| names.iter().find_map(|n| message.get(*n));
        let role = match field(["from", "role"]) {
            Some(Value::String(role)) => role.to_ascii_lowercase(),
            _ => {
                return Err(LineProblem::new(
                    format!("message {number} has no `from` text"),
                    SHAPE,
                ));
            }
        };
        let text = match field(["value", "content"]) {
            Some(Value::String(text)) => text,
            _ => {
                return Err(LineProblem::new(
                    format!("message {number} has no `value` text"),
                    SHAPE,
                ));
            }
        };
        match role.as_str() {
            "human" | "user" => {
                if !text.trim().is_empty() {
                    users.push(text.clone());
                }
            }
            "system" => {
                if !text.trim().is_empty() {
                    system = Some(text.clone());
                }
            }
            _ => {
                if users.len() == 1 && first_reply.is_none() {
                    first_reply = Some(text.chars().count());
                }
            }
        }
    }
    if users.is_empty() {
        return Err(LineProblem::new(
            "the conversation has no user turn",
            "give at least one `{\"from\": \"human\", \"value\": \"...\"}` message with text, or delete the entry",
        ));
    }
    if turns == Turns::First {
        users.truncate(1);
    }
    let session = Session {
        system,
        turns: users
            .into_iter()
            .map(|user| Turn {
                user,
                max_tokens: default_max_tokens,
                think: None,
            })
            .collect(),
    };
    let item = Item {
        prompt: first_prompt(&session.system, &session.turns[0].user),
        max_tokens: default_max_tokens,
        input_len: 0,
        output_len: first_reply.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
    };
    Ok((item, session))
}

/// Parses a whole ShareGPT file: a JSON array of entries, or one entry per
/// line. Good entries are returned with their line; bad ones go to
/// `problems`.
pub fn parse_file(
    text: &str,
    turns: Turns,
    default_max_tokens: u32,
    problems: &mut Problems,
) -> Vec<(Item, Session)> {
    let mut out = Vec::new();
    let mut add = |line: u32, entry: &str, problems: &mut Problems| match parse_entry(
        entry,
        turns,
        default_max_tokens,
    ) {
        Ok(parsed) => out.push(parsed),
        Err(problem) => problems.push(line, problem),
    };
    if text.trim_start().starts_with('[') {
        match split_array(text) {
            Ok(entries) => {
                for (line, entry) in entries {
                    add(line, entry, problems);
                }
            }
            Err((line, problem)) => problems.push(line, problem),
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if !line.trim().is_empty() {
                add(u32::try_from(i + 1).unwrap_or(u32::MAX), line, problems);
            }
        }
    }
    out
}

/// Splits a JSON array into the text of each element, with the line where
/// it starts. Only strings and nesting are tracked; each element's own JSON
/// is checked when it is parsed.
pub fn split_array(text: &str) -> Result<Vec<(u32, &str)>, (u32, LineProblem)> {
    let bytes = text.as_bytes();
    let mut line: u32 = 1;
    let mut depth: u32 = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut start: Option<(usize, u32)> = None;
    let mut out = Vec::new();
    let mut closed = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            line = line.saturating_add(1);
        }
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if closed {
            if !b.is_ascii_whitespace() {
                return Err((
                    line,
                    LineProblem::new("text after the end of the JSON array", SHAPE),
                ));
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                if depth == 1 && start.is_none() {
                    start = Some((i, line));
                }
            }
            b'[' | b'{' => {
                if depth == 1 && start.is_none() {
                    start = Some((i, line));
                }
                depth += 1;
            }
            b']' | b'}' if depth == 0 => {
                return Err((line, LineProblem::new("unbalanced brackets", SHAPE)));
            }
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    if let Some((s, l)) = start.take() {
                        out.push((l, text[s..i].trim_end()));
                    }
                    closed = true;
                }
            }
            b',' if depth == 1 => match start.take() {
                Some((s, l)) => out.push((l, text[s..i].trim_end())),
                None => {
                    return Err((line, LineProblem::new("an empty entry (two commas)", SHAPE)));
                }
            },
            _ if depth == 1 && start.is_none() && !b.is_ascii_whitespace() => {
                start = Some((i, line));
            }
            _ => {}
        }
    }
    if !closed {
        return Err((
            line,
            LineProblem::new(
                "the JSON array is not closed (the file may be cut short)",
                SHAPE,
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Prompt;

    #[test]
    fn splits_arrays_with_lines() {
        let text = "[\n  {\"a\": \"x,]}\\\"\"},\n  {\"b\": [1, 2]}\n]\n";
        let parts = split_array(text).unwrap();
        assert_eq!(
            parts,
            vec![(2, "{\"a\": \"x,]}\\\"\"}"), (3, "{\"b\": [1, 2]}")]
        );
        assert_eq!(split_array("[]").unwrap(), vec![]);
        assert!(split_array("[{\"a\": 1}").is_err());
        assert!(split_array("[{}] x").is_err());
        assert!(split_array("[{},,{}]").is_err());
    }

    #[test]
    fn entries() {
        let entry = r#"{"id": "x", "conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "q1"}, {"from": "gpt", "value": "abcd"}, {"from": "human", "value": "q2"}]}"#;
        let (item, session) = parse_entry(entry, Turns::First, 100).unwrap();
        assert_eq!(item.output_len, Some(4));
        assert_eq!(session.turns.len(), 1);
        assert!(
            matches!(item.prompt, Prompt::Chat(ref m) if m[0].content == "s" && m[1].content == "q1")
        );
        let (_, session) = parse_entry(entry, Turns::All, 100).unwrap();
        let users: Vec<&str> = session.turns.iter().map(|t| t.user.as_str()).collect();
        assert_eq!(users, ["q1", "q2"]);
        let (item, _) = parse_entry(
            r#"{"messages": [{"role": "user", "content": "hi"}]}"#,
            Turns::First,
            100,
        )
        .unwrap();
        assert_eq!(item.prompt, Prompt::Text("hi".into()));
    }

    #[test]
    fn entry_errors() {
        let err = |e: &str| parse_entry(e, Turns::First, 1).unwrap_err().message;
        assert_eq!(
            err(r#"{"conversations": [{"from": "gpt", "value": "a"}]}"#),
            "the conversation has no user turn"
        );
        assert_eq!(err(r#"{"id": 1}"#), "the entry has no `conversations`");
        assert_eq!(err("[1]"), "the entry is not a JSON object");
        assert_eq!(
            err(r#"{"conversations": [{"value": "a"}]}"#),
            "message 1 has no `from` text"
        );
        assert!(err("{").starts_with("bad JSON"));
    }
}
