//! Runs one step of the schedule: closed-loop users or open-loop arrivals,
//! then the drain. The one driver for every shape of load; each request
//! goes through [`super::work`], which sends a single request or a whole
//! multi-turn session.
//!
//! Planned send times: a closed-loop user's next request is due when its
//! previous one ended (or its back-off did); an open-loop request is due at
//! its arrival time on an absolute timeline from the step start, so a late
//! dispatcher or a full cap shows in `queue_delay` instead of shifting the
//! schedule (no coordinated omission).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::RunContext;
use super::work::{Unit, run_unit};
use crate::dataset::Item;
use crate::sample::Sample;
use crate::scenario::{Drain, Overflow};
use crate::schedule::{Step, StepLoad, UserSlot};

/// When a step's load ran, what it sent and the concurrency it achieved.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LevelWindow {
    /// Start of the load window, run-clock ns.
    pub start: u64,
    /// End of the load window (when the step stopped starting requests).
    pub end: u64,
    /// Time-weighted mean of requests in flight over the window.
    pub concurrency_mean: f64,
    /// Most requests in flight at once in the window.
    pub concurrency_max: u64,
    /// When the last request of the step ended (drain included).
    pub drained: u64,
    /// Open loop: arrivals scheduled in the window.
    pub arrivals: u64,
    /// Open loop: arrivals not sent because the in-flight cap was full.
    pub dropped: u64,
}

/// How an open-loop dispatcher waits for the next arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacer {
    /// `tokio::time::sleep_until`: follows a paused test clock, but wakes on
    /// tokio's 1 ms timer ticks.
    Tokio,
    /// A dedicated thread that sleeps to within ~0.1 ms and spins the rest,
    /// so arrivals leave on time at thousands per second.
    Thread,
}

/// A request budget shared by a step's users or dispatcher.
struct Budget {
    left: AtomicU64,
    spent: Notify,
}

impl Budget {
    fn new(requests: Option<u64>) -> Self {
        Budget {
            left: AtomicU64::new(requests.unwrap_or(u64::MAX)),
            spent: Notify::new(),
        }
    }

    /// Takes one request; false when the budget is spent.
    fn take(&self) -> bool {
        let r = self
            .left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |l| l.checked_sub(1));
        if r == Ok(1) {
            self.spent.notify_one();
        }
        r.is_ok()
    }
}

/// Runs `step` as level `level` from `start` (run-clock ns, normally now),
/// sending every sample to `samples`, then drains as `drain` says. `trace`
/// holds a replay step's requests, by arrival index.
#[allow(clippy::too_many_arguments)]
pub async fn run_step(
    ctx: Arc<RunContext>,
    level: u32,
    step: &Step,
    start: u64,
    drain: Drain,
    pacer: Pacer,
    trace: Option<Arc<Vec<Item>>>,
    samples: mpsc::Sender<Sample>,
) -> LevelWindow {
    let t0 = Instant::from_std(ctx.clock.instant(start));
    let stop_at = step.duration.map(|d| t0 + d);
    // Requests in flight end on this token when a drain cancels them; it is
    // a child of the run's, so Ctrl-C cancels it too.
    let stop = ctx.cancel.child_token();
    let tracker = TaskTracker::new();
    let budget = Arc::new(Budget::new(step.requests));
    let mark = ctx.in_flight.mark_start(start);
    let mut window = LevelWindow {
        start,
        ..Default::default()
    };
    match &step.load {
        StepLoad::Users { slots, .. } => {
            for (user, slot) in slots.iter().enumerate() {
                let user = user as u32;
                let rng =
                    SmallRng::seed_from_u64(step.seed ^ (u64::from(level) << 32) ^ u64::from(user));
                tracker.spawn(user_loop(
                    ctx.clone(),
                    level,
                    user,
                    *slot,
                    t0,
                    stop_at,
                    budget.clone(),
                    rng,
                    stop.clone(),
                    samples.clone(),
                ));
            }
            let limit = async {
                match stop_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let spent = async {
                if step.requests.is_some() {
                    budget.spent.notified().await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                _ = limit => {}
                _ = spent => {}
                _ = ctx.cancel.cancelled() => {}
            }
        }
        StepLoad::Open { open, .. } => {
            let d = Dispatch {
                ctx: ctx.clone(),
                level,
                t0,
                arrivals: step.arrivals(),
                sampler_seed: step.seed,
                cap: open
                    .cap
                    .map(|c| (Arc::new(Semaphore::new(c as usize)), open.overflow)),
                tracker: tracker.clone(),
                stop: stop.clone(),
                samples: samples.clone(),
                trace,
            };
            let (arrivals, dropped) = match pacer {
                Pacer::Tokio => d.run(Pacer::Tokio).await,
                Pacer::Thread => {
                    let handle = tokio::runtime::Handle::current();
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let spawned = std::thread::Builder::new()
                        .name("runner-dispatch".into())
                        .spawn(move || {
                            let r = handle.block_on(d.run(Pacer::Thread));
                            let _ = tx.send(r);
                        });
                    match spawned {
                        Ok(_) => rx.await.unwrap_or((0, 0)),
                        Err(e) => {
                            tracing::error!("cannot start the dispatcher thread: {e}");
                            (0, 0)
                        }
                    }
                }
            };
            window.arrivals = arrivals;
            window.dropped = dropped;
            if let Some(at) = stop_at {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = ctx.cancel.cancelled() => {}
                }
            }
        }
    }
    window.end = ctx.clock.now();
    (window.concurrency_mean, window.concurrency_max) = ctx.in_flight.mark_end(mark, window.end);
    // The load is over: users stop starting requests (they watch the
    // clock and the budget); what is in flight drains.
    budget.left.store(0, Ordering::Release);
    tracker.close();
    match drain {
        Drain::Cancel => stop.cancel(),
        Drain::Wait(limit) => {
            if tokio::time::timeout(limit, tracker.wait()).await.is_err() {
                stop.cancel();
            }
        }
    }
    tracker.wait().await;
    window.drained = ctx.clock.now();
    window
}

/// Hands a sample to the collector; false when it is gone.
pub(super) async fn hand_over(tx: &mpsc::Sender<Sample>, sample: Sample) -> bool {
    // try_send first: it never yields, so a user is not parked behind the
    // whole run queue just to hand its sample over.
    match tx.try_send(sample) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(sample)) => tx.send(sample).await.is_ok(),
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

#[allow(clippy::too_many_arguments)]
async fn user_loop(
    ctx: Arc<RunContext>,
    level: u32,
    user: u32,
    slot: UserSlot,
    t0: Instant,
    stop_at: Option<Instant>,
    budget: Arc<Budget>,
    mut rng: SmallRng,
    stop: CancellationToken,
    tx: mpsc::Sender<Sample>,
) {
    let begin = t0 + Duration::from_nanos(slot.start);
    let end = match (stop_at, slot.stop) {
        (Some(a), Some(b)) => Some(a.min(t0 + Duration::from_nanos(b))),
        (a, None) => a,
        (None, Some(b)) => Some(t0 + Duration::from_nanos(b)),
    };
    let before_end = || end.is_none_or(|e| Instant::now() < e);
    if slot.start > 0 {
        tokio::select! {
            _ = tokio::time::sleep_until(begin) => {}
            _ = stop.cancelled() => return,
        }
    }
    let mut sampler = ctx.dataset.sampler(rng.random(), user);
    // The user is free from its start; afterwards, from the end of its last
    // request (or of its back-off). Everything the runner does in between
    // (handing the sample over, picking the next prompt, the scheduler)
    // shows in the next request's queue_delay.
    let mut free_at = ctx.clock.now();
    while before_end() && !stop.is_cancelled() && budget.take() {
        let unit = Unit::Dataset(sampler.next());
        let outcome = run_unit(&ctx, level, user, unit, free_at, &stop, &tx).await;
        let Some((end_ns, failed)) = outcome else {
            return;
        };
        free_at = end_ns;
        if failed && !ctx.failure_backoff.is_zero() {
            let mut until = Instant::now() + ctx.failure_backoff;
            if let Some(e) = end {
                until = until.min(e);
            }
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = stop.cancelled() => return,
            }
            free_at = ctx.clock.now();
        }
    }
}

/// The open-loop dispatcher's state.
struct Dispatch {
    ctx: Arc<RunContext>,
    level: u32,
    t0: Instant,
    arrivals: Box<dyn Iterator<Item = u64> + Send>,
    sampler_seed: u64,
    cap: Option<(Arc<Semaphore>, Overflow)>,
    tracker: TaskTracker,
    stop: CancellationToken,
    samples: mpsc::Sender<Sample>,
    trace: Option<Arc<Vec<Item>>>,
}

impl Dispatch {
    /// Sends every arrival at its time; returns (arrivals, dropped).
    async fn run(self, pacer: Pacer) -> (u64, u64) {
        let Dispatch {
            ctx,
            level,
            t0,
            arrivals,
            sampler_seed,
            cap,
            tracker,
            stop,
            samples,
            trace,
        } = self;
        let mut sampler = ctx.dataset.sampler(sampler_seed, 0);
        let mut dropped = 0u64;
        let slots = Arc::new(Slots::default());
        let count = pace(arrivals, t0, pacer, &ctx.cancel, |index, due| {
            let planned = ctx.clock.at(due.into_std());
            let permit = match &cap {
                None => None,
                Some((sem, Overflow::Drop)) => match sem.clone().try_acquire_owned() {
                    Ok(p) => Some(Ok(p)),
                    Err(_) => {
                        dropped += 1;
                        return;
                    }
                },
                Some((sem, Overflow::Queue)) => Some(Err(sem.clone())),
            };
            let unit = match &trace {
                Some(items) => Unit::Trace(items.clone(), index as usize),
                None => Unit::Dataset(sampler.next()),
            };
            let ctx = ctx.clone();
            let stop = stop.clone();
            let tx = samples.clone();
            let slots = slots.clone();
            tracker.spawn(async move {
                let _permit = match permit {
                    None => None,
                    Some(Ok(p)) => Some(p),
                    Some(Err(sem)) => tokio::select! {
                        p = sem.acquire_owned() => p.ok(),
                        _ = stop.cancelled() => return,
                    },
                };
                // The request's "user" is the in-flight slot it holds, so
                // user counts stay bounded by the concurrency reached.
                let user = slots.take();
                let _ = run_unit(&ctx, level, user, unit, planned, &stop, &tx).await;
                slots.give(user);
            });
        })
        .await;
        (count, dropped)
    }
}

/// Numbers for requests in flight: the lowest free one is reused, so the
/// numbers in use never exceed the most requests in flight at once.
#[derive(Default)]
struct Slots {
    free: std::sync::Mutex<std::collections::BinaryHeap<std::cmp::Reverse<u32>>>,
    next: std::sync::atomic::AtomicU32,
}

impl Slots {
    fn take(&self) -> u32 {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        match free.pop() {
            Some(std::cmp::Reverse(n)) => n,
            None => self.next.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn give(&self, n: u32) {
        self.free
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(std::cmp::Reverse(n));
    }
}

/// Waits for each arrival offset (ns from `t0`) in turn and calls
/// `arrive(index, due)` at its time. Returns how many arrived before the
/// offsets ran out or `cancel` fired. The due time, not the wake-up time,
/// is what a request is planned at, so a late wake-up shows as queue delay.
pub(super) async fn pace(
    arrivals: impl Iterator<Item = u64>,
    t0: Instant,
    pacer: Pacer,
    cancel: &CancellationToken,
    mut arrive: impl FnMut(u64, Instant),
) -> u64 {
    let mut count = 0u64;
    for offset in arrivals {
        let due = t0 + Duration::from_nanos(offset);
        if !wait_until(pacer, due, cancel).await {
            break;
        }
        arrive(count, due);
        count += 1;
    }
    count
}

/// Waits until `due`; false when the run was cancelled first.
async fn wait_until(pacer: Pacer, due: Instant, cancel: &CancellationToken) -> bool {
    match pacer {
        Pacer::Tokio => {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => true,
                _ = cancel.cancelled() => false,
            }
        }
        Pacer::Thread => {
            // Runs on the dispatcher's own thread, so blocking is fine.
            let due = due.into_std();
            loop {
                if cancel.is_cancelled() {
                    return false;
                }
                let now = std::time::Instant::now();
                if now >= due {
                    return true;
                }
                let left = due - now;
                if left > Duration::from_millis(20) {
                    std::thread::sleep(Duration::from_millis(10));
                } else if left > Duration::from_micros(150) {
                    std::thread::sleep(left - Duration::from_micros(100));
                } else {
                    std::hint::spin_loop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Arrivals, Process, RateProfile};

    #[test]
    fn slots_reuse_the_lowest_free_number() {
        let s = Slots::default();
        assert_eq!((s.take(), s.take(), s.take()), (0, 1, 2));
        s.give(1);
        s.give(0);
        assert_eq!(s.take(), 0);
        assert_eq!(s.take(), 1);
        assert_eq!(s.take(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn constant_arrivals_fire_exactly_at_their_planned_times() {
        let t0 = Instant::now();
        let arrivals = Arrivals::new(
            Process::Constant,
            RateProfile::constant(500.0),
            1,
            None,
            Some(20_000_000),
        );
        let mut seen = Vec::new();
        let n = pace(
            arrivals,
            t0,
            Pacer::Tokio,
            &CancellationToken::new(),
            |i, due| {
                seen.push((i, due - t0, Instant::now() - t0));
            },
        )
        .await;
        assert_eq!(n, 10);
        for (i, due, woke) in seen {
            let want = Duration::from_millis(2 * i);
            assert_eq!(due, want, "arrival {i} planned");
            assert_eq!(woke, want, "arrival {i} woke on the paused clock");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_run_stops_arrivals() {
        let t0 = Instant::now();
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(55)).await;
            c.cancel();
        });
        let arrivals = Arrivals::new(
            Process::Constant,
            RateProfile::constant(100.0),
            1,
            None,
            None,
        );
        let n = pace(arrivals, t0, Pacer::Tokio, &cancel, |_, _| {}).await;
        assert_eq!(n, 6, "arrivals at 0, 10, ..., 50 ms");
    }

    #[tokio::test(start_paused = true)]
    async fn poisson_arrivals_keep_their_absolute_times() {
        let t0 = Instant::now();
        let arrivals = Arrivals::new(
            Process::Poisson,
            RateProfile::constant(1000.0),
            9,
            Some(200),
            None,
        );
        let want: Vec<u64> = arrivals.clone().collect();
        let mut got = Vec::new();
        pace(
            arrivals,
            t0,
            Pacer::Tokio,
            &CancellationToken::new(),
            |_, due| {
                got.push((due - t0).as_nanos() as u64);
            },
        )
        .await;
        assert_eq!(got, want);
    }
}
