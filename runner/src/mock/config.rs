//! How the embedded mock LLM server behaves. Shared by `runner mock` flags and
//! a scenario's `target.mock` section.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The embedded mock server's behaviour. Every delay is deterministic for a
/// given `seed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MockConfig {
    /// Time to first token, in milliseconds, counted from when the request
    /// body has been read.
    pub ttft_ms: f64,
    /// Gap between consecutive tokens, in milliseconds.
    pub gap_ms: f64,
    /// Output length in tokens. When the request sets `max_tokens`, the
    /// smaller of the two is used; when this is unset, `max_tokens` is used
    /// (128 when the request has none either).
    pub output_tokens: Option<u32>,
    /// Uniform jitter, in milliseconds, added to or taken from every delay
    /// (never below zero).
    pub jitter_ms: f64,
    /// Seed of the jitter and of the generated text.
    pub seed: u64,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            ttft_ms: 200.0,
            gap_ms: 20.0,
            output_tokens: None,
            jitter_ms: 0.0,
            seed: 42,
        }
    }
}
