//! Closed-loop levels: N users, each sending its next request when the last
//! one ends (after a back-off when it failed), all started together.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::RunContext;
use super::request::execute;
use crate::sample::Sample;

/// When a level's load ran and the concurrency it achieved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelWindow {
    /// Start of the load window, run-clock ns.
    pub start: u64,
    /// End of the load window (when users stopped starting requests).
    pub end: u64,
    /// Time-weighted mean of requests in flight over the window.
    pub concurrency_mean: f64,
    /// Most requests in flight at once in the window.
    pub concurrency_max: u64,
    /// When the last request of the level ended (drain included).
    pub drained: u64,
}

/// Runs one closed-loop level of `users` users from `start` (run-clock ns,
/// normally now) for `duration`, sending every sample to `samples`. Users stop starting requests at the end of the
/// window; requests in flight then finish (drain) before this returns.
pub async fn closed_level(
    ctx: Arc<RunContext>,
    level: u32,
    users: u32,
    start: u64,
    duration: Duration,
    seed: u64,
    samples: mpsc::Sender<Sample>,
) -> LevelWindow {
    let stop = Instant::from_std(ctx.clock.instant(start) + duration);
    let mark = ctx.in_flight.mark_start(start);
    let mut tasks = Vec::with_capacity(users as usize);
    for user in 0..users {
        let ctx = ctx.clone();
        let tx = samples.clone();
        let rng = SmallRng::seed_from_u64(seed ^ (u64::from(level) << 32) ^ u64::from(user));
        tasks.push(tokio::spawn(user_loop(ctx, level, user, stop, rng, tx)));
    }
    tokio::select! {
        _ = tokio::time::sleep_until(stop) => {}
        _ = ctx.cancel.cancelled() => {}
    }
    let end = ctx.clock.now();
    let (concurrency_mean, concurrency_max) = ctx.in_flight.mark_end(mark, end);
    for t in tasks {
        // A user task only ends by returning; a panic in one is a bug we
        // surface in the log rather than abort the run for.
        if let Err(e) = t.await {
            tracing::error!("user task failed: {e}");
        }
    }
    LevelWindow {
        start,
        end,
        concurrency_mean,
        concurrency_max,
        drained: ctx.clock.now(),
    }
}

async fn user_loop(
    ctx: Arc<RunContext>,
    level: u32,
    user: u32,
    stop: Instant,
    mut rng: SmallRng,
    tx: mpsc::Sender<Sample>,
) {
    let mut sampler = ctx.dataset.sampler(rng.random(), user);
    // The user is free from the start of the level; afterwards, from the end
    // of its last request (or of its back-off). Everything the runner does
    // in between (handing the sample over, picking the next prompt, the
    // scheduler) shows in the next request's queue_delay.
    let mut free_at = ctx.clock.now();
    while Instant::now() < stop && !ctx.cancel.is_cancelled() {
        let item = sampler.next();
        let sample = execute(&ctx, level, user, item, free_at).await;
        free_at = sample.end;
        let failed = !sample.ok();
        // try_send first: it never yields, so a user is not parked behind
        // the whole run queue just to hand its sample over.
        match tx.try_send(sample) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(sample)) => {
                if tx.send(sample).await.is_err() {
                    return;
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
        if failed && !ctx.failure_backoff.is_zero() {
            let until = (Instant::now() + ctx.failure_backoff).min(stop);
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = ctx.cancel.cancelled() => return,
            }
            free_at = ctx.clock.now();
        }
    }
}
