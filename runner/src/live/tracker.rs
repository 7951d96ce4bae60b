//! The figures behind the modern live line, gathered from the samples of
//! the current level as the collector sees them.
//!
//! - completed and errors count every request of the level that ended;
//! - TTFT p50/p99 and TPOT p50 come from HDR histograms over the level's
//!   successful requests so far (the same definitions as results.json);
//! - tokens/s and chars/s are the output of successful requests that ended
//!   since the previous line, divided by the time since that line (the
//!   level's start for its first line). Tokens are `N` as the report counts
//!   it (usage, else tokenizer, else chunks); when every such request had
//!   only chunks, the rate is labelled `chunks/s`.

use super::modern::ModernStats;
use crate::metrics::Dist;
use crate::metrics::tokens::{TokenSource, output_tokens};
use crate::sample::Sample;

const NS: f64 = 1e9;
const NS_PER_MS: f64 = 1e6;

/// Running figures of the modern line for one level.
#[derive(Debug, Clone)]
pub struct ModernTracker {
    target_users: u32,
    level_start: u64,
    completed: u64,
    errors: u64,
    ttft: Dist,
    tpot: Dist,
    /// Start of the rate window (the previous line), run-clock ns.
    since: u64,
    tokens: u64,
    chars: u64,
    /// Requests in the rate window with a token count (usage or tokenizer).
    with_tokens: u64,
    /// Successful requests in the rate window.
    ok: u64,
}

impl Default for ModernTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl ModernTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        ModernTracker {
            target_users: 0,
            level_start: 0,
            completed: 0,
            errors: 0,
            ttft: Dist::new(1000.0),
            tpot: Dist::new(1000.0),
            since: 0,
            tokens: 0,
            chars: 0,
            with_tokens: 0,
            ok: 0,
        }
    }

    /// A level of `users` users starts at run-clock `now`.
    pub fn start_level(&mut self, users: u32, now: u64) {
        *self = ModernTracker::new();
        self.target_users = users;
        self.level_start = now;
        self.since = now;
    }

    /// One request of the level ended. Its tokenizer count, if any, must be
    /// in the sample already.
    pub fn record(&mut self, s: &Sample) {
        self.completed += 1;
        let (Some(first), Some(last), true) = (s.content.first(), s.content.last(), s.ok()) else {
            self.errors += u64::from(!s.ok());
            return;
        };
        let (n, source) = output_tokens(s);
        self.ttft
            .record(first.at.saturating_sub(s.sent) as f64 / NS_PER_MS);
        if n > 1 {
            self.tpot
                .record(last.at.saturating_sub(first.at) as f64 / NS_PER_MS / (n - 1) as f64);
        }
        self.ok += 1;
        self.tokens += n;
        self.chars += s.chars();
        self.with_tokens += u64::from(source != TokenSource::Chunks);
    }

    /// The line's figures at run-clock `now` with `in_flight` requests
    /// running; starts the next rate window at `now`.
    pub fn line_stats(&mut self, now: u64, in_flight: u64) -> ModernStats {
        let span = now.saturating_sub(self.since) as f64 / NS;
        let rate = |x: u64| (span > 0.0).then(|| x as f64 / span);
        let stats = ModernStats {
            in_flight,
            target_users: self.target_users,
            completed: self.completed,
            errors: self.errors,
            ttft_p50_ms: self.ttft.quantile(0.50),
            ttft_p99_ms: self.ttft.quantile(0.99),
            tpot_p50_ms: self.tpot.quantile(0.50),
            tokens_per_s: rate(self.tokens),
            chars_per_s: rate(self.chars),
            chunks_only: self.ok > 0 && self.with_tokens == 0,
            elapsed_s: now.saturating_sub(self.level_start) as f64 / NS,
        };
        self.since = now;
        self.tokens = 0;
        self.chars = 0;
        self.with_tokens = 0;
        self.ok = 0;
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{ContentEvent, ErrorClass, Failure, Usage};

    const MS: u64 = 1_000_000;

    /// Sent at `sent` ms; events at the given ms of 2 chars each.
    fn sample(sent: u64, at: &[u64], usage: Option<u32>) -> Sample {
        Sample {
            sent: sent * MS,
            content: at
                .iter()
                .map(|&t| ContentEvent {
                    at: t * MS,
                    chars: 2,
                })
                .collect(),
            usage: usage.map(|c| Usage {
                prompt_tokens: None,
                completion_tokens: Some(c),
            }),
            end: at.last().copied().unwrap_or(sent) * MS,
            ..Default::default()
        }
    }

    #[test]
    fn hand_computed_figures_and_rate_windows() {
        let mut t = ModernTracker::new();
        t.start_level(4, 1000 * MS);
        // TTFT 100 ms, usage 5 tokens over 4 events: TPOT (130-100)/4 = 7.5 ms.
        t.record(&sample(1000, &[1100, 1110, 1120, 1130], Some(5)));
        // TTFT 300 ms, 2 chunks and no usage: N = 2, TPOT 20 ms.
        t.record(&sample(1000, &[1300, 1320], None));
        let mut failed = sample(1000, &[], None);
        failed.failure = Some(Failure {
            class: ErrorClass::Http,
            message: "x".into(),
        });
        t.record(&failed);
        let s = t.line_stats(3000 * MS, 3);
        assert_eq!(
            (s.completed, s.errors, s.in_flight, s.target_users),
            (3, 1, 3, 4)
        );
        assert!((s.ttft_p50_ms.unwrap() - 100.0).abs() < 0.1, "{s:?}");
        assert!((s.ttft_p99_ms.unwrap() - 300.0).abs() < 0.3, "{s:?}");
        assert!((s.tpot_p50_ms.unwrap() - 7.5).abs() < 0.01, "{s:?}");
        // 7 tokens and 12 chars over the 2 s since the level started.
        assert_eq!(s.tokens_per_s, Some(3.5));
        assert_eq!(s.chars_per_s, Some(6.0));
        assert!(!s.chunks_only);
        assert_eq!(s.elapsed_s, 2.0);
        // The next window holds only what ended after the previous line.
        t.record(&sample(3000, &[3100, 3200], None));
        let s = t.line_stats(4000 * MS, 0);
        assert_eq!((s.tokens_per_s, s.chars_per_s), (Some(2.0), Some(4.0)));
        assert!(s.chunks_only, "no request of this window had a token count");
        assert_eq!(s.completed, 4);
        // An empty window at the same instant has no rate.
        let s = t.line_stats(4000 * MS, 0);
        assert_eq!((s.tokens_per_s, s.chars_per_s), (None, None));
        assert!(!s.chunks_only);
    }
}
