//! The collector: the only consumer of samples. It appends them to
//! `requests.jsonl`, folds them into the level's [`LevelStats`], counts
//! tokens off the I/O path and feeds the live view.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::executor::RunContext;
use crate::metrics::{ByTurn, LevelStats, tokens};
use crate::output::RequestLog;
use crate::progress::LiveView;
use crate::sample::{ErrorClass, Sample};
use crate::scenario::Slo;

use super::Ctl;

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

pub(super) async fn collect(
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

/// The runner's resident memory now, MiB (Linux: `/proc/self/statm`).
fn current_rss_mib() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page > 0).then(|| pages * page as f64 / (1024.0 * 1024.0))
}
