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
use crate::dataset::Item;
use crate::dataset::{self, Dataset};
use crate::executor::{self, LevelWindow, Pacer, RunContext};
use crate::fdlimit;
use crate::framing::DEFAULT_MAX_LINE;
use crate::metrics::{self, ByTurn, InFlight, LevelStats, tokens};
use crate::mock::{self, MockServer};
use crate::output::{self, RequestLog};
use crate::plugin::{self, Plugin, PluginEngine, PluginLimits};
use crate::progress::LiveView;
use crate::results::{
    Environment, LevelResult, RESULTS_VERSION, RunResults, ScenarioSummary, SearchResult, StepInfo,
};
use crate::sample::{ErrorClass, Sample};
use crate::scenario::{
    Diagnostic, Diagnostics, Endpoint, PhaseKind, Scenario, SearchOver, Slo, SweepOver,
};
use crate::schedule::{self, Search, Step, StepLoad};

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

/// The runner's resident memory now, MiB (Linux: `/proc/self/statm`).
fn current_rss_mib() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page > 0).then(|| pages * page as f64 / (1024.0 * 1024.0))
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
    let mut searches = Vec::new();
    'phases: for (pi, phase) in sc.load.phases.iter().enumerate() {
        let pi = pi as u32;
        match &phase.kind {
            PhaseKind::Sweep {
                over:
                    SweepOver::Auto {
                        points,
                        lowest,
                        saturate_users,
                    },
                open,
            } => {
                let sat = schedule::user_step(phase, pi, "saturate", *saturate_users);
                let Some(r) = steps.run(sat, None).await? else {
                    break 'phases;
                };
                let most = r.throughput.requests_per_s;
                for rate in schedule::auto_rates(most, *points, *lowest) {
                    let step = schedule::rate_step(phase, pi, "sweep", rate, *open);
                    if steps.run(step, None).await?.is_none() {
                        break 'phases;
                    }
                }
            }
            PhaseKind::Search(spec) => {
                let users = spec.over == SearchOver::Users;
                let mut search = Search::new(
                    spec.start,
                    if users {
                        1.0
                    } else {
                        spec.start.min(1.0) / 64.0
                    },
                    spec.max,
                    spec.precision,
                    users,
                );
                let mut stopped = false;
                while let Some(v) = search.next() {
                    let step = if users {
                        schedule::user_step(phase, pi, "search", v as u32)
                    } else {
                        schedule::rate_step(phase, pi, "search", v, spec.open)
                    };
                    let Some(r) = steps.run(step, None).await? else {
                        stopped = true;
                        break;
                    };
                    let passed = probe_passed(&r, spec.min_good);
                    search.record(v, passed);
                    if let Some(last) = steps.levels.last_mut() {
                        last.step.passed = Some(passed);
                    }
                }
                searches.push(SearchResult {
                    phase: pi,
                    over: if users { "users" } else { "rate" }.to_string(),
                    found: search.found(),
                    precision: spec.precision,
                    min_good: spec.min_good,
                    probes: search.probes().to_vec(),
                });
                if stopped {
                    break 'phases;
                }
            }
            _ => {
                let trace = traces.get(&pi);
                let offsets = trace.map(|t| t.0.clone());
                for step in schedule::expand(phase, pi, offsets) {
                    if steps.run(step, trace.map(|t| t.1.clone())).await?.is_none() {
                        break 'phases;
                    }
                }
            }
        }
    }
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
    by_turn: ByTurn,
    /// The level's requests sent, and its first and last send times.
    sends: (u64, u64, u64),
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
            self.by_turn.add(s);
            self.sends = (
                self.sends.0 + 1,
                self.sends.1.min(s.sent),
                self.sends.2.max(s.sent),
            );
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
        by_turn: ByTurn::default(),
        sends: (0, u64::MAX, 0),
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
                Some(Ctl::LevelStart { index, total, users, target, label, start, end, duration }) => {
                    c.level_start = start;
                    c.stats = Some((LevelStats::new(index, users, start, end, c.slo), duration.as_secs_f64()));
                    c.by_turn = ByTurn::default();
                    c.sends = (0, u64::MAX, 0);
                    c.view.start_level(index as usize, total as usize, &label, target, duration, start);
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
                    if let Some((mut st, dur)) = c.stats.take() {
                        st.end_window(window.end);
                        let mut r = st.finish(dur, (window.concurrency_mean, window.concurrency_max));
                        r.by_turn = std::mem::take(&mut c.by_turn).finish();
                        let (n, first, last) = c.sends;
                        r.step.sent_rate = (n > 1 && last > first)
                            .then(|| (n - 1) as f64 / ((last - first) as f64 / 1e9));
                        let _ = reply.send(r);
                    }
                    let _ = c.log.flush();
                }
            },
            _ = tick.tick() => {
                let now = c.ctx.clock.now();
                if let Some((st, _)) = c.stats.as_mut() {
                    st.note_in_flight(now, c.ctx.in_flight.current());
                    if let Some(rss) = current_rss_mib() {
                        st.note_rss(now, rss);
                    }
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

/// Runs steps one after another, with the pause, the plugin warm-up, the
/// collector handshake and the early-stop rules.
struct Steps<'a> {
    sc: &'a Scenario,
    ctx: Arc<RunContext>,
    plugin: Arc<Plugin>,
    tx: mpsc::Sender<Ctl>,
    stx: mpsc::Sender<Sample>,
    levels: Vec<LevelResult>,
    stop_reason: Option<String>,
    total: u32,
}

impl Steps<'_> {
    /// Runs `step` as the next level. `Ok(None)` when the run must stop
    /// (stopped by the user, aborted, or an early-stop rule).
    async fn run(
        &mut self,
        step: Step,
        trace: Option<Arc<Vec<Item>>>,
    ) -> Result<Option<LevelResult>, RunError> {
        let ctx = self.ctx.clone();
        let i = self.levels.len() as u32;
        if ctx.cancel.is_cancelled() {
            self.note_cancel();
            return Ok(None);
        }
        if i > 0 && !self.sc.load.pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(self.sc.load.pause) => {}
                _ = ctx.cancel.cancelled() => {
                    self.note_cancel();
                    return Ok(None);
                }
            }
        }
        // Warm one instance per request that can be in flight (and a few
        // spare) before the clock starts, so no request waits for an
        // instantiation.
        let want = match &step.load {
            StepLoad::Users { slots, .. } => slots.len(),
            StepLoad::Open { open, .. } => open.cap.map_or(256, |c| c as usize),
        } + 8;
        let p = self.plugin.clone();
        tokio::task::spawn_blocking(move || p.prewarm(want))
            .await
            .context("plugin warm-up crashed")?
            .map_err(|e| anyhow::anyhow!("plugin warm-up failed: {e}"))?;
        let start = ctx.clock.now();
        let duration = step.duration.unwrap_or(Duration::ZERO);
        // Closed-loop levels end their ramp-in when every user has had a
        // response; ramps and open-loop steps have none.
        let ramp_in_users = match &step.load {
            StepLoad::Users { slots, .. } if step.kind != "ramp" => slots.len() as u32,
            _ => 0,
        };
        let _ = self
            .tx
            .send(Ctl::LevelStart {
                index: i,
                total: self.total.max(i + 1),
                users: ramp_in_users,
                target: match &step.load {
                    StepLoad::Users { slots, .. } => slots.len() as u32,
                    StepLoad::Open { open, .. } => open.cap.unwrap_or(0),
                },
                label: step.label.clone(),
                start,
                end: start + duration.as_nanos() as u64,
                duration,
            })
            .await;
        let window = executor::run_step(
            ctx.clone(),
            i,
            &step,
            start,
            self.sc.load.drain,
            Pacer::Thread,
            trace,
            self.stx.clone(),
        )
        .await;
        // Every task of the step has returned, so all of its samples are in
        // the sample channel before this message is sent.
        let (reply, got) = oneshot::channel();
        let _ = self.tx.send(Ctl::LevelEnd { window, reply }).await;
        let mut result = got.await.context("collector stopped")?;
        let sent_rate = result.step.sent_rate;
        result.step = step_info(&step, &window);
        if result.step.target_rate.is_some() || step.kind == "replay" {
            result.step.sent_rate = sent_rate;
        }
        if let Some(target) = result.step.target_users
            && step.kind == "ramp"
            && target > 0.0
            && window.concurrency_mean < target * metrics::CONCURRENCY_FLAG_RATIO
        {
            result.flags.push(format!(
                "concurrency short: achieved mean {:.1} of the ramp's mean target {:.1} users",
                window.concurrency_mean, target
            ));
        }
        if window.dropped > 0 {
            result.flags.push(format!(
                "{} of {} arrivals dropped: `max_in_flight` was reached (use `overflow: queue` to send them late instead)",
                window.dropped, window.arrivals
            ));
        }
        let stop = self
            .sc
            .load
            .early_stop
            .then(|| metrics::early_stop::original_rules(&result))
            .flatten();
        self.levels.push(result.clone());
        if let Some(reason) = stop {
            if i + 1 < self.total {
                self.stop_reason = Some(format!("early stop after {reason}"));
            }
            return Ok(None);
        }
        if ctx.cancel.is_cancelled() {
            self.note_cancel();
            return Ok(None);
        }
        Ok(Some(result))
    }

    fn note_cancel(&mut self) {
        if self.stop_reason.is_none() && self.ctx.cancel.is_cancelled() {
            self.stop_reason = Some(
                self.ctx
                    .aborted()
                    .unwrap_or_else(|| "stopped by the user (Ctrl-C or SIGTERM)".to_string()),
            );
        }
    }
}

/// What results.json says about the step a level measured.
fn step_info(step: &Step, w: &LevelWindow) -> StepInfo {
    let window_s = w.end.saturating_sub(w.start) as f64 / 1e9;
    let (target_users, target_rate, open) = match &step.load {
        StepLoad::Users { target, .. } => (Some(*target), None, false),
        StepLoad::Open { target_rate, .. } => (None, *target_rate, true),
    };
    StepInfo {
        phase: step.phase,
        kind: step.kind.to_string(),
        label: step.label.clone(),
        warmup: step.warmup,
        target_users,
        target_rate,
        arrivals: w.arrivals,
        dropped: w.dropped,
        offered_rate: (open && window_s > 0.0).then(|| w.arrivals as f64 / window_s),
        sent_rate: None,
        passed: None,
    }
}

/// A search probe passes when it sent requests and at least `min_good` of
/// them were good (succeeded and met every SLO).
fn probe_passed(r: &LevelResult, min_good: f64) -> bool {
    r.requests > 0
        && r.goodput
            .as_ref()
            .is_some_and(|g| g.good_fraction >= min_good)
}

/// Steps known before the run, for "level i/N" (sweeps and searches plan
/// as they go and count as their known part).
fn planned_steps(sc: &Scenario) -> u32 {
    sc.load
        .phases
        .iter()
        .map(|p| match &p.kind {
            PhaseKind::Users { levels, .. } => levels.len(),
            PhaseKind::Sweep { over, .. } => match over {
                SweepOver::Rates(r) => r.len(),
                SweepOver::Users(u) => u.len(),
                SweepOver::Auto { points, .. } => *points as usize + 1,
            },
            _ => 1,
        } as u32)
        .sum()
}

/// Reads every replay phase's trace: its send offsets (scaled) and a
/// request for each line. Bad lines are reported together, with their
/// numbers, before anything is sent.
fn load_traces(sc: &Scenario, data: &Dataset) -> Result<Traces, RunError> {
    let mut out = Traces::new();
    let corpus = dataset::Corpus::new(dataset::BUILTIN_CORPUS);
    for (pi, phase) in sc.load.phases.iter().enumerate() {
        let PhaseKind::Replay { path, speed, .. } = &phase.kind else {
            continue;
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            RunError::Invalid(Diagnostics::from(Diagnostic::in_file(
                path,
                format!("cannot read the trace: {e}"),
            )))
        })?;
        let entries = schedule::replay::parse(&text).map_err(|problems| {
            let mut d = Diagnostics::default();
            for p in problems.iter().take(dataset::MAX_REPORTED) {
                d.push(Diagnostic::at_line(path, p.line, p.message.clone()));
            }
            RunError::Invalid(d)
        })?;
        let mut items = Vec::with_capacity(entries.len());
        for (n, e) in entries.iter().enumerate() {
            let prompt = match (&e.prompt, e.input_len, &corpus) {
                (Some(p), _, _) => p.clone(),
                (None, Some(len), Some(corpus)) => corpus
                    .text(n, len, data.tokenizer.as_deref())
                    .map_err(|m| {
                    RunError::Invalid(Diagnostics::from(Diagnostic::in_file(path, m)))
                })?,
                _ => String::new(),
            };
            items.push(Item {
                prompt: dataset::Prompt::Text(prompt),
                max_tokens: e.output_len.unwrap_or(sc.dataset.default_max_tokens),
                input_len: e.input_len.unwrap_or(0),
                output_len: e.output_len,
            });
        }
        out.insert(
            pi as u32,
            (
                Arc::new(schedule::replay::offsets(&entries, *speed)),
                Arc::new(items),
            ),
        );
    }
    Ok(out)
}

/// Replay phases' offsets and requests, by phase index.
type Traces = std::collections::BTreeMap<u32, (Arc<Vec<u64>>, Arc<Vec<Item>>)>;
