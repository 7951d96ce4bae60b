//! `format: auto` (and `--test-set`): the format from the first non-empty
//! line, so the original's files and the JSON formats all work unnamed.

use std::io::{self, BufRead};
use std::path::Path;

use serde_json::Value;

use crate::scenario::DatasetFormat;

/// The format of a test set:
/// - `123| [` → `ceval`;
/// - a JSON object with `turns` → `conversations`, with `conversations` (or
///   a ShareGPT `from`/`value` message list) → `sharegpt`, any other
///   object → `jsonl`;
/// - a lone `[`, or a `[` line mentioning `"conversations"` → `sharegpt`;
/// - anything else → `lines`.
pub fn detect_format(path: &Path) -> io::Result<DatasetFormat> {
    let mut reader = io::BufReader::new(std::fs::File::open(path)?);
    let mut line = Vec::new();
    // Bounded by the file: each pass reads one more line.
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(DatasetFormat::Lines);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_start_matches('\u{feff}').trim();
        if !text.is_empty() {
            return Ok(sniff(text));
        }
    }
}

/// The format a first non-empty line suggests.
pub fn sniff(line: &str) -> DatasetFormat {
    if looks_like_ceval(line) {
        return DatasetFormat::Ceval;
    }
    if line == "[" || (line.starts_with('[') && line.contains("\"conversations\"")) {
        return DatasetFormat::Sharegpt;
    }
    if line.starts_with('{')
        && let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line)
    {
        if object.contains_key("turns") {
            return DatasetFormat::Conversations;
        }
        if object.contains_key("conversations") {
            return DatasetFormat::Sharegpt;
        }
        return DatasetFormat::Jsonl;
    }
    DatasetFormat::Lines
}

/// `DIGITS | [` with optional spaces around the bar.
pub fn looks_like_ceval(line: &str) -> bool {
    let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    digits > 0
        && line[digits..]
            .trim_start()
            .strip_prefix('|')
            .is_some_and(|rest| rest.trim_start().starts_with('['))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert!(looks_like_ceval("512| [{\"role\": \"user\"}]"));
        assert!(looks_like_ceval("512 |[ ]"));
        assert!(!looks_like_ceval("512| hello [x]"));
        assert!(!looks_like_ceval("| ["));
        assert!(!looks_like_ceval("[{\"role\": \"user\"}]"));
        assert_eq!(sniff("[{\"role\": \"user\"}]"), DatasetFormat::Lines);
        assert_eq!(sniff("{\"turns\": [\"a\"]}"), DatasetFormat::Conversations);
        assert_eq!(sniff("{\"conversations\": []}"), DatasetFormat::Sharegpt);
        assert_eq!(sniff("{\"prompt\": \"a\"}"), DatasetFormat::Jsonl);
        assert_eq!(sniff("["), DatasetFormat::Sharegpt);
        assert_eq!(
            sniff("[{\"id\": 1, \"conversations\": []}]"),
            DatasetFormat::Sharegpt
        );
        // A line that only looks like JSON is a prompt.
        assert_eq!(sniff("{not json} please explain"), DatasetFormat::Lines);
    }
}
