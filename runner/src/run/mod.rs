//! A whole run: start-up (dataset, plugin, mock), the levels in order, and
//! the files at the end. The one place that wires the stages together.
//!
//! Samples flow from the executor through one channel to the collector task,
//! which appends them to `requests.jsonl`, folds them into the level's
//! [`LevelStats`] and feeds the live view. Nothing reaches back upstream.

mod collector;
mod steps;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::calibrate::{self, Calibration};
use crate::clock::RunClock;
use crate::dataset::{self, Dataset};
use crate::executor::{self, LevelWindow, RunContext};
use crate::fdlimit;
use crate::framing::DEFAULT_MAX_LINE;
use crate::metrics::InFlight;
use crate::mock::{self, MockServer};
use crate::output::{self, RequestLog};
use crate::plugin::{self, Plugin, PluginEngine, PluginLimits};
use crate::progress::LiveView;
use crate::results::{Environment, LevelResult, RESULTS_VERSION, RunResults, ScenarioSummary};
use crate::sample::Sample;
use crate::scenario::{Diagnostics, Endpoint, PhaseKind, Scenario};

/// How a run failed before it could produce results.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad input (dataset lines, ...): nothing was sent. Exit code 2.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// Anything else (a port in use, an unwritable folder, ...).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Options that are not part of the scenario.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Hide the progress bars (the live lines still print).
    pub hide_progress: bool,
    /// Stop the run when this is cancelled (tests; `main` wires Ctrl-C).
    pub cancel: CancellationToken,
    /// The plugin compile cache folder.
    pub cache_dir: Option<PathBuf>,
    /// Which reports to write, in which language, from which templates.
    pub report: output::ReportOptions,
}

/// What a finished run left behind.
#[derive(Debug)]
pub struct RunOutput {
    /// The run folder.
    pub dir: PathBuf,
    /// The results, as written to results.json.
    pub results: RunResults,
}

/// Level boundaries, sent to the collector beside the samples.
enum Ctl {
    LevelStart {
        index: u32,
        total: u32,
        /// Users whose first responses end the ramp-in (0: open loop, ramp).
        users: u32,
        /// The concurrency aimed at, for the live view (0: none).
        target: u32,
        label: String,
        start: u64,
        end: u64,
        duration: Duration,
    },
    LevelEnd {
        window: LevelWindow,
        reply: oneshot::Sender<LevelResult>,
    },
}

/// Loads the plugin a scenario names.
pub fn load_plugin(
    engine: Arc<PluginEngine>,
    r: &crate::scenario::PluginRef,
    limits: PluginLimits,
) -> anyhow::Result<Arc<Plugin>> {
    match r {
        crate::scenario::PluginRef::Builtin(name) => {
            let b = plugin::builtin::find(name).with_context(|| {
                format!(
                    "no built-in plugin `{name}` (built-in: {})",
                    plugin::builtin::BUILTINS
                        .iter()
                        .map(|b| b.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            Ok(Plugin::load(engine, name, b.wasm, limits)?)
        }
        crate::scenario::PluginRef::Path(path) => {
            let wasm = std::fs::read(path)
                .with_context(|| format!("reading plugin {}", path.display()))?;
            let label = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("plugin");
            Ok(Plugin::load(engine, label, &wasm, limits)?)
        }
    }
}

/// The runner's own peak RSS (MiB) and CPU time (s) so far.
fn own_usage() -> (Option<f64>, Option<f64>) {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given and touches nothing
    // else; RUSAGE_SELF is always valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    if rc != 0 {
        return (None, None);
    }
    // SAFETY: getrusage returned 0, so the struct is initialised.
    let ru = unsafe { ru.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        Some(ru.ru_maxrss as f64 / 1024.0),
        Some(secs(ru.ru_utime) + secs(ru.ru_stime)),
    )
}

fn environment() -> Environment {
    let (rss, cpu) = own_usage();
    Environment {
        runner_peak_rss_mib: rss,
        runner_cpu_s: cpu,
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        hostname: std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
    }
}

/// Runs a scenario to the end (or until cancelled) and writes its files.
pub async fn run(sc: Scenario, opts: RunOptions) -> Result<RunOutput, RunError> {
    let started = chrono::Local::now();
    // Start-up: the plugin compiles on a blocking thread while the dataset
    // loads and the mock starts.
    let cache_dir = opts.cache_dir.clone();
    let plugin_ref = sc.target.plugin.clone();
    let plugin_task = tokio::task::spawn_blocking(move || {
        let engine = Arc::new(PluginEngine::new(cache_dir)?);
        load_plugin(engine, &plugin_ref, PluginLimits::default())
    });
    let spec = sc.dataset.clone();
    let data: Dataset = tokio::task::spawn_blocking(move || dataset::load(&spec))
        .await
        .context("dataset loader crashed")?
        .map_err(RunError::Invalid)?;
    let (base_url, mock_server): (String, Option<MockServer>) = match &sc.target.endpoint {
        Endpoint::Url(u) => (u.clone(), None),
        Endpoint::Mock(cfg) => {
            let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
            let server = mock::start(cfg.clone(), addr)
                .await
                .context("starting the embedded mock server")?;
            (server.url(), Some(server))
        }
    };
    let plugin = plugin_task.await.context("plugin loader crashed")??;
    let calibration = if sc.calibrate {
        calibrate::before_run(&sc, opts.cache_dir.clone(), &opts.cancel).await?
    } else {
        None
    };
    let result = drive(&sc, &opts, plugin, data, &base_url, started, calibration).await;
    if let Some(m) = mock_server {
        m.shutdown().await;
    }
    result
}

async fn drive(
    sc: &Scenario,
    opts: &RunOptions,
    plugin: Arc<Plugin>,
    data: Dataset,
    base_url: &str,
    started: chrono::DateTime<chrono::Local>,
    calibration: Option<Calibration>,
) -> Result<RunOutput, RunError> {
    // Traces are read before the run folder exists: a bad line is bad
    // input, reported before anything is sent.
    let traces = load_traces(sc, &data)?;
    // Multi-turn datasets are replayed turn by turn, with the real replies.
    let sessions = !data.sessions.is_empty();
    let dir = output::create_run_dir(
        &sc.output.work_dir,
        &sc.name,
        &started.format("%Y%m%d-%H%M%S").to_string(),
    )
    .with_context(|| {
        format!(
            "creating the run folder under {}",
            sc.output.work_dir.display()
        )
    })?;
    let log = RequestLog::create(&dir.join("requests.jsonl")).context("creating requests.jsonl")?;
    let info = plugin.info().clone();
    let summary = ScenarioSummary {
        file: sc.source.as_ref().map(|p| p.display().to_string()),
        scenario_sha256: sc.source.as_deref().and_then(output::file_sha256),
        target: match &sc.target.endpoint {
            Endpoint::Url(u) => output::redact(u, &sc.target.secrets),
            Endpoint::Mock(_) => format!("mock ({base_url})"),
        },
        mock: match &sc.target.endpoint {
            Endpoint::Mock(cfg) => serde_json::to_value(cfg).ok(),
            Endpoint::Url(_) => None,
        },
        plugin: info.name.clone(),
        plugin_version: info.version.clone(),
        stream: sc.target.stream,
        params: serde_json::from_str(&output::redact(
            &serde_json::Value::Object(sc.target.params.clone()).to_string(),
            &sc.target.secrets,
        ))
        .unwrap_or_default(),
        dataset: data.path.display().to_string(),
        dataset_format: data.format.name().to_string(),
        dataset_items: data.items.len(),
        levels: sc
            .load
            .phases
            .iter()
            .flat_map(|p| match &p.kind {
                PhaseKind::Users { levels, .. } => levels.clone(),
                _ => Vec::new(),
            })
            .collect(),
        level_duration_s: sc
            .load
            .phases
            .first()
            .and_then(|p| p.duration)
            .map_or(0.0, |d| d.as_secs_f64()),
        phases: sc.load.phases.iter().map(|p| p.describe()).collect(),
    };
    // Replies are kept to be counted by the tokenizer in the collector, and
    // to carry them into the next turn of a session.
    let keep_text = data.tokenizer.is_some() || sessions;
    let ctx = Arc::new(RunContext {
        clock: RunClock::start(),
        client: executor::http_client(sc.target.timeouts.connect)
            .context("building the HTTP client")?,
        base_url: reqwest::Url::parse(base_url)
            .with_context(|| format!("target URL `{base_url}`"))?,
        headers: executor::header_map(&sc.target.headers).map_err(anyhow::Error::msg)?,
        framing: executor::framing_of(info.framing),
        plugin: plugin.clone(),
        max_line: DEFAULT_MAX_LINE,
        stream: sc.target.stream,
        params_json: serde_json::Value::Object(sc.target.params.clone()).to_string(),
        timeouts: sc.target.timeouts,
        dataset: Arc::new(data),
        in_flight: InFlight::new(),
        cancel: opts.cancel.clone(),
        failure_backoff: sc.load.failure_backoff,
        sessions,
        think_ms: sc.load.think_ms,
        abort_reason: std::sync::Mutex::new(None),
        keep_text,
    });
    let view = LiveView::new(
        sc.live.interval,
        sc.live.lang,
        sc.live.style,
        opts.hide_progress,
    );
    view.println(&format!(
        "{} → {} with {} {} · results in {}",
        sc.name,
        summary.target,
        info.name,
        info.version,
        dir.display()
    ));
    let most_users = sc.load.most_in_flight();
    let need = fdlimit::needed(most_users, matches!(sc.target.endpoint, Endpoint::Mock(_)));
    if let Some(limit) = fdlimit::raise_to_hard_limit()
        && limit < need
    {
        view.println(&format!(
            "warning: {most_users} users need about {need} open files but the limit is {limit}; \
             levels above that will fail to connect (raise it with `ulimit -n {need}`)"
        ));
    }
    let (tx, ctl_rx) = mpsc::channel::<Ctl>(16);
    let (stx, srx) = mpsc::channel::<Sample>(16_384);
    let collector = tokio::spawn(collect(ctx.clone(), sc.slo, ctl_rx, srx, log, view));

    let mut steps = Steps {
        sc,
        ctx: ctx.clone(),
        plugin: plugin.clone(),
        tx,
        stx,
        levels: Vec::new(),
        stop_reason: None,
        total: planned_steps(sc),
    };
    let searches = steps.run_phases(&traces).await?;
    let Steps {
        tx,
        stx,
        mut levels,
        stop_reason,
        ..
    } = steps;
    drop(tx);
    drop(stx);
    let mut log = collector.await.context("collector crashed")?;
    log.flush().context("writing requests.jsonl")?;
    if let Some(cal) = &calibration {
        calibrate::flag_levels(cal, &mut levels);
    }

    let results = RunResults {
        results_version: RESULTS_VERSION,
        runner_version: env!("CARGO_PKG_VERSION").to_string(),
        name: sc.name.clone(),
        description: sc.description.clone(),
        started_at: started.to_rfc3339(),
        finished_at: chrono::Local::now().to_rfc3339(),
        interrupted: ctx.cancel.is_cancelled(),
        stop_reason,
        scenario: summary,
        environment: environment(),
        levels,
        searches,
        calibration,
    };
    let json = serde_json::to_string_pretty(&results).context("encoding results")?;
    let json = output::redact(&json, &sc.target.secrets);
    output::write_atomic(&dir.join("results.json"), json.as_bytes())
        .context("writing results.json")?;
    output::write_reports(&dir, &results, &sc.target.secrets, &opts.report).map_err(|e| {
        anyhow::anyhow!(
            "writing the reports: {e}\n(results.json is saved; re-render with `runner report {}`)",
            dir.join("results.json").display()
        )
    })?;
    Ok(RunOutput { dir, results })
}

use collector::collect;
use steps::{Steps, load_traces, planned_steps};
