//! The sub-sections of `dataset:` as written: the `jsonl` field map, the
//! synthetic generator, length distributions and sampling. Checked by
//! [`super::dataset`]; doc comments become the schema's descriptions.

use schemars::JsonSchema;
use serde::Deserialize;

use super::tree::Located;

/// Where the fields of a `jsonl` line live. Each is a dotted path
/// (`data.question`, `messages.0.content`; a number indexes a list). Every
/// line needs a prompt or messages; `max_tokens` and `output_len` may be
/// missing on a line (it then falls back).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FieldsSection {
    /// The prompt text (a string). Default: `prompt`.
    pub prompt: Option<Located<String>>,
    /// A chat message list `[{"role": ..., "content": ...}]`, sent as it is;
    /// used instead of `prompt` when a line has it. Default: `messages`.
    pub messages: Option<Located<String>>,
    /// The line's `max_tokens` (an integer). Default: `max_tokens`; a line
    /// without one uses its expected output length, else
    /// `default_max_tokens`.
    pub max_tokens: Option<Located<String>>,
    /// The expected output length (an integer), kept for the report.
    /// Default: `output_len`.
    pub output_len: Option<Located<String>>,
}

/// ShareGPT turns to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TurnsChoice {
    /// The first user turn, as a single prompt (its reply's length is the
    /// expected output length).
    First,
    /// Every user turn, as a multi-turn session.
    All,
}

/// Generated prompts: real text from a corpus, cut to drawn lengths.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SyntheticSection {
    /// How many prompts to generate; at least 1. Default: 1000.
    pub count: Option<Located<u32>>,
    /// Input length of each prompt (after any shared prefix): tokens with
    /// `dataset.tokenizer`, chars without. Required.
    pub input: Option<Located<LengthSection>>,
    /// Output length: each prompt's `max_tokens` and expected output length.
    /// Default: `default_max_tokens`, fixed.
    pub output: Option<Located<LengthSection>>,
    /// A prefix shared by some prompts, for prefix-cache tests.
    pub prefix: Option<Located<PrefixSection>>,
    /// A UTF-8 text file to draw from, relative to the scenario file's
    /// folder. Default: the shipped Chinese and English corpus
    /// (`resources/corpus.txt`).
    pub corpus: Option<Located<String>>,
}

/// A length distribution.
///
/// - `fixed`: every length is `mean`;
/// - `uniform`: whole numbers from `min` to `max`;
/// - `normal`: `mean` and `std`, rounded, clamped to `[min, max]`;
/// - `lognormal`: lengths whose mean and standard deviation are `mean` and
///   `std` (a long right tail), clamped to `[min, max]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LengthSection {
    /// The distribution. Default: `fixed`.
    pub dist: Option<Located<DistChoice>>,
    /// Mean length (`fixed`, `normal`, `lognormal`); at least 1.
    pub mean: Option<Located<f64>>,
    /// Standard deviation (`normal`, `lognormal`); at least 0.
    pub std: Option<Located<f64>>,
    /// Smallest length (`uniform`; a clamp for the others). Default: 1.
    pub min: Option<Located<u32>>,
    /// Largest length (`uniform`; a clamp for the others). Default: no
    /// clamp beyond 1,000,000.
    pub max: Option<Located<u32>>,
}

/// Length distributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DistChoice {
    /// Always `mean`.
    Fixed,
    /// Uniform over `min..=max`.
    Uniform,
    /// Normal (`mean`, `std`).
    Normal,
    /// Log-normal with lengths of mean `mean` and deviation `std`.
    Lognormal,
}

/// A shared prefix: `ratio` of the prompts start with the same `length`
/// of text, so a server's prefix cache can reuse it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PrefixSection {
    /// Prefix length, in the same unit as `input`; at least 1. Required.
    pub length: Option<Located<u32>>,
    /// Fraction of prompts that start with the prefix, from 0 to 1.
    /// Default: 1.
    pub ratio: Option<Located<f64>>,
}

/// Which items are kept, and the order users take them in.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SamplingSection {
    /// `random`: each user picks at random, with replacement (the
    /// original's way); `sequential`: users walk the items in file order
    /// together, wrapping; `shuffle`: the same over one permutation seeded
    /// by `dataset.seed`. Default: `random`.
    pub order: Option<OrderChoice>,
    /// Keep items whose input is at least this long (tokens with a
    /// tokenizer, chars without; a session's first turn counts).
    pub min_input: Option<Located<u32>>,
    /// Keep items whose input is at most this long.
    pub max_input: Option<Located<u32>>,
    /// Keep at most this many items (the first ones after the filters); at
    /// least 1.
    pub limit: Option<Located<u32>>,
}

/// Sampling orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrderChoice {
    /// At random, with replacement.
    Random,
    /// File order, shared by all users.
    Sequential,
    /// A seeded permutation, shared by all users.
    Shuffle,
}
