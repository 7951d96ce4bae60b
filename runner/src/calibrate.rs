//! Self-calibration: how much load the runner itself can drive on this
//! machine, and how much latency it adds, measured against the in-process
//! mock through the real executor path (plugin, HTTP client, framing).
//!
//! `runner calibrate` runs it alone; `calibrate: true` in a scenario runs it
//! briefly ([`BEFORE_RUN`]) before the real run, at the scenario's highest
//! level of users and its chunk rate, and stores the result in results.json
//! (`calibration`), which every report shows as the "Calibration budget".
//!
//! How it measures:
//! - The mock (on 127.0.0.1, port 0) sends the first chunk one gap after it
//!   has read a request, then one chunk per gap (gap = 1 / chunk rate, no
//!   jitter), so each stream asks for `chunk_rate` chunks/s and the run asks
//!   for `users × chunk_rate`.
//! - `users` closed-loop users run for the duration with the built-in
//!   `openai-chat` plugin; achieved streams are the in-flight tracker's
//!   mean and max, achieved chunks/s the content events that arrived inside
//!   the window / its length.
//! - Added latency: measured TTFT (t_1 − sent) minus the configured TTFT,
//!   and each measured gap between consecutive content events minus the
//!   configured gap, as p50/p99/max. The mock runs in the same process, so
//!   this is an upper bound on what the runner adds to a real server's
//!   figures.
//! - Ceiling: when the runner reached what was asked (both achieved figures
//!   at least 95% of the asked ones), the achieved figures divided by the
//!   share of the machine's CPU the process used meanwhile (a linear
//!   estimate; the mock's own CPU is included, so it is conservative);
//!   otherwise the achieved figures themselves.
//!
//! A level whose chunks/s or peak streams exceed [`BUDGET_SHARE`] of the
//! ceiling is flagged ([`flag_levels`]): part of its latency may be the
//! runner's own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::RunClock;
use crate::dataset::{Dataset, Item, Prompt};
use crate::executor::{self, LevelWindow, Pacer, RunContext};
use crate::framing::DEFAULT_MAX_LINE;
use crate::metrics::{Dist, InFlight};
use crate::mock::{self, MockConfig};
use crate::plugin::{Plugin, PluginEngine, PluginLimits};
use crate::results::LevelResult;
use crate::sample::Sample;
use crate::scenario::{Drain, Endpoint, PluginRef, Scenario, Timeouts};
use crate::schedule::{self, Step, StepLoad};

/// Chunks per second of each stream when the scenario's target is not the
/// mock (a real server's rate is not known before the run): 50 chunks/s, a
/// 20 ms gap.
pub const DEFAULT_CHUNK_RATE: f64 = 50.0;
/// Users of `runner calibrate` without a scenario.
pub const DEFAULT_USERS: u32 = 100;
/// Duration of `runner calibrate`.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(5);
/// Duration of the calibration `calibrate: true` runs before a scenario.
pub const BEFORE_RUN: Duration = Duration::from_secs(2);
/// Output tokens (chunks) of each calibration request.
pub const DEFAULT_OUTPUT_TOKENS: u32 = 64;
/// Highest chunk rate per stream: a gap below 1 ms is under the timer's
/// resolution.
pub const MAX_CHUNK_RATE: f64 = 1000.0;
/// A level using more than this share of the ceiling is flagged.
pub const BUDGET_SHARE: f64 = 0.5;
/// Achieved below this share of what was asked: the runner saturated.
const REACHED: f64 = 0.95;

/// What to calibrate at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrateSpec {
    /// Concurrent streams (closed-loop users).
    pub users: u32,
    /// Chunks per second of each stream.
    pub chunk_rate: f64,
    /// How long the users run.
    pub duration: Duration,
    /// Chunks of each response.
    pub output_tokens: u32,
}

impl CalibrateSpec {
    /// The scenario's highest level of users and its chunk rate (the mock's
    /// `1000 / gap_ms`, else [`DEFAULT_CHUNK_RATE`]), for `duration`.
    pub fn for_scenario(sc: &Scenario, duration: Duration) -> Self {
        let users = sc.load.most_in_flight();
        let chunk_rate = match &sc.target.endpoint {
            Endpoint::Mock(cfg) if cfg.gap_ms > 0.0 => (1000.0 / cfg.gap_ms).min(MAX_CHUNK_RATE),
            Endpoint::Mock(_) => MAX_CHUNK_RATE,
            Endpoint::Url(_) => DEFAULT_CHUNK_RATE,
        };
        CalibrateSpec {
            users: users.max(1),
            chunk_rate,
            duration,
            output_tokens: DEFAULT_OUTPUT_TOKENS,
        }
    }

    /// Why this spec cannot run, naming the flag and the fix.
    pub fn check(&self) -> Result<(), String> {
        if self.users == 0 {
            return Err("--users must be at least 1".into());
        }
        if !(self.chunk_rate.is_finite()
            && self.chunk_rate > 0.0
            && self.chunk_rate <= MAX_CHUNK_RATE)
        {
            return Err(format!(
                "--chunk-rate {} is out of range: give chunks per second of one stream, more than 0 and at most {MAX_CHUNK_RATE}",
                self.chunk_rate
            ));
        }
        if self.duration.is_zero() {
            return Err("--duration must be more than 0 (e.g. `5s`)".into());
        }
        if self.output_tokens < 2 {
            return Err("output tokens must be at least 2, so a gap can be measured".into());
        }
        Ok(())
    }

    /// The mock's gap between chunks (and its TTFT), ms.
    pub fn gap_ms(&self) -> f64 {
        1000.0 / self.chunk_rate
    }
}

/// Added latency: measured minus configured, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Added {
    /// Values measured.
    pub count: u64,
    /// Median of measured − configured, ms.
    pub p50: f64,
    /// 99th percentile of measured − configured, ms.
    pub p99: f64,
    /// Largest measured − configured, ms.
    pub max: f64,
}

impl Added {
    fn of(measured: &Dist, configured_ms: f64) -> Self {
        let q = |q: f64| measured.quantile(q).map_or(0.0, |v| v - configured_ms);
        Added {
            count: measured.count(),
            p50: q(0.50),
            p99: q(0.99),
            max: q(1.0),
        }
    }
}

/// The runner's own budget on this machine, measured against the
/// in-process mock (see `runner calibrate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Calibration {
    /// Length of the load window, seconds.
    pub duration_s: f64,
    /// Chunks of each mock response.
    pub output_tokens: u32,
    /// Streams asked: concurrent closed-loop users.
    pub streams_asked: u32,
    /// Time-weighted mean of streams in flight over the window.
    pub streams_mean: f64,
    /// Most streams in flight at once.
    pub streams_max: u64,
    /// Chunks per second of each stream asked (1 / the mock's gap).
    pub chunk_rate_per_stream: f64,
    /// streams_asked × chunk_rate_per_stream, chunks/s.
    pub chunks_per_s_asked: f64,
    /// Content events that arrived inside the window / its length, chunks/s.
    pub chunks_per_s_achieved: f64,
    /// CPU time of the process (user + system) / (wall time × cores) while
    /// the users ran; the in-process mock included. `None` where it cannot
    /// be read.
    pub cpu_share: Option<f64>,
    /// Estimated most streams at this chunk rate: streams_mean / cpu_share
    /// when the runner reached what was asked, else streams_mean.
    pub ceiling_streams: f64,
    /// Estimated most chunks/s: chunks_per_s_achieved / cpu_share when the
    /// runner reached what was asked, else chunks_per_s_achieved.
    pub ceiling_chunks_per_s: f64,
    /// Measured TTFT (t_1 − sent) minus the mock's configured TTFT, ms.
    pub ttft_added_ms: Added,
    /// Each measured gap between consecutive content events minus the
    /// mock's configured gap, ms.
    pub gap_added_ms: Added,
    /// Requests that ended.
    pub requests: u64,
    /// Requests that failed.
    pub errors: u64,
}

/// Runs a calibration: starts the mock on 127.0.0.1 (port 0), loads the
/// built-in `openai-chat` plugin (compile cache in `cache_dir`) and drives
/// it with `spec`. Stops early when `cancel` is cancelled.
pub async fn calibrate(
    spec: &CalibrateSpec,
    cache_dir: Option<PathBuf>,
    cancel: CancellationToken,
) -> anyhow::Result<Calibration> {
    spec.check().map_err(anyhow::Error::msg)?;
    let plugin = tokio::task::spawn_blocking(move || {
        let engine = Arc::new(PluginEngine::new(cache_dir)?);
        crate::run::load_plugin(
            engine,
            &PluginRef::Builtin("openai-chat".into()),
            PluginLimits::default(),
        )
    })
    .await
    .context("plugin loader crashed")??;
    let gap = spec.gap_ms();
    let cfg = MockConfig {
        ttft_ms: gap,
        gap_ms: gap,
        output_tokens: Some(spec.output_tokens),
        jitter_ms: 0.0,
        seed: 42,
        ..MockConfig::default()
    };
    crate::fdlimit::raise_to_hard_limit();
    let server = mock::start(cfg, ([127, 0, 0, 1], 0).into())
        .await
        .context("starting the calibration mock")?;
    let result = drive(spec, plugin, &server.url(), cancel).await;
    server.shutdown().await;
    result
}

async fn drive(
    spec: &CalibrateSpec,
    plugin: Arc<Plugin>,
    url: &str,
    cancel: CancellationToken,
) -> anyhow::Result<Calibration> {
    let want = spec.users as usize + 8;
    let p = plugin.clone();
    tokio::task::spawn_blocking(move || p.prewarm(want))
        .await
        .context("plugin warm-up crashed")?
        .map_err(|e| anyhow::anyhow!("plugin warm-up failed: {e}"))?;
    let prompt = Item {
        prompt: Prompt::Text("Calibrate the runner.".into()),
        max_tokens: spec.output_tokens,
        input_len: 21,
        output_len: None,
    };
    let info = plugin.info().clone();
    let ctx = Arc::new(RunContext {
        clock: RunClock::start(),
        client: executor::http_client(Duration::from_secs(10))
            .context("building the HTTP client")?,
        base_url: reqwest::Url::parse(url).with_context(|| format!("mock URL `{url}`"))?,
        headers: Default::default(),
        plugin,
        framing: executor::framing_of(info.framing),
        max_line: DEFAULT_MAX_LINE,
        stream: true,
        params_json: r#"{"model":"calibration"}"#.into(),
        timeouts: Timeouts::default(),
        dataset: Arc::new(Dataset::from_items(vec![prompt], "calibration".into())),
        in_flight: InFlight::new(),
        cancel,
        failure_backoff: Duration::from_millis(100),
        keep_text: false,
        sessions: false,
        think_ms: None,
        abort_reason: std::sync::Mutex::new(None),
    });
    let (tx, mut rx) = mpsc::channel::<Sample>(16_384);
    let mut tally = Tally::new();
    let collector = tokio::spawn(async move {
        while let Some(s) = rx.recv().await {
            tally.add(&s);
        }
        tally
    });
    let cpu_before = cpu_seconds();
    let wall_before = Instant::now();
    let start = ctx.clock.now();
    let step = Step {
        phase: 0,
        kind: "users",
        load: StepLoad::Users {
            slots: schedule::users::level(spec.users, 0),
            target: f64::from(spec.users),
        },
        duration: Some(spec.duration),
        requests: None,
        warmup: false,
        seed: 0xca1b,
        label: format!("{} users", spec.users),
    };
    // Requests in flight at the end finish (they are a few chunk gaps long).
    let drain = Drain::Wait(Duration::from_secs(30));
    let window =
        executor::run_step(ctx.clone(), 0, &step, start, drain, Pacer::Tokio, None, tx).await;
    let wall = wall_before.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    let tally = collector.await.context("calibration collector crashed")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let cpu_share = cpu.filter(|_| wall > 0.0).map(|c| c / (wall * cores));
    Ok(tally.finish(spec, &window, cpu_share))
}

/// CPU time of this process, user + system, seconds.
fn cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        // SAFETY: getrusage only writes the struct given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
            return None;
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Some(secs(u.ru_utime) + secs(u.ru_stime))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// What the calibration's samples add up to.
struct Tally {
    requests: u64,
    errors: u64,
    ttft: Dist,
    gaps: Dist,
    /// Content event arrival times (run-clock ns), to count those inside
    /// the window once it is known.
    arrivals: Vec<u64>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            requests: 0,
            errors: 0,
            ttft: Dist::new(1000.0),
            gaps: Dist::new(1000.0),
            arrivals: Vec::new(),
        }
    }

    fn add(&mut self, s: &Sample) {
        const MS: f64 = 1e6;
        self.requests += 1;
        if !s.ok() {
            self.errors += 1;
            return;
        }
        if let Some(first) = s.content.first() {
            self.ttft
                .record(first.at.saturating_sub(s.sent) as f64 / MS);
        }
        for w in s.content.windows(2) {
            self.gaps
                .record(w[1].at.saturating_sub(w[0].at) as f64 / MS);
        }
        self.arrivals.extend(s.content.iter().map(|e| e.at));
    }

    fn finish(
        &self,
        spec: &CalibrateSpec,
        window: &LevelWindow,
        cpu_share: Option<f64>,
    ) -> Calibration {
        let window_s = window.end.saturating_sub(window.start) as f64 / 1e9;
        let inside = self
            .arrivals
            .iter()
            .filter(|&&at| at >= window.start && at <= window.end)
            .count();
        let achieved = if window_s > 0.0 {
            inside as f64 / window_s
        } else {
            0.0
        };
        let asked = f64::from(spec.users) * spec.chunk_rate;
        let reached = achieved >= REACHED * asked
            && window.concurrency_mean >= REACHED * f64::from(spec.users);
        let factor = match cpu_share {
            Some(share) if reached && share > 0.0 => (1.0 / share).max(1.0),
            _ => 1.0,
        };
        let gap = spec.gap_ms();
        Calibration {
            duration_s: window_s,
            output_tokens: spec.output_tokens,
            streams_asked: spec.users,
            streams_mean: window.concurrency_mean,
            streams_max: window.concurrency_max,
            chunk_rate_per_stream: spec.chunk_rate,
            chunks_per_s_asked: asked,
            chunks_per_s_achieved: achieved,
            cpu_share,
            ceiling_streams: window.concurrency_mean * factor,
            ceiling_chunks_per_s: achieved * factor,
            ttft_added_ms: Added::of(&self.ttft, gap),
            gap_added_ms: Added::of(&self.gaps, gap),
            requests: self.requests,
            errors: self.errors,
        }
    }
}

/// `calibrate: true`: measures the runner's budget at the scenario's
/// highest level and chunk rate for [`BEFORE_RUN`], printing what it found.
/// `None` when the run was stopped meanwhile.
pub async fn before_run(
    sc: &Scenario,
    cache_dir: Option<PathBuf>,
    cancel: &CancellationToken,
) -> anyhow::Result<Option<Calibration>> {
    let spec = CalibrateSpec::for_scenario(sc, BEFORE_RUN);
    println!(
        "calibrating the runner: {} streams × {:.1} chunks/s against the in-process mock for {:.1} s",
        spec.users,
        spec.chunk_rate,
        spec.duration.as_secs_f64()
    );
    let cal = calibrate(&spec, cache_dir, cancel.child_token())
        .await
        .context("calibrating the runner")?;
    if cancel.is_cancelled() {
        return Ok(None);
    }
    for line in summary_lines(&cal) {
        println!("{line}");
    }
    Ok(Some(cal))
}

/// Flags every level that uses more than [`BUDGET_SHARE`] of the
/// calibrated ceiling, in chunks/s or in peak streams.
pub fn flag_levels(cal: &Calibration, levels: &mut [LevelResult]) {
    for l in levels {
        if let Some(flag) = budget_flag(cal, l) {
            l.flags.push(flag);
        }
    }
}

fn budget_flag(cal: &Calibration, l: &LevelResult) -> Option<String> {
    if cal.ceiling_chunks_per_s <= 0.0 || cal.ceiling_streams <= 0.0 {
        return Some(
            "runner budget unknown: the calibration completed no request, so the runner's own share of this level's latency is not known".into(),
        );
    }
    let chunks = l.throughput.chunks_per_s / cal.ceiling_chunks_per_s;
    let streams = l.concurrency.max as f64 / cal.ceiling_streams;
    (chunks > BUDGET_SHARE || streams > BUDGET_SHARE).then(|| {
        format!(
            "runner budget: this level used {:.0}% of the runner's calibrated chunks/s ceiling ({:.0} of {:.0}) and {:.0}% of its streams ceiling ({} of {:.0}); above {:.0}%, part of its latency may be the runner's own",
            chunks * 100.0,
            l.throughput.chunks_per_s,
            cal.ceiling_chunks_per_s,
            streams * 100.0,
            l.concurrency.max,
            cal.ceiling_streams,
            BUDGET_SHARE * 100.0,
        )
    })
}

/// The calibration in a few lines for the terminal.
pub fn summary_lines(c: &Calibration) -> Vec<String> {
    let cpu = c
        .cpu_share
        .map_or("unknown".to_string(), |s| format!("{:.1}%", s * 100.0));
    vec![
        format!(
            "calibration: asked {} streams × {:.1} chunks/s = {:.0} chunks/s for {:.1} s; achieved {:.1} streams (max {}), {:.0} chunks/s; {} requests, {} errors; CPU {cpu}",
            c.streams_asked,
            c.chunk_rate_per_stream,
            c.chunks_per_s_asked,
            c.duration_s,
            c.streams_mean,
            c.streams_max,
            c.chunks_per_s_achieved,
            c.requests,
            c.errors,
        ),
        format!(
            "calibration: added latency TTFT p50 {:.2} ms, p99 {:.2} ms; inter-chunk gap p50 {:.2} ms, p99 {:.2} ms",
            c.ttft_added_ms.p50, c.ttft_added_ms.p99, c.gap_added_ms.p50, c.gap_added_ms.p99,
        ),
        format!(
            "calibration: ceiling ≈ {:.0} streams, {:.0} chunks/s at this chunk rate",
            c.ceiling_streams, c.ceiling_chunks_per_s
        ),
    ]
}

#[cfg(test)]
#[path = "calibrate_tests.rs"]
mod tests;
