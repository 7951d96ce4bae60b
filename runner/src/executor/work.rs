//! One unit of work: a single request, or a whole multi-turn session.
//!
//! A session replays its user turns in order: turn k is sent with the
//! system prompt, every earlier user turn and every earlier *real* reply
//! the server gave, after the user's think time (the test set's, else one
//! drawn from `load.think_ms`). Turn k is due (planned) when the previous
//! reply ended plus the think time. A failed turn ends
//! the session: without a reply there is no history to continue.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::RunContext;
use super::drive::hand_over;
use super::request::{Meta, execute};
use crate::dataset::{Item, draw_length};
use crate::plugin::{ChatMessage, Prompt, RequestInput};
use crate::sample::Sample;

/// What to send.
pub enum Unit {
    /// Dataset item (or, when the dataset holds sessions, session) at this
    /// index.
    Dataset(u32),
    /// A replayed trace's request at this index.
    Trace(Arc<Vec<Item>>, usize),
}

/// Runs `unit` for `user`, due at `planned`. Returns when its last request
/// ended and whether it failed, or `None` when the collector is gone.
pub async fn run_unit(
    ctx: &RunContext,
    level: u32,
    user: u32,
    unit: Unit,
    planned: u64,
    stop: &CancellationToken,
    tx: &mpsc::Sender<Sample>,
) -> Option<(u64, bool)> {
    let meta = |item: u32, turn: u32, planned: u64| Meta {
        level,
        user,
        item,
        turn,
        planned,
    };
    match unit {
        Unit::Trace(items, i) => {
            let Some(item) = items.get(i) else {
                return Some((planned, false));
            };
            let s = execute(ctx, meta(i as u32, 0, planned), ctx.input(item), stop).await;
            finish(tx, s).await
        }
        Unit::Dataset(index) if ctx.sessions && !ctx.dataset.sessions.is_empty() => {
            session(ctx, index, planned, stop, tx, &meta).await
        }
        Unit::Dataset(index) => {
            let items = &ctx.dataset.items;
            let item = &items[index as usize % items.len().max(1)];
            let s = execute(ctx, meta(index, 0, planned), ctx.input(item), stop).await;
            finish(tx, s).await
        }
    }
}

async fn finish(tx: &mpsc::Sender<Sample>, s: Sample) -> Option<(u64, bool)> {
    let out = (s.end, !s.ok());
    hand_over(tx, s).await.then_some(out)
}

async fn session(
    ctx: &RunContext,
    index: u32,
    planned: u64,
    stop: &CancellationToken,
    tx: &mpsc::Sender<Sample>,
    meta: &impl Fn(u32, u32, u64) -> Meta,
) -> Option<(u64, bool)> {
    let sessions = &ctx.dataset.sessions;
    let i = index as usize % sessions.len();
    let session = &sessions[i];
    let mut history: Vec<ChatMessage> = Vec::with_capacity(session.turns.len() * 2 + 1);
    if let Some(system) = &session.system {
        history.push(ChatMessage {
            role: "system".into(),
            content: system.clone(),
        });
    }
    let mut due = planned;
    let mut last = (planned, false);
    // Drawn think times are seeded by the session and the user, so a rerun
    // thinks the same.
    let mut rng = SmallRng::seed_from_u64((u64::from(index) << 32) ^ u64::from(meta(0, 0, 0).user));
    for (turn, t) in session.turns.iter().enumerate() {
        let think = match (t.think, &ctx.think_ms) {
            (Some(d), _) => d,
            (None, Some(dist)) => Duration::from_millis(u64::from(draw_length(dist, &mut rng))),
            (None, None) => Duration::ZERO,
        };
        if turn > 0 && !think.is_zero() {
            due = due.saturating_add(think.as_nanos() as u64);
            let at = tokio::time::Instant::from_std(ctx.clock.instant(due));
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = stop.cancelled() => return Some(last),
            }
        }
        history.push(ChatMessage {
            role: "user".into(),
            content: t.user.clone(),
        });
        let input = RequestInput {
            prompt: Prompt::Chat(history.clone()),
            max_tokens: Some(t.max_tokens),
            stream: ctx.stream,
            params_json: ctx.params_json.clone(),
        };
        let s = execute(ctx, meta(i as u32, turn as u32, due), input, stop).await;
        // Cloned: a tokenizer may still count the reply downstream.
        let reply = s.text.clone();
        let ok = s.ok();
        last = finish(tx, s).await?;
        if !ok || stop.is_cancelled() {
            break;
        }
        history.push(ChatMessage {
            role: "assistant".into(),
            content: reply.unwrap_or_default(),
        });
        due = last.0;
    }
    Some(last)
}
