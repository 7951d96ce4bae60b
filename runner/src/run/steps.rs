//! Steps of the schedule, one after another: the pause, the plugin
//! warm-up, the collector handshake, the early-stop rules, and the phases
//! that plan as they go (automatic sweeps and searches).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};

use crate::dataset::{self, Dataset, Item};
use crate::executor::{self, LevelWindow, Pacer, RunContext};
use crate::metrics;
use crate::plugin::Plugin;
use crate::results::{LevelResult, SearchResult, StepInfo};
use crate::sample::Sample;
use crate::scenario::{Diagnostic, Diagnostics, PhaseKind, Scenario, SearchOver, SweepOver};
use crate::schedule::{self, Search, Step, StepLoad};

use super::{Ctl, RunError};

/// Runs steps one after another, with the pause, the plugin warm-up, the
/// collector handshake and the early-stop rules.
pub(super) struct Steps<'a> {
    pub(super) sc: &'a Scenario,
    pub(super) ctx: Arc<RunContext>,
    pub(super) plugin: Arc<Plugin>,
    pub(super) tx: mpsc::Sender<Ctl>,
    pub(super) stx: mpsc::Sender<Sample>,
    pub(super) levels: Vec<LevelResult>,
    pub(super) stop_reason: Option<String>,
    pub(super) total: u32,
}

impl Steps<'_> {
    /// Runs every phase of the scenario in order; returns the searches'
    /// outcomes. Stops early (with `Ok`) when the run must stop.
    pub(super) async fn run_phases(
        &mut self,
        traces: &Traces,
    ) -> Result<Vec<SearchResult>, RunError> {
        let sc = self.sc;
        let steps = self;
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
        Ok(searches)
    }

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
pub(super) fn planned_steps(sc: &Scenario) -> u32 {
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
pub(super) fn load_traces(sc: &Scenario, data: &Dataset) -> Result<Traces, RunError> {
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
pub(super) type Traces = std::collections::BTreeMap<u32, (Arc<Vec<u64>>, Arc<Vec<Item>>)>;
