//! A whole run: start-up (dataset, plugin, mock), the levels in order, and
//! the files at the end. The one place that wires the stages together.
//!
//! Samples flow from the executor through one channel to the collector task,
//! which appends them to `requests.jsonl`, folds them into the level's
//! [`LevelStats`] and feeds the live view. Nothing reaches back upstream.

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
use crate::metrics::{self, InFlight, LevelStats, tokens};
use crate::mock::{self, MockServer};
use crate::output::{self, RequestLog};
use crate::plugin::{self, Plugin, PluginEngine, PluginLimits};
use crate::progress::LiveView;
use crate::results::{Environment, LevelResult, RESULTS_VERSION, RunResults, ScenarioSummary};
use crate::sample::{ErrorClass, Sample};
use crate::scenario::{Diagnostics, Endpoint, Scenario, Slo};

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
        users: u32,
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

fn environment() -> Environment {
    Environment {
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
        levels: sc.load.levels.iter().map(|l| l.users).collect(),
        level_duration_s: sc
            .load
            .levels
            .first()
            .map_or(0.0, |l| l.duration.as_secs_f64()),
    };
    // Replies are kept only to be counted by the tokenizer in the collector.
    let keep_text = data.tokenizer.is_some();
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
    let most_users = sc.load.levels.iter().map(|l| l.users).max().unwrap_or(0);
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

    let mut levels = Vec::new();
    let mut stop_reason = None;
    let total = sc.load.levels.len();
    for (i, level) in sc.load.levels.iter().enumerate() {
        if ctx.cancel.is_cancelled() {
            break;
        }
        if i > 0 && !sc.load.pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(sc.load.pause) => {}
                _ = ctx.cancel.cancelled() => break,
            }
        }
        // Warm one instance per user (and a few spare) before the clock
        // starts, so no request waits for an instantiation.
        let want = level.users as usize + 8;
        let p = plugin.clone();
        tokio::task::spawn_blocking(move || p.prewarm(want))
            .await
            .context("plugin warm-up crashed")?
            .map_err(|e| anyhow::anyhow!("plugin warm-up failed: {e}"))?;
        let start = ctx.clock.now();
        let end = start + level.duration.as_nanos() as u64;
        let _ = tx
            .send(Ctl::LevelStart {
                index: i as u32,
                total: total as u32,
                users: level.users,
                start,
                end,
                duration: level.duration,
            })
            .await;
        let window = executor::closed_level(
            ctx.clone(),
            i as u32,
            level.users,
            start,
            level.duration,
            0x5eed_0000 + i as u64,
            stx.clone(),
        )
        .await;
        // Every user has returned, so all of this level's samples are in the
        // sample channel before this message is sent.
        let (reply, got) = oneshot::channel();
        let _ = tx.send(Ctl::LevelEnd { window, reply }).await;
        let result = got.await.context("collector stopped")?;
        let stop = sc
            .load
            .early_stop
            .then(|| metrics::early_stop::original_rules(&result))
            .flatten();
        levels.push(result);
        if let Some(reason) = stop {
            if i + 1 < total {
                stop_reason = Some(format!("early stop after {reason}"));
            }
            break;
        }
        if ctx.cancel.is_cancelled() {
            stop_reason = Some(
                ctx.aborted()
                    .unwrap_or_else(|| "stopped by the user (Ctrl-C or SIGTERM)".to_string()),
            );
            break;
        }
    }
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

/// The collector: the only consumer of samples.
/// A run stops when this many requests in a row failed with
/// `plugin_fault` and none has succeeded since: benchmarking a plugin that
/// faults on every request would measure nothing.
const PLUGIN_FAULT_LIMIT: u64 = 100;

struct Collector {
    ctx: Arc<RunContext>,
    faults_in_a_row: u64,
    slo: Slo,
    log: RequestLog,
    view: LiveView,
    stats: Option<(LevelStats, f64)>,
    level_start: u64,
    log_failed: bool,
}

impl Collector {
    /// Folds in one sample; its tokenizer count, if any, is already in
    /// it ([`tokens::count_replies`]).
    fn sample(&mut self, s: Sample) {
        let s = &s;
        match &s.failure {
            None => self.faults_in_a_row = 0,
            Some(f) if f.class == ErrorClass::PluginFault => {
                self.faults_in_a_row += 1;
                if self.faults_in_a_row == PLUGIN_FAULT_LIMIT {
                    self.ctx.abort(format!(
                        "the plugin faulted on {PLUGIN_FAULT_LIMIT} requests in a row and none succeeded; last fault: {}. Fix the plugin (try `runner plugin check`) and run again",
                        f.message
                    ));
                }
            }
            Some(_) => {}
        }
        if let Some((st, _)) = self.stats.as_mut() {
            st.add(s);
        }
        self.view.on_sample(s);
        if !self.log_failed
            && let Err(e) = self.log.write(s)
        {
            self.log_failed = true;
            self.view.println(&format!(
                "warning: requests.jsonl: {e}; later requests are not logged"
            ));
        }
    }
}

async fn collect(
    ctx: Arc<RunContext>,
    slo: Slo,
    mut ctl: mpsc::Receiver<Ctl>,
    mut samples: mpsc::Receiver<Sample>,
    log: RequestLog,
    view: LiveView,
) -> RequestLog {
    let mut c = Collector {
        ctx,
        faults_in_a_row: 0,
        slo,
        log,
        view,
        stats: None,
        level_start: 0,
        log_failed: false,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            Some(s) = samples.recv() => {
                let mut batch = vec![s];
                while batch.len() < tokens::BATCH && let Ok(s) = samples.try_recv() {
                    batch.push(s);
                }
                for s in tokens::count_replies(c.ctx.dataset.tokenizer.as_ref(), batch).await {
                    c.sample(s);
                }
            }
            msg = ctl.recv() => match msg {
                None => break,
                Some(Ctl::LevelStart { index, total, users, start, end, duration }) => {
                    c.level_start = start;
                    c.stats = Some((LevelStats::new(index, users, start, end, c.slo), duration.as_secs_f64()));
                    c.view.start_level(index as usize, total as usize, users, duration, start);
                }
                Some(Ctl::LevelEnd { window, reply }) => {
                    let mut rest = Vec::new();
                    while let Ok(s) = samples.try_recv() {
                        rest.push(s);
                    }
                    for s in tokens::count_replies(c.ctx.dataset.tokenizer.as_ref(), rest).await {
                        c.sample(s);
                    }
                    c.view.end_level(c.ctx.clock.now(), c.ctx.in_flight.current());
                    if let Some((st, dur)) = c.stats.take() {
                        let _ = reply.send(st.finish(dur, (window.concurrency_mean, window.concurrency_max)));
                    }
                    let _ = c.log.flush();
                }
            },
            _ = tick.tick() => {
                let now = c.ctx.clock.now();
                if let Some((st, _)) = c.stats.as_mut() {
                    st.note_in_flight(now, c.ctx.in_flight.current());
                    let elapsed = Duration::from_nanos(now.saturating_sub(c.level_start));
                    c.view.tick(now, elapsed, c.ctx.in_flight.current());
                }
            }
        }
    }
    let mut rest = Vec::new();
    while let Ok(s) = samples.try_recv() {
        rest.push(s);
    }
    for s in tokens::count_replies(c.ctx.dataset.tokenizer.as_ref(), rest).await {
        c.sample(s);
    }
    c.log
}
