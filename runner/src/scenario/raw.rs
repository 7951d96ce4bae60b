//! The scenario file as written: serde types that mirror the YAML one to one.
//!
//! Nothing here is checked beyond its shape; [`super::validate`] turns these
//! into the validated [`super::Scenario`]. The doc comments become the
//! descriptions of `resources/scenario.schema.json`, so they say units and
//! defaults. Every struct is `deny_unknown_fields` *in the schema*; serde
//! itself ignores unknown keys because the structural pass has already
//! reported and pruned them (see the module doc of [`super`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use super::raw_dataset::{FieldsSection, SamplingSection, SyntheticSection, TurnsChoice};
use super::raw_load::LoadSection;
use super::tree::{Located, Node};
use crate::mock::MockConfig;

/// A load-test scenario: what to call, with which prompts, at which loads.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "Scenario")]
pub struct ScenarioFile {
    /// Identifier of the run; names the output folder
    /// `WORK_DIR/output/<name>-<timestamp>/`. Default: `benchmark`.
    pub name: Option<Located<String>>,
    /// Free text describing the run, copied into the report. Default: empty.
    pub description: Option<String>,
    /// The server under test and how to talk to it. Required unless `--url`
    /// is given.
    pub target: Option<Located<TargetSection>>,
    /// The prompts. Required unless `--test-set` is given.
    pub dataset: Option<Located<DatasetSection>>,
    /// The load levels. Default: the original tool's 28-level ramp.
    pub load: Option<LoadSection>,
    /// Where results go.
    pub output: Option<OutputSection>,
    /// Live progress.
    pub live: Option<LiveSection>,
    /// Service-level objectives for goodput: a request is good when it
    /// succeeded and meets every objective given. Default: none.
    pub slo: Option<SloSection>,
    /// Before the run, drive the in-process mock briefly at the highest
    /// level's users and the target's chunk rate, and record the runner's
    /// own ceiling and added latency in results.json and the report (see
    /// `runner calibrate`). Default: false.
    pub calibrate: Option<bool>,
}

/// Service-level objectives, each a duration (`500ms`, `2s`, ...).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SloSection {
    /// Time to first token (t_1 − sent) at most this.
    pub ttft: Option<Located<DurationText>>,
    /// Time per output token ((t_N − t_1) / (N − 1)) at most this.
    pub tpot: Option<Located<DurationText>>,
    /// Every gap between two content events of the request at most this.
    pub itl: Option<Located<DurationText>>,
    /// End-to-end latency (end − sent) at most this.
    pub e2e: Option<Located<DurationText>>,
}

/// The server under test. Give exactly one of `url` and `mock`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TargetSection {
    /// Base URL of the server, e.g. `http://127.0.0.1:30000` (http or
    /// https). `${env:NAME}` is replaced by the environment variable.
    pub url: Option<Located<String>>,
    /// Run the embedded mock LLM server on 127.0.0.1 instead of calling a
    /// real one. `mock: {}` uses the defaults.
    pub mock: Option<Located<MockConfig>>,
    /// Protocol plugin: a built-in name (`openai-chat`) or a path ending in
    /// `.wasm`, relative to the scenario file's folder. Default: `openai-chat`.
    pub plugin: Option<Located<String>>,
    /// Ask for streamed responses. Default: true.
    pub stream: Option<bool>,
    /// JSON object merged into every request body by the plugin (model,
    /// temperature, stop, ...). `${env:NAME}` is replaced inside string
    /// values. Default: `{}`.
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub params: Option<Node>,
    /// Extra HTTP headers, name to value. `${env:NAME}` is replaced inside
    /// values, and the replaced values are redacted from every output.
    /// Default: none.
    pub headers: Option<Located<KeyValues>>,
    /// Request timeouts; each expiry is its own error class.
    pub timeouts: Option<TimeoutsSection>,
}

/// Request timeouts. Each is a duration (`500ms`, `10s`, `2m`, `1h`, or a
/// number of seconds) and more than zero.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TimeoutsSection {
    /// TCP (and TLS) connect. Default: `10s`.
    pub connect: Option<Located<DurationText>>,
    /// From sending the request to the first content event. Default: `120s`.
    pub first_token: Option<Located<DurationText>>,
    /// Longest silence between two reads of the response body. Default: `60s`.
    pub idle: Option<Located<DurationText>>,
    /// Whole request, from sending to the end of the response. Default: `10m`.
    pub total: Option<Located<DurationText>>,
}

/// The test set (see `raw_dataset.rs` for its sub-sections).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DatasetSection {
    /// File format. Default: `auto`.
    pub format: Option<Located<FormatChoice>>,
    /// The test-set file, relative to the scenario file's folder. Not used
    /// by `synthetic` (see `synthetic.corpus`).
    pub path: Option<Located<String>>,
    /// `max_tokens` for prompts that do not give one (no `MAX_TOKENS|`
    /// prefix, no `max_tokens` field); at least 1. Default: 512.
    pub default_max_tokens: Option<Located<u32>>,
    /// A Hugging Face `tokenizer.json` of the model under test, relative to
    /// the scenario file's folder. With it, input lengths (filters, synthetic
    /// lengths) are in tokens; without it, in chars. Read offline: nothing is
    /// fetched. Default: none.
    pub tokenizer: Option<Located<String>>,
    /// `jsonl`: where each line's fields live (dotted paths).
    pub fields: Option<Located<FieldsSection>>,
    /// `sharegpt`: `first` takes the first user turn as a single prompt;
    /// `all` keeps every user turn as a multi-turn session. Default: `first`.
    pub turns: Option<Located<TurnsChoice>>,
    /// `synthetic`: how prompts are generated. Required for that format.
    pub synthetic: Option<Located<SyntheticSection>>,
    /// Which items are kept and in which order users take them.
    pub sampling: Option<Located<SamplingSection>>,
    /// Seed of the shuffle and of synthetic generation. Default: 42.
    pub seed: Option<u64>,
}

/// Test-set file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FormatChoice {
    /// Detected from the first non-empty line: `ceval` for `123| [`, a JSON
    /// object with `turns` is `conversations`, with `conversations` is
    /// `sharegpt`, any other object `jsonl`, a lone `[` `sharegpt`; else
    /// `lines`.
    Auto,
    /// One prompt per line, optionally prefixed `MAX_TOKENS|`.
    Lines,
    /// `MAX_TOKENS| [{"role": ..., "content": ...}, ...]` per line, sent as
    /// chat messages.
    Ceval,
    /// One JSON object per line; `fields` says where the prompt is.
    Jsonl,
    /// ShareGPT: `{"conversations": [{"from": "human", "value": ...}, ...]}`
    /// items, as a JSON array or one per line.
    Sharegpt,
    /// Multi-turn sessions, one per line:
    /// `{"system": "...", "turns": ["...", {"user": "...", "think_s": 2}]}`.
    Conversations,
    /// Prompts drawn from a corpus with lengths from `synthetic`.
    Synthetic,
}

/// Where results go.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OutputSection {
    /// Results are written under `WORK_DIR/output/<name>-<timestamp>/`.
    /// Relative to the scenario file's folder. Default: the current directory.
    pub work_dir: Option<Located<String>>,
}

/// Live progress.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LiveSection {
    /// Interval between two live lines; more than zero. Default: `30s`.
    pub interval: Option<Located<DurationText>>,
    /// Language of the live line and labels. Default: `zh`.
    pub lang: Option<LangChoice>,
    /// Which live lines to print: `original` (the original tool's line,
    /// exactly as it was), `modern` (in-flight against target, completed
    /// and errors, TTFT p50/p99, TPOT p50, tokens/s and chars/s), or `both`
    /// (the original's line with the modern one under it). Default: `both`.
    pub style: Option<LiveStyleChoice>,
}

/// Which live lines to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LiveStyleChoice {
    /// The original tool's line only.
    Original,
    /// The runner's modern line only.
    Modern,
    /// The original's line with the modern one under it.
    Both,
}

/// Languages of the live line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LangChoice {
    /// The original tool's Chinese labels.
    Zh,
    /// English labels.
    En,
}

/// A number of concurrent users; at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct LevelUsers(pub u32);

impl JsonSchema for LevelUsers {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "LevelUsers".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "format": "uint32",
            "minimum": 1
        })
    }
}

/// A duration as written: `500ms`, `1.5s`, `2m`, `1h`, or a bare number of
/// seconds. Parsed during validation so a bad one is reported with the others.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DurationText(pub String);

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: a number with a unit `ms`, `s`, `m` or `h` (`500ms`, `1.5s`, `2m`), or a bare number of seconds.",
            "type": ["string", "number"],
            "pattern": "^[0-9]+(\\.[0-9]+)?(ms|s|m|h)?$",
            "minimum": 0
        })
    }
}

/// A string-to-string mapping that keeps the file's order and every position.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyValues(pub Vec<(Located<String>, Located<String>)>);

impl<'de> Deserialize<'de> for KeyValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = KeyValues;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names to text values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyValues, A::Error> {
                let mut pairs = Vec::new();
                while let Some(key) = map.next_key()? {
                    pairs.push((key, map.next_value()?));
                }
                Ok(KeyValues(pairs))
            }
        }
        deserializer.deserialize_map(PairsVisitor)
    }
}

impl JsonSchema for KeyValues {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "KeyValues".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        BTreeMap::<String, String>::json_schema(generator)
    }
}
