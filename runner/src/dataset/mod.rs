//! Test sets: the prompts users send, in the original tool's two formats.
//!
//! - `lines`: one prompt per line, optionally prefixed `MAX_TOKENS|`
//!   (`256|写一首诗`); blank lines are skipped.
//! - `ceval`: `MAX_TOKENS| [{"role": ..., "content": ...}, ...]` per line; the
//!   part after `|` is a JSON list of chat messages, replayed as it is.
//!
//! [`load`] reads the whole file and reports every bad line (up to
//! [`MAX_REPORTED`], then how many more) so a broken test set is fixed in one
//! pass. Scenario validation only checks that the file exists and, for
//! `format: auto`, sniffs the first line with [`detect_format`].

mod parse;

use std::io::{self, BufRead};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::scenario::{DatasetFormat, DatasetSpec, Diagnostic, Diagnostics};

pub use parse::{LineProblem, parse_line};

/// How many bad lines are listed before "and N more".
pub const MAX_REPORTED: usize = 20;

/// What is sent: plain text, or a fixed list of chat messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// A `lines` prompt; the plugin wraps it as its protocol needs.
    Text(String),
    /// A `ceval` message list, sent as it is.
    Chat(Vec<ChatMessage>),
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, ...
    pub role: String,
    /// The text.
    pub content: String,
}

/// One test-set entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What to send.
    pub prompt: Prompt,
    /// The `max_tokens` to ask for: the line's prefix, else the scenario's
    /// `dataset.default_max_tokens`.
    pub max_tokens: u32,
}

/// A loaded test set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// The entries in file order (at least one).
    pub items: Vec<Item>,
    /// The file they came from.
    pub path: PathBuf,
    /// Its format.
    pub format: DatasetFormat,
}

/// Reads and parses the test set named by `spec`.
pub fn load(spec: &DatasetSpec) -> Result<Dataset, Diagnostics> {
    match std::fs::read(&spec.path) {
        Ok(bytes) => parse(&bytes, &spec.path, spec.format, spec.default_max_tokens),
        Err(error) => Err(Diagnostic::in_file(
            &spec.path,
            format!("cannot read the test set: {error}"),
        )
        .with_help("check the path given as `dataset.path` or --test-set")
        .into()),
    }
}

/// Parses test-set bytes as read from `path` (named in messages).
pub fn parse(
    bytes: &[u8],
    path: &Path,
    format: DatasetFormat,
    default_max_tokens: u32,
) -> Result<Dataset, Diagnostics> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut items = Vec::new();
    let mut problems: Vec<(u32, LineProblem)> = Vec::new();
    for (index, raw_line) in bytes.split(|&b| b == b'\n').enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let raw_line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        let line = match std::str::from_utf8(raw_line) {
            Ok(line) => line,
            Err(_) => {
                problems.push((number, LineProblem::not_utf8()));
                continue;
            }
        };
        match parse_line(line, format, default_max_tokens) {
            Ok(Some(item)) => items.push(item),
            Ok(None) => {}
            Err(problem) => problems.push((number, problem)),
        }
    }
    let mut diagnostics = Diagnostics::default();
    for (number, problem) in problems.iter().take(MAX_REPORTED) {
        diagnostics.push(
            Diagnostic::at_line(path, *number, problem.message.clone())
                .with_help(problem.help.clone()),
        );
    }
    if problems.len() > MAX_REPORTED {
        let more = problems.len() - MAX_REPORTED;
        diagnostics.push(
            Diagnostic::in_file(path, format!("and {more} more bad lines"))
                .with_help("fix the lines above, then run again to list the rest"),
        );
    }
    if problems.is_empty() && items.is_empty() {
        diagnostics.push(
            Diagnostic::in_file(path, "the test set has no prompts").with_help(match format {
                DatasetFormat::Lines => {
                    "write one prompt per line, optionally prefixed `MAX_TOKENS|`"
                }
                DatasetFormat::Ceval => {
                    "write one `MAX_TOKENS| [{\"role\": \"user\", \"content\": \"...\"}]` per line"
                }
            }),
        );
    }
    diagnostics.into_result(Dataset {
        items,
        path: path.to_path_buf(),
        format,
    })
}

/// The format of a test set for `format: auto`: `ceval` when the first
/// non-empty line looks like `123| [`, else `lines`.
pub fn detect_format(path: &Path) -> io::Result<DatasetFormat> {
    let mut reader = io::BufReader::new(std::fs::File::open(path)?);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(DatasetFormat::Lines);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_start_matches('\u{feff}').trim();
        if !text.is_empty() {
            return Ok(if looks_like_ceval(text) {
                DatasetFormat::Ceval
            } else {
                DatasetFormat::Lines
            });
        }
    }
}

/// `DIGITS | [` with optional spaces around the bar.
fn looks_like_ceval(line: &str) -> bool {
    let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    digits > 0
        && line[digits..]
            .trim_start()
            .strip_prefix('|')
            .is_some_and(|rest| rest.trim_start().starts_with('['))
}

#[cfg(test)]
mod tests;
