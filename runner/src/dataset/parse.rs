//! One test-set line to one [`Item`], or the reason it is not one.

use serde_json::Value;

use super::{ChatMessage, Item, Prompt};
use crate::scenario::DatasetFormat;

/// Why a line is not a valid entry, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// What is wrong.
    pub message: String,
    /// The fix.
    pub help: String,
}

impl LineProblem {
    /// A problem and its fix.
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        LineProblem {
            message: message.into(),
            help: help.into(),
        }
    }

    /// A line that is not UTF-8 text.
    pub fn not_utf8() -> Self {
        LineProblem::new(
            "the line is not valid UTF-8",
            "save the test set as UTF-8; a GBK file converts with `iconv -f GB18030 -t UTF-8 in.txt > out.txt`",
        )
    }
}

const CEVAL_HELP: &str = "write `MAX_TOKENS| [{\"role\": \"system\", \"content\": \"...\"}, {\"role\": \"user\", \"content\": \"...\"}]`";

/// Parses one `lines` or `ceval` line (any other format reads as `lines`);
/// `Ok(None)` for a blank line.
pub fn parse_line(
    line: &str,
    format: DatasetFormat,
    default_max_tokens: u32,
) -> Result<Option<Item>, LineProblem> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let (prefix, rest) = split_prefix(line)?;
    let max_tokens = prefix.unwrap_or(default_max_tokens);
    let after = match prefix {
        Some(n) => format!(" after `{n}|`"),
        None => String::new(),
    };
    let prompt = if format == DatasetFormat::Ceval {
        Prompt::Chat(messages(rest.trim(), &after)?)
    } else {
        let text = rest.trim();
        if text.is_empty() {
            return Err(LineProblem::new(
                format!("the prompt{after} is empty"),
                "write the prompt after the `MAX_TOKENS|` prefix, or delete the line",
            ));
        }
        Prompt::Text(text.to_string())
    };
    Ok(Some(Item {
        prompt,
        max_tokens,
        input_len: 0,
        output_len: None,
    }))
}

/// Splits an optional `DIGITS|` prefix off a line. Text before a `|` that is
/// not all digits is part of the prompt, not a prefix.
fn split_prefix(line: &str) -> Result<(Option<u32>, &str), LineProblem> {
    let Some((head, rest)) = line.split_once('|') else {
        return Ok((None, line));
    };
    let digits = head.trim();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Ok((None, line));
    }
    match digits.parse::<u32>() {
        Ok(0) => Err(LineProblem::new(
            "the `MAX_TOKENS|` prefix is 0",
            "ask for at least 1 token, e.g. `512|`",
        )),
        Ok(n) => Ok((Some(n), rest)),
        Err(_) => Err(LineProblem::new(
            format!("the `MAX_TOKENS|` prefix `{digits}` is too large"),
            format!("use at most {} tokens", u32::MAX),
        )),
    }
}

fn messages(json: &str, after: &str) -> Result<Vec<ChatMessage>, LineProblem> {
    if !json.starts_with('[') {
        return Err(LineProblem::new(
            format!("expected a JSON list of messages{after}"),
            CEVAL_HELP,
        ));
    }
    let value: Value = serde_json::from_str(json)
        .map_err(|e| LineProblem::new(format!("bad JSON{after}: {e}"), CEVAL_HELP))?;
    let Value::Array(list) = value else {
        return Err(LineProblem::new(
            format!("expected a JSON list of messages{after}"),
            CEVAL_HELP,
        ));
    };
    message_list(&list)
}

/// A JSON list of `{"role", "content"}` objects as chat messages.
pub fn message_list(list: &[Value]) -> Result<Vec<ChatMessage>, LineProblem> {
    if list.is_empty() {
        return Err(LineProblem::new(
            "the message list is empty",
            "give at least one message, e.g. `[{\"role\": \"user\", \"content\": \"...\"}]`",
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, message)| {
            let number = i + 1;
            let field = |name: &str| match message.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(LineProblem::new(
                    format!("message {number}: `{name}` is not a string"),
                    format!("write `\"{name}\": \"...\"` as a JSON string"),
                )),
                None => Err(LineProblem::new(
                    format!("message {number} has no `{name}`"),
                    "every message is `{\"role\": \"...\", \"content\": \"...\"}`",
                )),
            };
            if !message.is_object() {
                return Err(LineProblem::new(
                    format!("message {number} is not a JSON object"),
                    "every message is `{\"role\": \"...\", \"content\": \"...\"}`",
                ));
            }
            let role = field("role")?;
            if role.trim().is_empty() {
                return Err(LineProblem::new(
                    format!("message {number} has an empty `role`"),
                    "use `system`, `user` or `assistant`",
                ));
            }
            Ok(ChatMessage {
                role,
                content: field("content")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &str) -> Item {
        parse_line(line, DatasetFormat::Lines, 512)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn lines_prefixes() {
        assert_eq!(
            text("写一首诗"),
            Item {
                prompt: Prompt::Text("写一首诗".into()),
                max_tokens: 512,
                input_len: 0,
                output_len: None,
            }
        );
        assert_eq!(text("64|hi").max_tokens, 64);
        assert_eq!(text(" 64 | hi ").prompt, Prompt::Text("hi".into()));
        // Not a prefix: the text before `|` is not all digits.
        assert_eq!(text("a|b").prompt, Prompt::Text("a|b".into()));
        assert_eq!(text("64x|b").prompt, Prompt::Text("64x|b".into()));
        // Only the first bar is the prefix.
        assert_eq!(text("8|x | y").prompt, Prompt::Text("x | y".into()));
        assert_eq!(parse_line("   ", DatasetFormat::Lines, 512), Ok(None));
    }

    #[test]
    fn lines_errors() {
        let err = |line: &str| {
            parse_line(line, DatasetFormat::Lines, 512)
                .unwrap_err()
                .message
        };
        assert_eq!(err("0|x"), "the `MAX_TOKENS|` prefix is 0");
        assert_eq!(
            err("99999999999|x"),
            "the `MAX_TOKENS|` prefix `99999999999` is too large"
        );
        assert_eq!(err("12|  "), "the prompt after `12|` is empty");
    }

    #[test]
    fn ceval_lines() {
        let item = parse_line(
            r#"256| [{"role": "system", "content": "考官"}, {"role": "user", "content": "1+1=?"}]"#,
            DatasetFormat::Ceval,
            512,
        )
        .unwrap()
        .unwrap();
        assert_eq!(item.max_tokens, 256);
        assert_eq!(
            item.prompt,
            Prompt::Chat(vec![
                ChatMessage {
                    role: "system".into(),
                    content: "考官".into()
                },
                ChatMessage {
                    role: "user".into(),
                    content: "1+1=?".into()
                },
            ])
        );
        let unprefixed = parse_line(
            r#"[{"role":"user","content":"x"}]"#,
            DatasetFormat::Ceval,
            9,
        );
        assert_eq!(unprefixed.unwrap().unwrap().max_tokens, 9);
    }

    #[test]
    fn ceval_errors() {
        let err = |line: &str| {
            parse_line(line, DatasetFormat::Ceval, 512)
                .unwrap_err()
                .message
        };
        assert!(err(r#"5| [{"role": "user", "content": "x"}"#).starts_with("bad JSON after `5|`"));
        assert_eq!(
            err("5| hello"),
            "expected a JSON list of messages after `5|`"
        );
        assert_eq!(err("5| []"), "the message list is empty");
        assert_eq!(
            err(r#"5| [{"role": "user"}]"#),
            "message 1 has no `content`"
        );
        assert_eq!(
            err(r#"5| [{"content": "x"}, {"role": "user", "content": "y"}]"#),
            "message 1 has no `role`"
        );
        assert_eq!(
            err(r#"5| [{"role": 1, "content": "x"}]"#),
            "message 1: `role` is not a string"
        );
        assert_eq!(err(r#"5| ["hi"]"#), "message 1 is not a JSON object");
        assert_eq!(
            err(r#"5| [{"role": " ", "content": "x"}]"#),
            "message 1 has an empty `role`"
        );
    }
}
