//! The validated scenario: types that cannot hold an invalid state. Built by
//! [`super::load`] from the raw YAML types; everything downstream reads these.

use std::path::PathBuf;
use std::time::Duration;

use super::dataset_model::DatasetSpec;
use super::phase::Load;
use crate::mock::MockConfig;

/// A scenario, checked and complete.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Identifier of the run; names the output folder.
    pub name: String,
    /// Free text describing the run.
    pub description: String,
    /// The scenario file, or `None` when built from flags alone.
    pub source: Option<PathBuf>,
    /// What to send requests to, and how.
    pub target: Target,
    /// The prompts.
    pub dataset: DatasetSpec,
    /// The load levels.
    pub load: Load,
    /// Where results go.
    pub output: Output,
    /// Live progress.
    pub live: Live,
    /// Objectives for goodput.
    pub slo: Slo,
    /// Measure the runner's own budget against the in-process mock before
    /// the run.
    pub calibrate: bool,
}

/// Service-level objectives; a request is good when it succeeded and meets
/// every one that is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slo {
    /// Most time to first token.
    pub ttft: Option<Duration>,
    /// Most time per output token.
    pub tpot: Option<Duration>,
    /// Most gap between two content events.
    pub itl: Option<Duration>,
    /// Most end-to-end latency.
    pub e2e: Option<Duration>,
}

impl Slo {
    /// Whether any objective is set.
    pub fn any(&self) -> bool {
        self.ttft.is_some() || self.tpot.is_some() || self.itl.is_some() || self.e2e.is_some()
    }
}

/// Where requests go.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    /// A server at this base URL (`http://127.0.0.1:30000`).
    Url(String),
    /// The embedded mock server, started in-process on 127.0.0.1.
    Mock(MockConfig),
}

/// Which protocol plugin translates requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginRef {
    /// A plugin embedded in the runner, by name (`openai-chat`).
    Builtin(String),
    /// A `.wasm` component on disk.
    Path(PathBuf),
}

/// Request timeouts. Each expiry is its own error class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP (and TLS) connect.
    pub connect: Duration,
    /// From send to the first content event.
    pub first_token: Duration,
    /// Longest silence between two reads of the body.
    pub idle: Duration,
    /// Whole request, send to end.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_token: Duration::from_secs(120),
            idle: Duration::from_secs(60),
            total: Duration::from_secs(600),
        }
    }
}

/// The server under test and how to talk to it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server.
    pub endpoint: Endpoint,
    /// The protocol plugin.
    pub plugin: PluginRef,
    /// Merged into every request body by the plugin (model, temperature, ...).
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Extra HTTP headers, after `${env:NAME}` interpolation.
    pub headers: Vec<(String, String)>,
    /// Values that came from `${env:...}`: redacted from every output.
    pub secrets: Vec<String>,
    /// Whether to ask for streamed responses.
    pub stream: bool,
    /// Timeouts.
    pub timeouts: Timeouts,
}

/// Where results go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Results are written under `WORK_DIR/output/<name>-<timestamp>/`.
    pub work_dir: PathBuf,
}

/// Language of the live line and labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// The original's Chinese labels.
    #[default]
    Zh,
    /// English labels.
    En,
}

/// Live progress settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// Interval between two live lines (the original: 30 s).
    pub interval: Duration,
    /// Language of the live line.
    pub lang: Lang,
    /// Which live lines are printed.
    pub style: LiveStyle,
}

/// Which live lines a run prints every `live.interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiveStyle {
    /// The original tool's line only, exactly as it was.
    Original,
    /// The runner's modern line only.
    Modern,
    /// The original's line, unchanged, with the modern line under it.
    #[default]
    Both,
}

/// Flags of `runner run` that override the scenario file (the original's
/// flags, plus `--url`). Applied before validation, so they are checked too.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--name`
    pub name: Option<String>,
    /// `--desc`
    pub description: Option<String>,
    /// `--work-dir`
    pub work_dir: Option<PathBuf>,
    /// `--test-set`: a path as given on the command line (relative to the
    /// current directory).
    pub test_set: Option<PathBuf>,
    /// `--test-duration`, in seconds.
    pub test_duration: Option<u64>,
    /// `--test-runs N...`
    pub test_runs: Option<Vec<u32>>,
    /// `--url`: send to this server instead of the scenario's target.
    pub url: Option<String>,
    /// `--lang`
    pub lang: Option<Lang>,
}
