//! `conversations`: one multi-turn session per line.
//!
//! ```json
//! {"system": "You are a travel agent.", "max_tokens": 256,
//!  "turns": ["Plan three days in Hangzhou.",
//!            {"user": "Make day two rainy-day proof.", "think_s": 4.5, "max_tokens": 128}]}
//! ```
//!
//! A turn is the user's text, or an object with `user`, and optionally
//! `max_tokens` and `think_s` (seconds the user thinks after the previous
//! reply before sending this turn). `system` and `max_tokens` at the top are
//! optional; `id` and other keys are ignored. Assistant replies are not
//! stored: a session is replayed with the server's real replies.

use std::time::Duration;

use serde_json::{Map, Value};

use super::parse::LineProblem;
use super::{ChatMessage, Item, Prompt, Session, Turn};

const SHAPE: &str = "write `{\"system\": \"...\", \"turns\": [\"first question\", {\"user\": \"follow-up\", \"think_s\": 2}]}`";

/// Parses one line; `Ok(None)` for a blank line.
pub fn parse_line(
    line: &str,
    default_max_tokens: u32,
) -> Result<Option<(Item, Session)>, LineProblem> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(line)
        .map_err(|e| LineProblem::new(format!("bad JSON: {e}"), SHAPE))?;
    let Value::Object(object) = value else {
        return Err(LineProblem::new("the line is not a JSON object", SHAPE));
    };
    session(&object, default_max_tokens).map(Some)
}

/// A session from its JSON object.
fn session(
    object: &Map<String, Value>,
    default_max_tokens: u32,
) -> Result<(Item, Session), LineProblem> {
    let system = match object.get("system") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(LineProblem::new("`system` is not a string", SHAPE));
        }
    };
    let session_max =
        positive(object.get("max_tokens"), "max_tokens")?.unwrap_or(default_max_tokens);
    let turns = match object.get("turns") {
        Some(Value::Array(turns)) => turns,
        Some(_) => return Err(LineProblem::new("`turns` is not a list", SHAPE)),
        None => return Err(LineProblem::new("the conversation has no `turns`", SHAPE)),
    };
    let turns = turns
        .iter()
        .enumerate()
        .map(|(i, turn)| self::turn(turn, i + 1, session_max))
        .collect::<Result<Vec<Turn>, LineProblem>>()?;
    let Some(first) = turns.first() else {
        return Err(LineProblem::new(
            "the conversation has no user turn",
            "give at least one user turn in `turns`, or delete the line",
        ));
    };
    let item = Item {
        prompt: first_prompt(&system, &first.user),
        max_tokens: first.max_tokens,
        input_len: 0,
        output_len: None,
    };
    let session = Session { system, turns };
    Ok((item, session))
}

/// The single-turn view of a session: the system prompt (if any) and the
/// first user turn.
pub fn first_prompt(system: &Option<String>, user: &str) -> Prompt {
    match system {
        Some(system) => Prompt::Chat(vec![
            ChatMessage {
                role: "system".into(),
                content: system.clone(),
            },
            ChatMessage {
                role: "user".into(),
                content: user.to_string(),
            },
        ]),
        None => Prompt::Text(user.to_string()),
    }
}

fn turn(value: &Value, number: usize, session_max: u32) -> Result<Turn, LineProblem> {
    let (user, max_tokens, think) = match value {
        Value::String(text) => (text.clone(), session_max, None),
        Value::Object(turn) => {
            let user = match turn.get("user") {
                Some(Value::String(text)) => text.clone(),
                Some(_) => {
                    return Err(LineProblem::new(
                        format!("turn {number}: `user` is not a string"),
                        SHAPE,
                    ));
                }
                None => {
                    return Err(LineProblem::new(
                        format!("turn {number} has no `user` text"),
                        "each turn is the user's text, or `{\"user\": \"...\"}` with optional `max_tokens` and `think_s`",
                    ));
                }
            };
            let max = positive(
                turn.get("max_tokens"),
                &format!("turn {number}: `max_tokens`"),
            )?
            .unwrap_or(session_max);
            let think = match turn.get("think_s") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => match n.as_f64() {
                    Some(s) if s.is_finite() && (0.0..=86_400.0).contains(&s) => {
                        Some(Duration::from_secs_f64(s))
                    }
                    _ => {
                        return Err(LineProblem::new(
                            format!("turn {number}: `think_s` {n} is out of range"),
                            "give the seconds the user thinks before this turn, from 0 to 86400",
                        ));
                    }
                },
                Some(_) => {
                    return Err(LineProblem::new(
                        format!("turn {number}: `think_s` is not a number"),
                        "give seconds as a number, e.g. `\"think_s\": 2.5`",
                    ));
                }
            };
            (user, max, think)
        }
        _ => {
            return Err(LineProblem::new(
                format!("turn {number} is neither text nor an object"),
                SHAPE,
            ));
        }
    };
    if user.trim().is_empty() {
        return Err(LineProblem::new(
            format!("turn {number}: the user text is empty"),
            "write what the user says in this turn, or remove the turn",
        ));
    }
    Ok(Turn {
        user,
        max_tokens,
        think,
    })
}

/// An optional whole number from 1 to `u32::MAX`.
pub fn positive(value: Option<&Value>, name: &str) -> Result<Option<u32>, LineProblem> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) if n >= 1 && n <= u64::from(u32::MAX) => Ok(Some(n as u32)),
            _ => Err(LineProblem::new(
                format!("{name} is {n}; it must be a whole number of at least 1"),
                "write a positive integer",
            )),
        },
        Some(_) => Err(LineProblem::new(
            format!("{name} is not a number"),
            "write a positive integer",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions() {
        let line = r#"{"id": 1, "system": "sys", "max_tokens": 64, "turns": ["a", {"user": "b", "think_s": 1.5, "max_tokens": 8}]}"#;
        let (item, session) = parse_line(line, 512).unwrap().unwrap();
        assert_eq!(session.system.as_deref(), Some("sys"));
        assert_eq!(session.turns.len(), 2);
        assert_eq!(session.turns[0].max_tokens, 64);
        assert_eq!(session.turns[1].max_tokens, 8);
        assert_eq!(session.turns[1].think, Some(Duration::from_millis(1500)));
        assert_eq!(item.max_tokens, 64);
        assert!(matches!(item.prompt, Prompt::Chat(ref m) if m.len() == 2 && m[1].content == "a"));
        let (item, session) = parse_line(r#"{"turns": ["only"]}"#, 512).unwrap().unwrap();
        assert_eq!(item.prompt, Prompt::Text("only".into()));
        assert_eq!(session.turns[0].max_tokens, 512);
    }

    #[test]
    fn errors() {
        let err = |line: &str| parse_line(line, 512).unwrap_err().message;
        assert_eq!(err(r#"{"turns": []}"#), "the conversation has no user turn");
        assert_eq!(err(r#"{"system": "s"}"#), "the conversation has no `turns`");
        assert_eq!(err(r#"{"turns": "hi"}"#), "`turns` is not a list");
        assert_eq!(
            err(r#"{"turns": [3]}"#),
            "turn 1 is neither text nor an object"
        );
        assert_eq!(
            err(r#"{"turns": ["a", {"text": "b"}]}"#),
            "turn 2 has no `user` text"
        );
        assert_eq!(err(r#"{"turns": [" "]}"#), "turn 1: the user text is empty");
        assert_eq!(
            err(r#"{"turns": [{"user": "a", "think_s": -1}]}"#),
            "turn 1: `think_s` -1 is out of range"
        );
        assert!(err("{").starts_with("bad JSON"));
        assert_eq!(err("[]"), "the line is not a JSON object");
    }
}
