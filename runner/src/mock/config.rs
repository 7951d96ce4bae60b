//! How the embedded mock LLM server behaves. Shared by `runner mock` flags and
//! a scenario's `target.mock` section.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::request::MAX_OUTPUT_TOKENS;

/// The longest delay a knob may ask for: one day, in milliseconds. Longer
/// values are surely a unit mistake, and the cap keeps nanosecond sums far
/// from overflowing.
pub(crate) const MAX_DELAY_MS: f64 = 86_400_000.0;

/// The embedded mock server's behaviour. Every delay, text and fault is
/// deterministic for a given `seed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MockConfig {
    /// Time to first token, in milliseconds, counted from when the request
    /// got a decode slot (at once when `max_batch` is unset).
    pub ttft_ms: f64,
    /// Gap between consecutive tokens, in milliseconds, when the request
    /// runs alone (see `gap_ms_per_running`).
    pub gap_ms: f64,
    /// Output length in tokens. When the request sets `max_tokens`, the
    /// smaller of the two is used; when this is unset, `max_tokens` is used
    /// (128 when the request has none either).
    pub output_tokens: Option<u32>,
    /// Uniform jitter, in milliseconds, added to or taken from every delay
    /// (never below zero).
    pub jitter_ms: f64,
    /// Seed of the jitter, of the generated text and of the faults.
    pub seed: u64,
    /// Decode slots: at most this many responses are generated at once; a
    /// request past them waits, first come first served, for a slot to free,
    /// and its TTFT grows by the wait. Unset: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_batch: Option<u32>,
    /// Extra milliseconds per token for each other response being generated
    /// at the same time: a token's gap is `gap_ms + gap_ms_per_running *
    /// (running - 1)`, with `running` counted when the previous token left.
    /// 0 (the default): the gap does not depend on load.
    #[serde(skip_serializing_if = "is_zero")]
    pub gap_ms_per_running: f64,
    /// Injected faults, each a share of requests (OpenAI routes only).
    #[serde(skip_serializing_if = "MockFaults::is_none")]
    pub faults: MockFaults,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            ttft_ms: 200.0,
            gap_ms: 20.0,
            output_tokens: None,
            jitter_ms: 0.0,
            seed: 42,
            max_batch: None,
            gap_ms_per_running: 0.0,
            faults: MockFaults::default(),
        }
    }
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// Faults the mock injects into its OpenAI responses (`/v1/chat/completions`
/// and `/v1/completions`). Each `*_rate` is the share of requests, from 0 to
/// 1, that get that fault; a request gets at most one, so the rates must sum
/// to at most 1. Which requests get which fault is drawn from `seed` and the
/// request's arrival number, so a seed always faults the same requests.
///
/// Faults "mid-stream" strike after half of the response's tokens (rounded
/// down) have been sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct MockFaults {
    /// Share of requests answered at once with HTTP `error_status` and an
    /// OpenAI error body.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// The status of `error_rate`'s answers, from 500 to 599.
    #[arg(long, default_value_t = 500)]
    pub error_status: u16,
    /// Share of requests answered at once with HTTP 429, `Retry-After: 1`
    /// and an OpenAI rate-limit error body.
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit_rate: f64,
    /// Share of requests whose first token comes `stall_first_ms` late (the
    /// headers leave on time, then nothing until the stall ends).
    #[arg(long, default_value_t = 0.0)]
    pub stall_first_rate: f64,
    /// Length of a stall before the first token, in ms.
    #[arg(long, default_value_t = 0.0)]
    pub stall_first_ms: f64,
    /// Share of requests that go silent mid-stream for `stall_mid_ms`, then
    /// finish normally.
    #[arg(long, default_value_t = 0.0)]
    pub stall_mid_rate: f64,
    /// Length of a mid-stream stall, in ms.
    #[arg(long, default_value_t = 0.0)]
    pub stall_mid_ms: f64,
    /// Share of requests whose connection is closed mid-stream, without the
    /// final chunk or `[DONE]` (a non-streamed body is cut halfway).
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Share of requests with one malformed event mid-stream: a `data:` line
    /// whose JSON is cut off (a non-streamed body is cut-off JSON).
    #[arg(long, default_value_t = 0.0)]
    pub malformed_rate: f64,
    /// Share of requests that end mid-stream with an error event (`event:
    /// error` and `data: {"error": {...}}`, after which the stream closes
    /// cleanly); a non-streamed answer is a 200 whose body is an error object.
    #[arg(long, default_value_t = 0.0)]
    pub error_event_rate: f64,
    /// Share of requests answered 200 with no content: a stream with the
    /// role chunk, one chunk of empty content with its finish reason, and
    /// `[DONE]`; a non-streamed body with empty content.
    #[arg(long, default_value_t = 0.0)]
    pub empty_rate: f64,
    /// Share of requests with one event mid-stream whose content holds bytes
    /// that are not UTF-8 (0xFF 0xFE); a non-streamed body holds them too.
    #[arg(long, default_value_t = 0.0)]
    pub invalid_utf8_rate: f64,
    /// Share of requests with one 10 MiB line mid-stream (a content chunk
    /// of 10 MiB of text, longer than the runner's 8 MiB line limit); a
    /// non-streamed body carries the same text as content.
    #[arg(long, default_value_t = 0.0)]
    pub huge_line_rate: f64,
}

impl Default for MockFaults {
    fn default() -> Self {
        MockFaults {
            error_rate: 0.0,
            error_status: 500,
            rate_limit_rate: 0.0,
            stall_first_rate: 0.0,
            stall_first_ms: 0.0,
            stall_mid_rate: 0.0,
            stall_mid_ms: 0.0,
            drop_rate: 0.0,
            malformed_rate: 0.0,
            error_event_rate: 0.0,
            empty_rate: 0.0,
            invalid_utf8_rate: 0.0,
            huge_line_rate: 0.0,
        }
    }
}

impl MockFaults {
    /// Whether no fault is configured (every field at its default).
    pub fn is_none(&self) -> bool {
        *self == MockFaults::default()
    }

    /// Every `(field, rate)`, in the order a request's draw tries them.
    pub(crate) fn rates(&self) -> [(&'static str, f64); 10] {
        [
            ("error_rate", self.error_rate),
            ("rate_limit_rate", self.rate_limit_rate),
            ("stall_first_rate", self.stall_first_rate),
            ("stall_mid_rate", self.stall_mid_rate),
            ("drop_rate", self.drop_rate),
            ("malformed_rate", self.malformed_rate),
            ("error_event_rate", self.error_event_rate),
            ("empty_rate", self.empty_rate),
            ("invalid_utf8_rate", self.invalid_utf8_rate),
            ("huge_line_rate", self.huge_line_rate),
        ]
    }
}

/// One thing wrong with a [`MockConfig`]: the field (dotted below
/// `faults`, e.g. `faults.error_rate`), what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockProblem {
    /// The field, as written in a scenario's `target.mock` section.
    pub field: String,
    /// What is wrong with it, quoting the value (`is 1.5`); the field's
    /// name goes before it.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl MockProblem {
    fn new(field: &str, message: String, help: impl Into<String>) -> Self {
        MockProblem {
            field: field.to_owned(),
            message,
            help: help.into(),
        }
    }

    /// The flag of `runner mock` that sets the field (`--error-rate`;
    /// `--*-rate` for the sum of the fault rates).
    pub fn flag(&self) -> String {
        let last = self.field.rsplit('.').next().unwrap_or(&self.field);
        format!("--{}", last.replace('_', "-"))
    }
}

impl MockConfig {
    /// Every problem of the config at once; empty when it is valid.
    pub fn problems(&self) -> Vec<MockProblem> {
        let mut out = Vec::new();
        for (field, ms) in [
            ("ttft_ms", self.ttft_ms),
            ("gap_ms", self.gap_ms),
            ("jitter_ms", self.jitter_ms),
            ("gap_ms_per_running", self.gap_ms_per_running),
        ] {
            check_delay(&mut out, field, ms);
        }
        match self.output_tokens {
            Some(n) if n == 0 || n > MAX_OUTPUT_TOKENS => out.push(MockProblem::new(
                "output_tokens",
                format!("is {n}"),
                format!(
                    "give from 1 to {MAX_OUTPUT_TOKENS} tokens, or remove the key to follow each request's `max_tokens`"
                ),
            )),
            _ => {}
        }
        if self.max_batch == Some(0) {
            out.push(MockProblem::new(
                "max_batch",
                "is 0".to_owned(),
                "give at least 1 decode slot, or remove the key for no limit",
            ));
        }
        self.faults.problems(&mut out);
        out
    }
}

impl MockFaults {
    fn problems(&self, out: &mut Vec<MockProblem>) {
        let mut sum = 0.0;
        let mut all_valid = true;
        for (name, rate) in self.rates() {
            if !rate.is_finite() || !(0.0..=1.0).contains(&rate) {
                all_valid = false;
                out.push(MockProblem::new(
                    &format!("faults.{name}"),
                    format!("is {rate}"),
                    "a rate is the share of requests that get the fault: a number from 0 to 1 (0.05 = 5%)",
                ));
            } else {
                sum += rate;
            }
        }
        // A little slack, so rates like 0.1 * 10 that sum to 1 in decimal pass.
        if all_valid && sum > 1.0 + 1e-9 {
            out.push(MockProblem::new(
                "faults.*_rate",
                // Rounded, so 0.7 + 0.6 reads 1.3.
                format!("sum to {}", (sum * 1e9).round() / 1e9),
                "a request gets at most one fault, so the rates must sum to at most 1: lower some of them",
            ));
        }
        for (rate_field, rate, ms_field, ms) in [
            (
                "stall_first_rate",
                self.stall_first_rate,
                "stall_first_ms",
                self.stall_first_ms,
            ),
            (
                "stall_mid_rate",
                self.stall_mid_rate,
                "stall_mid_ms",
                self.stall_mid_ms,
            ),
        ] {
            let field = format!("faults.{ms_field}");
            if check_delay(out, &field, ms) && rate > 0.0 && ms == 0.0 {
                out.push(MockProblem::new(
                    &field,
                    format!("is 0 while its rate, `{rate_field}`, is {rate}"),
                    "give the stall's length in milliseconds",
                ));
            }
        }
        if !(500..=599).contains(&self.error_status) {
            out.push(MockProblem::new(
                "faults.error_status",
                format!("is {}", self.error_status),
                "give a server error status from 500 to 599 (use `rate_limit_rate` for 429)",
            ));
        }
    }
}

/// Checks one delay; returns whether it is valid.
fn check_delay(out: &mut Vec<MockProblem>, field: &str, ms: f64) -> bool {
    if ms.is_finite() && (0.0..=MAX_DELAY_MS).contains(&ms) {
        return true;
    }
    out.push(MockProblem::new(
        field,
        format!("is {ms}"),
        format!("a delay is a number of milliseconds from 0 to {MAX_DELAY_MS}"),
    ));
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(config: &MockConfig) -> Vec<String> {
        config.problems().into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn the_defaults_are_valid() {
        assert!(MockConfig::default().problems().is_empty());
        assert!(MockConfig::default().faults.is_none());
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_field() {
        let config = MockConfig {
            gap_ms: -1.0,
            output_tokens: Some(0),
            max_batch: Some(0),
            gap_ms_per_running: f64::NAN,
            faults: MockFaults {
                error_rate: 1.5,
                drop_rate: -0.1,
                stall_mid_rate: 0.2,
                error_status: 429,
                ..MockFaults::default()
            },
            ..MockConfig::default()
        };
        assert_eq!(
            fields(&config),
            [
                "gap_ms",
                "gap_ms_per_running",
                "output_tokens",
                "max_batch",
                "faults.error_rate",
                "faults.drop_rate",
                "faults.stall_mid_ms",
                "faults.error_status",
            ]
        );
        let p = &config.problems()[4];
        assert_eq!(p.message, "is 1.5");
        assert!(p.help.contains("from 0 to 1"), "{}", p.help);
        assert_eq!(p.flag(), "--error-rate");
    }

    #[test]
    fn rates_must_sum_to_at_most_one() {
        let mut faults = MockFaults {
            error_rate: 0.6,
            empty_rate: 0.5,
            ..MockFaults::default()
        };
        let config = |faults: &MockFaults| MockConfig {
            faults: faults.clone(),
            ..MockConfig::default()
        };
        let problems = config(&faults).problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "faults.*_rate");
        assert_eq!(problems[0].message, "sum to 1.1");
        assert_eq!(problems[0].flag(), "--*-rate");
        assert!(problems[0].help.contains("at most 1"));
        faults.empty_rate = 0.4;
        assert!(config(&faults).problems().is_empty());
        // Ten rates of 0.1 sum to 1 in decimal, slightly more in binary.
        let tenths = MockFaults {
            error_rate: 0.1,
            rate_limit_rate: 0.1,
            stall_first_rate: 0.1,
            stall_first_ms: 1.0,
            stall_mid_rate: 0.1,
            stall_mid_ms: 1.0,
            drop_rate: 0.1,
            malformed_rate: 0.1,
            error_event_rate: 0.1,
            empty_rate: 0.1,
            invalid_utf8_rate: 0.1,
            huge_line_rate: 0.1,
            ..MockFaults::default()
        };
        assert!(config(&tenths).problems().is_empty());
    }

    #[test]
    fn stall_lengths_are_required_with_their_rate() {
        let config = MockConfig {
            faults: MockFaults {
                stall_first_rate: 0.5,
                ..MockFaults::default()
            },
            ..MockConfig::default()
        };
        let problems = config.problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "faults.stall_first_ms");
        assert_eq!(problems[0].flag(), "--stall-first-ms");
    }
}
