//! Raw YAML types of the `load` section, as written, with positions.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

use super::raw::{DurationText, LevelUsers};
use super::raw_dataset::LengthSection;
use super::tree::Located;

/// The load: closed-loop `levels` (the original's), or a list of `phases`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LoadSection {
    /// Concurrent users of each level, each at least 1. Default: the original
    /// tool's ramp 1, 4, 7, ..., 982 (start at 1, then
    /// `n = max(n + 3, ceil(1.2 n))` while `n < 1024`). Not with `phases`.
    pub levels: Option<Located<Vec<Located<LevelUsers>>>>,
    /// Phases run in order: each names exactly one of `users`, `ramp`,
    /// `rate`, `replay`, `sweep` or `search`. Not with `levels`.
    pub phases: Option<Located<Vec<Located<PhaseSection>>>>,
    /// How long each level (or step of a phase without its own `duration`
    /// or `requests`) runs; more than zero. Default: `1800s`.
    pub duration: Option<Located<DurationText>>,
    /// Pause between two levels or steps. Default: `10s`.
    pub pause: Option<Located<DurationText>>,
    /// How long a user waits after a failed request before its next one.
    /// Default: `1s`.
    pub failure_backoff: Option<Located<DurationText>>,
    /// Stop the ramp after a level that fails the original tool's rules:
    /// errors / requests > 0.8, mean TTFT > 100 s, or mean per-user speed
    /// < 1 char/s. Default: on when the levels are the default ramp or any
    /// of the original's flags is given, off otherwise.
    pub early_stop: Option<bool>,
    /// What happens to requests still in flight when a step ends: `wait`
    /// (up to `drain_timeout`, then cancel) or `cancel` (at once). Cancelled
    /// requests are counted as `cancelled`, not as server errors.
    /// Default: `wait`.
    pub drain: Option<DrainChoice>,
    /// The longest a `wait` drain waits. Default: `target.timeouts.total`.
    pub drain_timeout: Option<Located<DurationText>>,
    /// Multi-turn sessions: the user's think time before each later turn,
    /// in milliseconds, drawn per turn from this distribution (`dist`,
    /// `mean`, `std`, `min`, `max` as for synthetic lengths), for turns whose
    /// test-set line gives no `think_s`. Default: no pause.
    pub think_ms: Option<Located<LengthSection>>,
}

/// Drain modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DrainChoice {
    /// Let requests in flight finish.
    Wait,
    /// Cancel them.
    Cancel,
}

/// One phase. Name exactly one of `users`, `ramp`, `rate`, `replay`,
/// `sweep`, `search`; the other keys tune it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PhaseSection {
    /// Closed loop: a list of user counts, one level each.
    pub users: Option<Located<Vec<Located<LevelUsers>>>>,
    /// Closed loop: users move from `from` to `to` over `duration`.
    pub ramp: Option<Located<RampSection>>,
    /// Open loop: requests per second, or `[from, to]` for a rate ramp over
    /// `duration`.
    pub rate: Option<Located<RateValue>>,
    /// Open loop: a JSONL trace, one request per line
    /// (`{"offset_ms": 0, "input_len": 200, "output_len": 100}` or with
    /// `"prompt"`), sent at its offset. Relative to the scenario file.
    pub replay: Option<Located<String>>,
    /// One step per rate or user count, or `rates: auto`.
    pub sweep: Option<Located<SweepSection>>,
    /// The highest rate or user count that meets the scenario's `slo`.
    pub search: Option<Located<SearchSection>>,
    /// How long each step runs. Default: `load.duration`, unless
    /// `requests` is given (a `replay` runs to the trace's last line).
    pub duration: Option<Located<DurationText>>,
    /// Each step ends after sending this many requests (or at `duration`,
    /// when both are given, whichever comes first).
    pub requests: Option<Located<u64>>,
    /// Closed loop: users start evenly spread over this time. Default: `0s`
    /// (together).
    pub stagger: Option<Located<DurationText>>,
    /// Open loop: `constant`, `poisson` or `gamma`. Default: `poisson`.
    pub arrival: Option<ArrivalChoice>,
    /// `gamma` shape k: the gaps' coefficient of variation is 1/√k (k < 1
    /// burstier than Poisson, k = 1 Poisson). Default: `1`.
    pub burstiness: Option<Located<f64>>,
    /// Open loop: at most this many requests in flight.
    pub max_in_flight: Option<Located<u32>>,
    /// Open loop, with `max_in_flight`: an arrival the cap cannot send now
    /// is `drop`ped (counted) or `queue`d (its wait shows in
    /// `queue_delay`). Default: `drop`.
    pub overflow: Option<OverflowChoice>,
    /// Replay: speed factor; offsets are divided by it (2: twice as fast).
    /// Default: `1`.
    pub speed: Option<Located<f64>>,
    /// A warm-up phase: run, logged, and excluded from every headline
    /// figure.
    pub warmup: Option<bool>,
    /// Seed of arrivals and prompt picks. Default: derived from the phase's
    /// position.
    pub seed: Option<u64>,
}

/// A user ramp.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RampSection {
    /// Users at the start (0 or more).
    pub from: Located<u32>,
    /// Users at the end of `duration`.
    pub to: Located<u32>,
    /// Move in this many equal steps (at least 2) instead of linearly.
    pub steps: Option<Located<u32>>,
}

/// A rate: one number, or `[from, to]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RateValue {
    /// A constant rate.
    One(f64),
    /// A linear rate ramp.
    Ramp(Vec<f64>),
}

impl JsonSchema for RateValue {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Requests per second (`50`), or `[from, to]` for a linear ramp over the phase's duration.",
            "anyOf": [
                { "type": "number", "exclusiveMinimum": 0 },
                { "type": "array", "items": { "type": "number", "minimum": 0 }, "minItems": 2, "maxItems": 2 }
            ]
        })
    }
}

/// Arrival processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArrivalChoice {
    /// Evenly spaced.
    Constant,
    /// Exponential gaps.
    Poisson,
    /// Gamma gaps of shape `burstiness`.
    Gamma,
}

/// Overflow modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverflowChoice {
    /// Count and skip.
    Drop,
    /// Wait for a slot.
    Queue,
}

/// A sweep: `rates`, `users`, or `rates: auto` with `points`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SweepSection {
    /// Rates in req/s, one step each, or `auto`: first measure the most
    /// req/s with `saturate_users` users, then `points` rates from `lowest`
    /// up to it.
    pub rates: Option<Located<RatesValue>>,
    /// User counts, one closed-loop step each.
    pub users: Option<Located<Vec<Located<LevelUsers>>>>,
    /// With `rates: auto`: how many rates. Default: `5`.
    pub points: Option<Located<u32>>,
    /// With `rates: auto`: the lowest rate. Default: the most / `points`.
    pub lowest: Option<Located<f64>>,
    /// With `rates: auto`: users of the saturation step. Default:
    /// `max_in_flight`, else `256`.
    pub saturate_users: Option<Located<u32>>,
}

/// A list of rates, or `auto`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RatesValue {
    /// Explicit rates.
    List(Vec<f64>),
    /// `auto`.
    Word(String),
}

impl JsonSchema for RatesValue {
    fn schema_name() -> Cow<'static, str> {
        "Rates".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Rates in req/s (`[10, 20, 40]`), or `auto`.",
            "anyOf": [
                { "type": "array", "items": { "type": "number", "exclusiveMinimum": 0 }, "minItems": 1 },
                { "type": "string", "enum": ["auto"] }
            ]
        })
    }
}

/// An SLO search.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SearchSection {
    /// `rate` (open loop) or `users` (closed loop). Default: `rate`.
    pub over: Option<SearchOverChoice>,
    /// The first probe. Default: `1`.
    pub start: Option<Located<f64>>,
    /// The highest value probed. Default: `1024`.
    pub max: Option<Located<f64>>,
    /// Relative precision of the answer, from 0 to 1 (`0.05`: within 5 %).
    /// Default: `0.05`.
    pub precision: Option<Located<f64>>,
    /// A probe passes when at least this share of its requests is good:
    /// succeeded and met every `slo`. Default: `0.95`.
    pub min_good: Option<Located<f64>>,
}

/// What a search varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchOverChoice {
    /// The open-loop rate.
    Rate,
    /// Closed-loop users.
    Users,
}
