//! The validated dataset section: which file, in which format, how its
//! fields are found, how synthetic prompts are drawn and how items are
//! sampled. Built by [`super::dataset`]; read by [`crate::dataset::load`].

use std::path::PathBuf;

/// Test-set formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DatasetFormat {
    /// One prompt per line, optional `MAX_TOKENS|` prefix.
    #[default]
    Lines,
    /// `MAX_TOKENS| [messages JSON]` per line, sent as chat messages.
    Ceval,
    /// One JSON object per line; [`FieldMap`] says where the fields are.
    Jsonl,
    /// The ShareGPT layout: `{"conversations": [{"from": "human", "value": ...}, ...]}`,
    /// as a JSON array or one object per line.
    Sharegpt,
    /// Multi-turn sessions, one JSON object per line:
    /// `{"system": ..., "turns": [...]}`.
    Conversations,
    /// Prompts generated from a corpus with drawn lengths.
    Synthetic,
}

impl DatasetFormat {
    /// The name used in scenarios and results (`lines`, `jsonl`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DatasetFormat::Lines => "lines",
            DatasetFormat::Ceval => "ceval",
            DatasetFormat::Jsonl => "jsonl",
            DatasetFormat::Sharegpt => "sharegpt",
            DatasetFormat::Conversations => "conversations",
            DatasetFormat::Synthetic => "synthetic",
        }
    }
}

/// Where the fields of a `jsonl` line live: dotted paths (`data.question`,
/// `turns.0.text`); a number indexes a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMap {
    /// The prompt text.
    pub prompt: String,
    /// A chat message list (`[{"role", "content"}]`), used when present.
    pub messages: String,
    /// `max_tokens` of the line.
    pub max_tokens: String,
    /// The expected output length.
    pub output_len: String,
    /// Whether the prompt and messages paths were written in the scenario
    /// (a line then needs the one written) or are defaults.
    pub explicit: FieldsGiven,
}

/// Which [`FieldMap`] prompt paths the scenario wrote out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldsGiven {
    /// `fields.prompt` was given.
    pub prompt: bool,
    /// `fields.messages` was given.
    pub messages: bool,
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap {
            prompt: "prompt".into(),
            messages: "messages".into(),
            max_tokens: "max_tokens".into(),
            output_len: "output_len".into(),
            explicit: FieldsGiven::default(),
        }
    }
}

/// Which turns of a ShareGPT conversation are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Turns {
    /// The first user turn only, as a single-turn prompt.
    #[default]
    First,
    /// Every user turn, as a multi-turn session.
    All,
}

/// A length distribution. Lengths are whole units (tokens with a tokenizer,
/// chars without), clamped to `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LengthDist {
    /// Always `n`.
    Fixed(u32),
    /// Uniform over `min..=max`.
    Uniform {
        /// Smallest length.
        min: u32,
        /// Largest length.
        max: u32,
    },
    /// Normal with this mean and standard deviation, rounded and clamped.
    Normal {
        /// Mean length.
        mean: f64,
        /// Standard deviation.
        std: f64,
        /// Smallest length kept.
        min: u32,
        /// Largest length kept.
        max: u32,
    },
    /// Log-normal whose *lengths* have this mean and standard deviation.
    Lognormal {
        /// Mean length.
        mean: f64,
        /// Standard deviation of the lengths.
        std: f64,
        /// Smallest length kept.
        min: u32,
        /// Largest length kept.
        max: u32,
    },
}

/// A prefix shared by some synthetic prompts, for prefix-cache tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SharedPrefix {
    /// Length of the prefix (tokens with a tokenizer, chars without).
    pub length: u32,
    /// Fraction of prompts that start with it, in `[0, 1]`.
    pub ratio: f64,
}

/// How synthetic prompts are generated.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpec {
    /// How many prompts.
    pub count: u32,
    /// Input length of each prompt (after the shared prefix).
    pub input: LengthDist,
    /// Output length of each prompt: its `max_tokens` and expected output.
    pub output: LengthDist,
    /// The shared prefix, if any.
    pub prefix: Option<SharedPrefix>,
    /// A text file to draw from instead of the shipped corpus.
    pub corpus: Option<PathBuf>,
}

/// The order in which users take items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SampleOrder {
    /// Each user picks an item at random, with replacement (the original).
    #[default]
    Random,
    /// All users walk the items in file order, together, wrapping at the end.
    Sequential,
    /// Like `Sequential`, over one seeded permutation of the items.
    Shuffle,
}

/// Which items are kept and how they are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sampling {
    /// The order.
    pub order: SampleOrder,
    /// Keep items whose input length is at least this.
    pub min_input: Option<u32>,
    /// Keep items whose input length is at most this.
    pub max_input: Option<u32>,
    /// Keep at most this many items (the first ones, after the filters).
    pub limit: Option<u32>,
}

/// Where the prompts come from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatasetSpec {
    /// The file format.
    pub format: DatasetFormat,
    /// The file, resolved against the scenario's folder (empty for
    /// `synthetic`).
    pub path: PathBuf,
    /// `max_tokens` for items that do not give one.
    pub default_max_tokens: u32,
    /// A `tokenizer.json`: input lengths (and synthetic lengths) in tokens.
    pub tokenizer: Option<PathBuf>,
    /// `jsonl` field paths.
    pub fields: FieldMap,
    /// `sharegpt`: first turn or whole sessions.
    pub turns: Turns,
    /// `synthetic` settings (present exactly when the format is synthetic).
    pub synthetic: Option<SyntheticSpec>,
    /// Filters, limit and order.
    pub sampling: Sampling,
    /// Seed of the shuffle and of synthetic generation.
    pub seed: u64,
}
