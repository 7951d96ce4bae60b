//! The results file (`results.json`): the documented wire format of a run.
//!
//! Every field carries its unit and formula. Times in the formulas use the
//! notation of the definitions table: `planned`, `sent`, `t_i` (arrival of
//! the i-th content event), `t_N` (the last), `end` (the response body
//! ended), `N` (output tokens).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::metrics::Summary;

/// The JSON Schema of `results.json`, generated from these types; the doc
/// comments (units and formulas) become its descriptions. Committed as
/// `resources/results.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(RunResults);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Version of this format; bumped on any incompatible change.
pub const RESULTS_VERSION: u32 = 1;

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunResults {
    /// Version of this format.
    pub results_version: u32,
    /// Version of the runner that wrote it.
    pub runner_version: String,
    /// Name of the run (`--name`).
    pub name: String,
    /// Description (`--desc`).
    pub description: String,
    /// Start, local time, RFC 3339.
    pub started_at: String,
    /// End, local time, RFC 3339.
    pub finished_at: String,
    /// True when the run was stopped early (Ctrl-C, SIGTERM); the figures
    /// cover what ran.
    pub interrupted: bool,
    /// Why the run stopped before its last level, if it did.
    pub stop_reason: Option<String>,
    /// What was run.
    pub scenario: ScenarioSummary,
    /// The client machine.
    pub environment: Environment,
    /// One entry per load level (step of a phase), in order.
    pub levels: Vec<LevelResult>,
    /// SLO searches, one per `search` phase.
    #[serde(default)]
    pub searches: Vec<SearchResult>,
    /// The runner's own budget, measured against the in-process mock
    /// before the run (`calibrate: true`); `None` when it did not run.
    #[serde(default)]
    pub calibration: Option<crate::calibrate::Calibration>,
}

/// The parts of the scenario a reader needs to interpret the figures.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioSummary {
    /// The scenario file, if any.
    pub file: Option<String>,
    /// SHA-256 of the scenario file's bytes, hex; `None` for a run built
    /// from flags alone.
    #[serde(default)]
    pub scenario_sha256: Option<String>,
    /// Target base URL (secrets redacted); `mock` for the embedded server.
    pub target: String,
    /// The embedded mock's settings, when it was the target.
    pub mock: Option<serde_json::Value>,
    /// Protocol plugin name.
    pub plugin: String,
    /// Protocol plugin version.
    pub plugin_version: String,
    /// Whether responses were streamed.
    pub stream: bool,
    /// Request params merged into every body (secrets redacted).
    pub params: serde_json::Value,
    /// Dataset file.
    pub dataset: String,
    /// Dataset format (`lines`, `ceval`).
    pub dataset_format: String,
    /// Number of prompts in the dataset.
    pub dataset_items: usize,
    /// Users per level, in order.
    pub levels: Vec<u32>,
    /// Duration of each level, seconds.
    pub level_duration_s: f64,
    /// The load's phases, one line each (`rate 20 req/s poisson × 60s`).
    #[serde(default)]
    pub phases: Vec<String>,
}

/// The machine the runner ran on.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Environment {
    /// Operating system and architecture.
    pub os: String,
    /// Logical CPU cores.
    pub cores: usize,
    /// Host name, when known.
    pub hostname: Option<String>,
    /// The runner's own peak resident memory over the run, MiB (with the
    /// embedded mock, when it ran in-process).
    #[serde(default)]
    pub runner_peak_rss_mib: Option<f64>,
    /// CPU time the runner used over the run (user + system), seconds.
    #[serde(default)]
    pub runner_cpu_s: Option<f64>,
}

/// Count and one example message of an error class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorTally {
    /// Requests that failed with this class.
    pub count: u64,
    /// The message of the first such failure.
    pub example: String,
}

/// Achieved concurrency over the load window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Concurrency {
    /// Configured users.
    pub target: u32,
    /// Time-weighted mean of requests in flight over the load window:
    /// ∫ in_flight(t) dt / window length. Exact, not sampled.
    pub mean: f64,
    /// Most requests in flight at once during the load window.
    pub max: u64,
    /// mean / target.
    pub ratio: f64,
}

/// How a level's load window divides: ramp-in (until every user has had
/// its first response), the steady window (from there to the end of the
/// load window), and the drain (requests still running after it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Phases {
    /// Ramp-in, seconds: from the level's start until every user's first
    /// request had ended.
    pub ramp_in_s: f64,
    /// Steady window, seconds: from the end of ramp-in to the end of the
    /// load window. Headline throughput is measured over it.
    pub steady_s: f64,
    /// Drain, seconds: from the end of the load window until the last
    /// request of the level ended.
    pub drain_s: f64,
}

/// Throughput over the steady window (see [`Phases`]; the whole load window
/// when the level never reached a steady state).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Throughput {
    /// Length of the window, seconds (= `phases.steady_s`).
    pub window_s: f64,
    /// Content chars whose event arrived inside the window / window_s
    /// (events are bucketed by 10 ms; an edge bucket counts in proportion to
    /// its overlap). The original's 总吞吐.
    pub chars_per_s: f64,
    /// Output tokens / window_s; a request's tokens are counted in
    /// proportion to its chars that arrived inside the window. Source in
    /// `token_source`.
    pub output_tokens_per_s: f64,
    /// (prompt + output tokens) / window_s, prompt tokens of requests that
    /// ended inside the window. Needs server usage; 0 without it.
    pub total_tokens_per_s: f64,
    /// Successful requests that ended inside the window / window_s.
    pub requests_per_s: f64,
    /// Content events (chunks, not tokens) that arrived inside the window /
    /// window_s; compared with the runner's calibrated ceiling.
    #[serde(default)]
    pub chunks_per_s: f64,
}

/// The same figures under the key names of vLLM's `bench serve` JSON, where
/// the definition matches, so existing dashboards read them unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VllmCompat {
    /// Successful requests (vLLM `completed`).
    pub completed: u64,
    /// Prompt tokens of successful requests, from usage (0 without it).
    pub total_input_tokens: u64,
    /// Output tokens of successful requests (source in `token_source`).
    pub total_output_tokens: u64,
    /// = `throughput.requests_per_s`.
    pub request_throughput: f64,
    /// = `throughput.output_tokens_per_s`.
    pub output_throughput: f64,
    /// = `throughput.total_tokens_per_s`.
    pub total_token_throughput: f64,
    /// Mean of `ttft_first_event` (vLLM stamps TTFT at the first chunk with
    /// choices), ms.
    pub mean_ttft_ms: Option<f64>,
    /// Median of `ttft_first_event`, ms.
    pub median_ttft_ms: Option<f64>,
    /// p99 of `ttft_first_event`, ms.
    pub p99_ttft_ms: Option<f64>,
    /// Mean of `tpot`, ms.
    pub mean_tpot_ms: Option<f64>,
    /// Median of `tpot`, ms.
    pub median_tpot_ms: Option<f64>,
    /// p99 of `tpot`, ms.
    pub p99_tpot_ms: Option<f64>,
    /// Mean of `itl`, ms.
    pub mean_itl_ms: Option<f64>,
    /// Median of `itl`, ms.
    pub median_itl_ms: Option<f64>,
    /// p99 of `itl`, ms.
    pub p99_itl_ms: Option<f64>,
    /// Mean of `e2e`, ms.
    pub mean_e2el_ms: Option<f64>,
    /// Median of `e2e`, ms.
    pub median_e2el_ms: Option<f64>,
    /// p99 of `e2e`, ms.
    pub p99_e2el_ms: Option<f64>,
}

/// Goodput: requests that succeeded and met every SLO of the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Goodput {
    /// Good requests of the level (drain included).
    pub good: u64,
    /// good / requests (failed requests count as not good).
    pub good_fraction: f64,
    /// Good requests that ended inside the steady window / its length.
    pub per_s: f64,
}

/// One source's count of output over a level's successful requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SourceCount {
    /// Successful requests that have this count.
    pub requests: u64,
    /// Sum over those requests.
    pub total: u64,
    /// total / requests (0 without requests).
    pub mean: f64,
}

/// Output of a level's successful requests counted by every source, side by
/// side: the server's usage, the scenario's tokenizer, content events
/// (`chunks`, not tokens) and chars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenSources {
    /// Output tokens as the server reported them (`usage.completion_tokens`),
    /// over the requests that reported them; `None` when none did.
    pub usage: Option<SourceCount>,
    /// Output tokens of the whole reply text by the scenario's
    /// `tokenizer.json` (special tokens excluded), counted after the stream
    /// ended; `None` without a tokenizer.
    pub tokenizer: Option<SourceCount>,
    /// Content events (chunks). Not tokens: a server may send several
    /// tokens in one event.
    pub chunks: SourceCount,
    /// Chars (Unicode scalar values) of the reply.
    pub chars: SourceCount,
    /// Requests whose usage and tokenizer counts differ by more than 10% of
    /// the usage count: |tokenizer − usage| > 0.1 × usage.
    pub usage_tokenizer_mismatches: u64,
}

/// One second of a level, counted from the start of its load window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TimelinePoint {
    /// Seconds since the level started (the bucket `[t, t + 1)`).
    pub t: u32,
    /// Requests in flight, sampled once during the second (the live view's
    /// tick); 0 when no tick fell in it.
    pub in_flight: u64,
    /// Successful requests that ended in this second.
    pub ok: u64,
    /// Failed requests that ended in this second.
    pub errors: u64,
    /// Content chars that arrived in this second.
    pub chars: u64,
    /// The runner's resident memory, MiB, sampled at the same tick as
    /// `in_flight` (0 when not sampled).
    #[serde(default)]
    pub rss_mib: f64,
}

/// Figures of one load level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LevelResult {
    /// Position of the level in the run, from 0.
    pub index: u32,
    /// Configured concurrent users.
    pub users: u32,
    /// Configured duration, seconds.
    pub duration_s: f64,
    /// Requests that ended, successes and failures.
    pub requests: u64,
    /// Requests that succeeded.
    pub ok: u64,
    /// Requests that failed, not counting `cancelled` ones.
    pub errors: u64,
    /// Requests a drain (`load.drain`) or a stopped run cancelled: listed
    /// under `errors_by_class` as `cancelled`, but not server errors.
    #[serde(default)]
    pub cancelled: u64,
    /// errors / (requests − cancelled) (0 when no request ended).
    pub error_rate: f64,
    /// Failures by class (`timeout_first_token`, `http_503`, ...).
    pub errors_by_class: BTreeMap<String, ErrorTally>,
    /// Achieved concurrency.
    pub concurrency: Concurrency,
    /// Throughput over the steady window.
    pub throughput: Throughput,
    /// Ramp-in, steady window and drain (zeros in files written before
    /// they were reported).
    #[serde(default)]
    pub phases: Phases,
    /// Goodput, when the scenario sets SLOs.
    #[serde(default)]
    pub goodput: Option<Goodput>,
    /// Where output token counts `N` come from: `usage` (the server's usage
    /// report), else `tokenizer` (the scenario's tokenizer.json over the
    /// whole reply), else `chunks` (content events counted, not tokens);
    /// `mixed` when requests of the level differ.
    pub token_source: String,
    /// Output counted by every source side by side (absent in files written
    /// before it was reported).
    #[serde(default)]
    pub tokens: Option<TokenSources>,
    /// Time to first token, ms: t_1 − sent, first non-empty content event.
    pub ttft_ms: Option<Summary>,
    /// Time to first data event, ms: first frame of the body − sent.
    pub ttft_first_event_ms: Option<Summary>,
    /// Time per output token, ms: (t_N − t_1) / (N − 1), requests with N > 1.
    pub tpot_ms: Option<Summary>,
    /// Inter-token latency, ms: gaps between consecutive content events,
    /// pooled over requests.
    pub itl_ms: Option<Summary>,
    /// End-to-end latency, ms: end − sent.
    pub e2e_ms: Option<Summary>,
    /// End-to-end latency from the planned send, ms: end − planned.
    pub e2e_from_planned_ms: Option<Summary>,
    /// Queue delay, ms: sent − planned (all requests, failed ones too).
    pub queue_delay_ms: Option<Summary>,
    /// Per-user output speed, chars/s: chars / (t_N − t_1); with one content
    /// event, chars / (t_1 − sent). The original's 出字均速.
    pub user_chars_per_s: Option<Summary>,
    /// Output chars per successful request.
    pub output_chars: Option<Summary>,
    /// Output tokens per successful request (source in `token_source`).
    pub output_tokens: Option<Summary>,
    /// Problems a reader must know about (concurrency short of target, ...).
    pub flags: Vec<String>,
    /// Per-second timeline of the level, drain included.
    #[serde(default)]
    pub timeline: Vec<TimelinePoint>,
    /// vLLM `bench serve` key names for the figures above.
    #[serde(default)]
    pub vllm: VllmCompat,
    /// Which phase and shape of load the level is a step of.
    #[serde(default)]
    pub step: StepInfo,
    /// Latency in the steady state: successful requests that were not
    /// their user's first (closed loop) and were sent before the window's
    /// planned end; `None` when none qualified.
    #[serde(default)]
    pub steady: Option<SteadyLatency>,
    /// Multi-turn sessions: figures by turn index (turn 0 first). Empty for
    /// single requests.
    #[serde(default)]
    pub by_turn: Vec<TurnStats>,
}

/// The step of the schedule a level measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepInfo {
    /// Index of the scenario's phase (`load.phases`), from 0.
    pub phase: u32,
    /// `users` (closed loop), `ramp`, `rate` (open loop), `replay`,
    /// `sweep`, `search`, or `saturate` (an automatic sweep's first step).
    pub kind: String,
    /// Short label: `64 users`, `20 req/s`, `1→64 users`.
    pub label: String,
    /// A warm-up step: excluded from headline figures.
    pub warmup: bool,
    /// Closed loop: the concurrency aimed at (time-weighted mean of active
    /// users; the user count for a level).
    pub target_users: Option<f64>,
    /// Open loop: the mean arrival rate aimed at, req/s.
    pub target_rate: Option<f64>,
    /// Open loop: arrivals scheduled in the load window.
    pub arrivals: u64,
    /// Open loop: arrivals not sent because `max_in_flight` was reached
    /// (`overflow: drop`).
    pub dropped: u64,
    /// Open loop: arrivals scheduled per second of the load window
    /// (arrivals / window).
    pub offered_rate: Option<f64>,
    /// Open loop: requests actually sent per second, from their send
    /// times: (n − 1) / (last send − first send). Compare with
    /// `target_rate` for the schedule's fidelity.
    pub sent_rate: Option<f64>,
    /// Search probes: whether the step met the objectives.
    pub passed: Option<bool>,
}

/// Latency of a level's steady-state requests (see `LevelResult::steady`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SteadyLatency {
    /// Requests counted.
    pub requests: u64,
    /// Time to first token, ms.
    pub ttft_ms: Option<Summary>,
    /// Time per output token, ms.
    pub tpot_ms: Option<Summary>,
    /// Gaps between content events, ms.
    pub itl_ms: Option<Summary>,
    /// End-to-end latency, ms.
    pub e2e_ms: Option<Summary>,
}

/// Figures of one turn index across a level's sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TurnStats {
    /// Turn index, from 0.
    pub turn: u32,
    /// Requests of this turn that ended.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// TTFT of this turn's successful requests, ms (falls with prefix
    /// caching as the history grows).
    pub ttft_ms: Option<Summary>,
    /// End-to-end latency, ms.
    pub e2e_ms: Option<Summary>,
}

/// The outcome of an SLO search phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SearchResult {
    /// Index of the phase.
    pub phase: u32,
    /// `rate` (req/s) or `users`.
    pub over: String,
    /// The highest value that met the objectives, if any did.
    pub found: Option<f64>,
    /// Relative precision asked for.
    pub precision: f64,
    /// Share of good requests a probe needed.
    pub min_good: f64,
    /// Every probe in order.
    pub probes: Vec<crate::schedule::Probe>,
}
