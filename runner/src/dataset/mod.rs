//! Test sets: the prompts users send.
//!
//! Formats (chosen by `dataset.format`, or detected, see [`detect_format`]):
//! - `lines`: one prompt per line, optionally prefixed `MAX_TOKENS|`
//!   (`256|写一首诗`); blank lines are skipped (the original's format);
//! - `ceval`: `MAX_TOKENS| [{"role": ..., "content": ...}, ...]` per line, a
//!   fixed list of chat messages replayed as it is (the original's);
//! - `jsonl`: one JSON object per line, fields found by dotted paths;
//! - `sharegpt`: ShareGPT conversations, first turn or whole sessions;
//! - `conversations`: multi-turn sessions with system prompt and think times;
//! - `synthetic`: generated from a corpus with drawn lengths.
//!
//! [`load`] reads the file once, reports every bad line (up to
//! [`MAX_REPORTED`], then how many more) so a broken set is fixed in one
//! pass, measures every item's input length (tokens with the scenario's
//! tokenizer, chars without), applies the filters and the limit, and sets up
//! the sampling order. Line formats are streamed, so a large file is never
//! held in memory next to its items.

mod conversations;
mod detect;
mod jsonl;
mod parse;
mod read;
mod sampler;
mod sharegpt;
mod synthetic;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::scenario::{DatasetFormat, DatasetSpec, Diagnostic, Diagnostics, SampleOrder};
use crate::tokenizer::Tokenizer;

pub use detect::detect_format;
pub use parse::{LineProblem, parse_line};
pub use sampler::{Sampler, SharedOrder};
pub use synthetic::{BUILTIN_CORPUS, Corpus, draw as draw_length};

/// How many bad lines are listed before "and N more".
pub const MAX_REPORTED: usize = 20;

/// What is sent: plain text, or a fixed list of chat messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// A text prompt; the plugin wraps it as its protocol needs.
    Text(String),
    /// A message list, sent as it is.
    Chat(Vec<ChatMessage>),
}

impl Prompt {
    /// The text whose length is the item's input length: the prompt, or
    /// the messages' contents joined by newlines (no chat template).
    pub fn text_for_length(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Prompt::Text(text) => text.as_str().into(),
            Prompt::Chat(messages) => messages
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>()
                .join("\n")
                .into(),
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, ...
    pub role: String,
    /// The text.
    pub content: String,
}

/// One test-set entry, as sent by a single-turn request (for a session:
/// its system prompt and first turn).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What to send.
    pub prompt: Prompt,
    /// The `max_tokens` to ask for: the line's own, else the scenario's
    /// `dataset.default_max_tokens`.
    pub max_tokens: u32,
    /// Input length, measured at load in [`Dataset::unit`]s.
    pub input_len: u32,
    /// Expected output length, when the set says (a `jsonl` field, a
    /// ShareGPT reply's chars, a synthetic draw).
    pub output_len: Option<u32>,
}

/// One user turn of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// What the user says.
    pub user: String,
    /// `max_tokens` for this turn's reply.
    pub max_tokens: u32,
    /// How long the user thinks after the previous reply before sending
    /// this turn, when the test set says (`None`: the scenario's
    /// `load.think_ms`, else no pause).
    pub think: Option<Duration>,
}

/// A multi-turn session: the user's turns, replayed with the server's real
/// replies in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The system prompt, if any.
    pub system: Option<String>,
    /// At least one turn.
    pub turns: Vec<Turn>,
}

/// The unit of input lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthUnit {
    /// Tokens of the scenario's tokenizer (special tokens excluded).
    Tokens,
    /// Unicode scalar values (a Chinese character is 1).
    Chars,
}

impl LengthUnit {
    /// `tokens` or `chars`.
    pub fn name(self) -> &'static str {
        match self {
            LengthUnit::Tokens => "tokens",
            LengthUnit::Chars => "chars",
        }
    }
}

/// A loaded test set.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The entries in file order, after filters and limit (at least one).
    /// For sessions, each is the session's first turn.
    pub items: Vec<Item>,
    /// For `conversations` and `sharegpt`: the session behind each item
    /// (same index); empty for single-turn formats.
    pub sessions: Vec<Session>,
    /// The file they came from (the corpus for `synthetic`).
    pub path: PathBuf,
    /// Its format.
    pub format: DatasetFormat,
    /// The unit of `input_len`.
    pub unit: LengthUnit,
    /// The scenario's tokenizer, also for counting output tokens.
    pub tokenizer: Option<Arc<Tokenizer>>,
    /// Entries read before the filters and the limit.
    pub read: usize,
    order: SharedOrder,
}

impl Dataset {
    /// A single-turn dataset made in code (calibration prompts), taken in
    /// file order; `path` names it in results. Empty `items` get one empty
    /// text prompt, so a dataset is never empty.
    pub fn from_items(mut items: Vec<Item>, path: PathBuf) -> Self {
        if items.is_empty() {
            items.push(Item {
                prompt: Prompt::Text(String::new()),
                max_tokens: 1,
                input_len: 0,
                output_len: None,
            });
        }
        let read = items.len();
        Dataset {
            order: SharedOrder::new(SampleOrder::Sequential, items.len(), 0),
            items,
            sessions: Vec::new(),
            path,
            format: DatasetFormat::Lines,
            unit: LengthUnit::Chars,
            tokenizer: None,
            read,
        }
    }

    /// A sampler for one user: `seed` seeds `random` order (the executor
    /// passes a per-level seed), `user` tells users apart.
    pub fn sampler(&self, seed: u64, user: u32) -> Sampler {
        self.order.sampler(seed, user)
    }

    /// The sampling order.
    pub fn order(&self) -> SampleOrder {
        self.order.order()
    }
}

/// Reads, checks and measures the test set named by `spec`.
pub fn load(spec: &DatasetSpec) -> Result<Dataset, Diagnostics> {
    let tokenizer = match &spec.tokenizer {
        Some(path) => Some(Arc::new(Tokenizer::load(path).map_err(Diagnostics::from)?)),
        None => None,
    };
    let (mut items, mut sessions, path) = match spec.format {
        DatasetFormat::Synthetic => synthetic_items(spec, tokenizer.as_deref())?,
        _ => {
            let (items, sessions) = read_file(spec)?;
            (items, sessions, spec.path.clone())
        }
    };
    let read = items.len();
    measure(&mut items, tokenizer.as_deref(), &path)?;
    let keep = |item: &Item| {
        spec.sampling
            .min_input
            .is_none_or(|min| item.input_len >= min)
            && spec
                .sampling
                .max_input
                .is_none_or(|max| item.input_len <= max)
    };
    let limit = spec.sampling.limit.map_or(usize::MAX, |l| l as usize);
    if !sessions.is_empty() {
        let mut kept_sessions = Vec::new();
        let mut kept_items = Vec::new();
        for (item, session) in items.into_iter().zip(sessions) {
            if keep(&item) && kept_items.len() < limit {
                kept_items.push(item);
                kept_sessions.push(session);
            }
        }
        items = kept_items;
        sessions = kept_sessions;
    } else {
        items.retain(keep);
        items.truncate(limit);
    }
    if items.is_empty() {
        let unit = if tokenizer.is_some() {
            "tokens"
        } else {
            "chars"
        };
        return Err(Diagnostic::in_file(
            &path,
            format!(
                "no prompt of the {read} read passes `sampling.min_input` / `max_input` ({unit})"
            ),
        )
        .with_help("widen the input-length filters, or remove them")
        .into());
    }
    Ok(Dataset {
        order: SharedOrder::new(spec.sampling.order, items.len(), spec.seed),
        items,
        sessions,
        path,
        format: spec.format,
        unit: if tokenizer.is_some() {
            LengthUnit::Tokens
        } else {
            LengthUnit::Chars
        },
        tokenizer,
        read,
    })
}

/// Every format read from a file: items, plus sessions for the multi-turn
/// ones.
fn read_file(spec: &DatasetSpec) -> Result<(Vec<Item>, Vec<Session>), Diagnostics> {
    let path = spec.path.as_path();
    let mut problems = read::Problems::new(path);
    let mut items = Vec::new();
    let mut sessions = Vec::new();
    let default = spec.default_max_tokens;
    if spec.format == DatasetFormat::Sharegpt {
        let bytes = read::read_all(path)?;
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            Err(error) => {
                let before = &bytes[..error.valid_up_to()];
                let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                let line = u32::try_from(line).unwrap_or(u32::MAX);
                problems.push(line, LineProblem::not_utf8());
                return Err(problems.into_diagnostics());
            }
        };
        for (item, session) in sharegpt::parse_file(text, spec.turns, default, &mut problems) {
            items.push(item);
            sessions.push(session);
        }
    } else {
        let mut reader = read::open(path)?;
        let paths = jsonl::Paths::new(&spec.fields);
        let mut each = |number: u32, line: &str, problems: &mut read::Problems| {
            let parsed = match spec.format {
                DatasetFormat::Jsonl => jsonl::parse_line(line, &paths, default),
                DatasetFormat::Conversations => match conversations::parse_line(line, default) {
                    Ok(Some((item, session))) => {
                        sessions.push(session);
                        Ok(Some(item))
                    }
                    Ok(None) => Ok(None),
                    Err(problem) => Err(problem),
                },
                _ => parse_line(line, spec.format, default),
            };
            match parsed {
                Ok(Some(item)) => items.push(item),
                Ok(None) => {}
                Err(problem) => problems.push(number, problem),
            }
        };
        // The line reader and the parser both report into `problems`; the
        // reader's own (non-UTF-8 lines) are gathered apart and merged.
        let mut reader_problems = read::Problems::new(path);
        read::for_each_line(&mut reader, &mut reader_problems, |n, line| {
            each(n, line, &mut problems)
        })
        .map_err(|e| read::io_error(path, &e))?;
        problems.merge(reader_problems);
    }
    if !problems.is_empty() {
        return Err(problems.into_diagnostics());
    }
    if items.is_empty() {
        return Err(Diagnostic::in_file(path, "the test set has no prompts")
            .with_help(match spec.format {
                DatasetFormat::Ceval => {
                    "write one `MAX_TOKENS| [{\"role\": \"user\", \"content\": \"...\"}]` per line"
                }
                DatasetFormat::Jsonl => "write one JSON object per line, e.g. `{\"prompt\": \"...\"}`",
                DatasetFormat::Sharegpt => {
                    "write a JSON list of `{\"conversations\": [{\"from\": \"human\", \"value\": \"...\"}]}` entries"
                }
                DatasetFormat::Conversations => {
                    "write one `{\"turns\": [\"...\"]}` per line"
                }
                DatasetFormat::Lines | DatasetFormat::Synthetic => {
                    "write one prompt per line, optionally prefixed `MAX_TOKENS|`"
                }
            })
            .into());
    }
    Ok((items, sessions))
}

/// Generated items, from the scenario's corpus or the shipped one.
fn synthetic_items(
    spec: &DatasetSpec,
    tokenizer: Option<&Tokenizer>,
) -> Result<(Vec<Item>, Vec<Session>, PathBuf), Diagnostics> {
    let Some(synthetic) = &spec.synthetic else {
        return Err(
            Diagnostic::flag("dataset", "`format: synthetic` without settings")
                .with_help("add a `synthetic` section")
                .into(),
        );
    };
    let (raw, path) = match &synthetic.corpus {
        Some(path) => {
            let bytes = read::read_all(path)?;
            match String::from_utf8(bytes) {
                Ok(text) => (text, path.clone()),
                Err(_) => {
                    return Err(Diagnostic::in_file(path, "the corpus is not valid UTF-8")
                        .with_help(LineProblem::not_utf8().help)
                        .into());
                }
            }
        }
        None => (
            BUILTIN_CORPUS.to_string(),
            PathBuf::from("resources/corpus.txt (built in)"),
        ),
    };
    let Some(corpus) = Corpus::new(&raw) else {
        return Err(Diagnostic::in_file(&path, "the corpus holds no text")
            .with_help("give a UTF-8 text file with some paragraphs of prose")
            .into());
    };
    let items = synthetic::generate(synthetic, &corpus, tokenizer, spec.seed).map_err(|e| {
        Diagnostics::from(
            Diagnostic::in_file(&path, format!("cannot cut synthetic prompts: {e}"))
                .with_help("check the tokenizer, or use a larger corpus"),
        )
    })?;
    Ok((items, Vec::new(), path))
}

/// Fills every item's `input_len`: tokens (encoded in parallel batches)
/// or chars.
fn measure(
    items: &mut [Item],
    tokenizer: Option<&Tokenizer>,
    path: &Path,
) -> Result<(), Diagnostics> {
    let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let Some(tokenizer) = tokenizer else {
        for item in items.iter_mut() {
            item.input_len = to_u32(item.prompt.text_for_length().chars().count());
        }
        return Ok(());
    };
    for chunk in items.chunks_mut(4096) {
        let texts: Vec<std::borrow::Cow<'_, str>> =
            chunk.iter().map(|i| i.prompt.text_for_length()).collect();
        let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let counts = tokenizer.count_many(&refs).map_err(|e| {
            Diagnostics::from(
                Diagnostic::in_file(path, format!("the tokenizer cannot encode a prompt: {e}"))
                    .with_help(format!(
                        "check that `{}` is the model's tokenizer.json",
                        tokenizer.path().display()
                    )),
            )
        })?;
        for (item, n) in chunk.iter_mut().zip(counts) {
            item.input_len = to_u32(n);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
