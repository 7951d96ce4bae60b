//! Per-level aggregation: every sample of a level folds into fixed-memory
//! state ([`LevelStats`]), which becomes a [`LevelResult`] at the end.

use std::collections::BTreeMap;

use super::steady::{Latency, Steady};
use super::summary::{Dist, Summary};
use super::tokens::{TokenTally, output_tokens};
use super::window::Buckets;
use crate::results::{
    Concurrency, ErrorTally, Goodput, LevelResult, Phases, Throughput, TimelinePoint, VllmCompat,
};
use crate::sample::{ErrorClass, Sample};
use crate::scenario::Slo;

const NS_PER_MS: f64 = 1e6;
const NS_PER_S: f64 = 1e9;
/// A level is flagged when its achieved concurrency falls below this share
/// of its target.
pub const CONCURRENCY_FLAG_RATIO: f64 = 0.95;

/// Running aggregate of one level. Merge two with [`LevelStats::merge`].
#[derive(Debug, Clone)]
pub struct LevelStats {
    index: u32,
    users: u32,
    slo: Slo,
    good: u64,
    /// The load window `[start, end]`, run-clock ns.
    window: (u64, u64),
    requests: u64,
    ok: u64,
    cancelled: u64,
    errors: BTreeMap<String, ErrorTally>,
    /// TTFT, TPOT, ITL and E2E of every successful request.
    lat: Latency,
    ttft_first_event: Dist,
    e2e_from_planned: Dist,
    queue_delay: Dist,
    user_chars_per_s: Dist,
    output_chars: Dist,
    output_tokens: Dist,
    /// Totals by arrival time, for throughput over any window.
    buckets: Buckets,
    /// When each user's first request ended (u64::MAX: not yet).
    first_end: Vec<u64>,
    /// When the last request of the level ended.
    last_end: u64,
    with_usage: u64,
    prompt_tokens: u64,
    output_tokens_total: u64,
    tokens: TokenTally,
    timeline: Vec<TimelinePoint>,
    steady: Steady,
}

fn ms(ns: u64) -> f64 {
    ns as f64 / NS_PER_MS
}

impl LevelStats {
    /// An empty aggregate for level `index` with `users` users, whose load
    /// window is `[window_start, window_end]` on the run clock.
    pub fn new(index: u32, users: u32, window_start: u64, window_end: u64, slo: Slo) -> Self {
        let lat = || Dist::new(1000.0);
        LevelStats {
            index,
            users,
            slo,
            good: 0,
            window: (window_start, window_end.max(window_start)),
            requests: 0,
            ok: 0,
            cancelled: 0,
            errors: BTreeMap::new(),
            lat: Latency::default(),
            ttft_first_event: lat(),
            e2e_from_planned: lat(),
            queue_delay: lat(),
            user_chars_per_s: Dist::new(1000.0),
            output_chars: Dist::new(1.0),
            output_tokens: Dist::new(1.0),
            buckets: Buckets::new(window_start, window_end.saturating_sub(window_start)),
            first_end: vec![u64::MAX; users as usize],
            last_end: window_start,
            with_usage: 0,
            prompt_tokens: 0,
            output_tokens_total: 0,
            tokens: TokenTally::default(),
            timeline: Vec::new(),
            steady: Steady::default(),
        }
    }

    /// Sets the end of the load window to when the load really stopped
    /// (a request-count step, or a run stopped early).
    pub fn end_window(&mut self, end: u64) {
        self.window.1 = end.max(self.window.0);
    }

    /// Requests that ended so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Failed requests so far, not counting those a drain or a stop
    /// cancelled (the server did not fail them).
    pub fn errors(&self) -> u64 {
        self.requests - self.ok - self.cancelled
    }

    /// The timeline bucket of run-clock time `at` (none before the level;
    /// the timeline is capped at a day so a bad clock cannot grow it).
    fn bucket(&mut self, at: u64) -> Option<&mut TimelinePoint> {
        let sec = at.checked_sub(self.window.0)? / 1_000_000_000;
        if sec > 86_400 {
            return None;
        }
        let sec = sec as usize;
        while self.timeline.len() <= sec {
            let t = self.timeline.len() as u32;
            self.timeline.push(TimelinePoint {
                t,
                ..Default::default()
            });
        }
        self.timeline.get_mut(sec)
    }

    /// Notes the in-flight count seen at run-clock time `at`.
    pub fn note_in_flight(&mut self, at: u64, in_flight: u64) {
        if let Some(b) = self.bucket(at) {
            b.in_flight = in_flight;
        }
    }

    /// Notes the runner's resident memory (MiB) seen at run-clock time `at`.
    pub fn note_rss(&mut self, at: u64, rss_mib: f64) {
        if let Some(b) = self.bucket(at) {
            b.rss_mib = rss_mib;
        }
    }

    /// Folds one request in.
    pub fn add(&mut self, s: &Sample) {
        self.requests += 1;
        self.last_end = self.last_end.max(s.end);
        // Steady state: not its user's first request (closed loop), sent
        // before the window's planned end (when it has one).
        let mut steady = self.first_end.is_empty()
            || self
                .first_end
                .get(s.user as usize)
                .is_some_and(|&f| f != u64::MAX);
        if self.window.1 > self.window.0 && s.sent >= self.window.1 {
            steady = false;
        }
        if let Some(f) = self.first_end.get_mut(s.user as usize) {
            *f = (*f).min(s.end);
        }
        let ok = s.ok();
        if let Some(b) = self.bucket(s.end) {
            if ok {
                b.ok += 1;
            } else {
                b.errors += 1;
            }
        }
        if ok {
            for e in &s.content {
                if let Some(b) = self.bucket(e.at) {
                    b.chars += u64::from(e.chars);
                }
            }
        }
        self.queue_delay
            .record(ms(s.sent.saturating_sub(s.planned)));
        if let Some(f) = &s.failure {
            if f.class == ErrorClass::Cancelled {
                self.cancelled += 1;
            }
            let label = f.class.label(s.status);
            self.errors
                .entry(label)
                .and_modify(|t| t.count += 1)
                .or_insert_with(|| ErrorTally {
                    count: 1,
                    example: f.message.clone(),
                });
            return;
        }
        self.ok += 1;
        self.e2e_from_planned
            .record(ms(s.end.saturating_sub(s.planned)));
        if let Some(fe) = s.first_event {
            self.ttft_first_event.record(ms(fe.saturating_sub(s.sent)));
        }
        let chars = s.chars();
        self.output_chars.record(chars as f64);
        let completion = s.usage.and_then(|u| u.completion_tokens);
        if completion.is_some() {
            self.with_usage += 1;
        }
        let (n, _) = output_tokens(s);
        self.tokens.add(s);
        self.output_tokens.record(n as f64);
        self.output_tokens_total += n;
        if let Some(p) = s.usage.and_then(|u| u.prompt_tokens) {
            self.prompt_tokens += u64::from(p);
        }
        self.lat.record(s, n);
        if let (Some(first), Some(last)) = (s.content.first(), s.content.last()) {
            let span = if s.content.len() > 1 {
                last.at.saturating_sub(first.at)
            } else {
                first.at.saturating_sub(s.sent)
            };
            if span > 0 {
                self.user_chars_per_s
                    .record(chars as f64 / (span as f64 / NS_PER_S));
            }
        }
        if chars > 0 {
            for e in &s.content {
                let share = f64::from(e.chars) / chars as f64;
                self.buckets
                    .content(e.at, f64::from(e.chars), n as f64 * share);
            }
        }
        if steady {
            self.steady.add(s, n);
        }
        let good = self.meets_slo(s, n);
        self.good += u64::from(good);
        let prompt = s.usage.and_then(|u| u.prompt_tokens).unwrap_or(0);
        self.buckets.ended_ok(s.end, f64::from(prompt), good);
    }

    /// Whether a successful request with `n` output tokens meets every SLO.
    fn meets_slo(&self, s: &Sample, n: u64) -> bool {
        let within = |limit: Option<std::time::Duration>, ns: u64| {
            limit.is_none_or(|l| u128::from(ns) <= l.as_nanos())
        };
        let (Some(first), Some(last)) = (s.content.first(), s.content.last()) else {
            return false;
        };
        let tpot = if n > 1 {
            last.at.saturating_sub(first.at) / (n - 1)
        } else {
            0
        };
        let max_gap = s
            .content
            .windows(2)
            .map(|w| w[1].at.saturating_sub(w[0].at))
            .max()
            .unwrap_or(0);
        within(self.slo.ttft, first.at.saturating_sub(s.sent))
            && within(self.slo.tpot, tpot)
            && within(self.slo.itl, max_gap)
            && within(self.slo.e2e, s.end.saturating_sub(s.sent))
    }

    /// Adds another aggregate of the same level (e.g. from another worker).
    pub fn merge(&mut self, o: &LevelStats) {
        self.requests += o.requests;
        self.ok += o.ok;
        self.cancelled += o.cancelled;
        self.good += o.good;
        for (k, t) in &o.errors {
            self.errors
                .entry(k.clone())
                .and_modify(|m| m.count += t.count)
                .or_insert_with(|| t.clone());
        }
        for (a, b) in [
            (&mut self.ttft_first_event, &o.ttft_first_event),
            (&mut self.e2e_from_planned, &o.e2e_from_planned),
            (&mut self.queue_delay, &o.queue_delay),
            (&mut self.user_chars_per_s, &o.user_chars_per_s),
            (&mut self.output_chars, &o.output_chars),
            (&mut self.output_tokens, &o.output_tokens),
        ] {
            a.merge(b);
        }
        self.buckets.merge(&o.buckets);
        self.lat.merge(&o.lat);
        self.steady.merge(&o.steady);
        for (a, b) in self.first_end.iter_mut().zip(&o.first_end) {
            *a = (*a).min(*b);
        }
        self.last_end = self.last_end.max(o.last_end);
        self.with_usage += o.with_usage;
        self.prompt_tokens += o.prompt_tokens;
        self.output_tokens_total += o.output_tokens_total;
        self.tokens.merge(&o.tokens);
        for p in &o.timeline {
            if let Some(b) = self.bucket(self.window.0 + u64::from(p.t) * 1_000_000_000) {
                b.in_flight = b.in_flight.max(p.in_flight);
                b.ok += p.ok;
                b.errors += p.errors;
                b.chars += p.chars;
                b.rss_mib = b.rss_mib.max(p.rss_mib);
            }
        }
    }

    /// The level's figures. `concurrency` is (time-weighted mean, max) over
    /// the load window, from [`super::InFlight`].
    pub fn finish(&self, duration_s: f64, concurrency: (f64, u64)) -> LevelResult {
        let (ws, we) = self.window;
        // Ramp-in lasts until every user has had its first response; the
        // steady window runs from there to the end of the load window.
        // An open-loop step (users 0) has no ramp-in: its steady window is
        // the whole load window.
        let ramp_end = if self.first_end.is_empty() {
            ws
        } else {
            self.first_end.iter().copied().max().unwrap_or(u64::MAX)
        };
        let mut flags = Vec::new();
        let steady_start = if ramp_end < we {
            ramp_end.max(ws)
        } else {
            flags.push(
                "no steady state: some user had no response inside the load window, so throughput covers the whole window, ramp-in included".to_string(),
            );
            ws
        };
        let secs = |a: u64, b: u64| b.saturating_sub(a) as f64 / NS_PER_S;
        let phases = Phases {
            ramp_in_s: secs(ws, steady_start),
            steady_s: secs(steady_start, we),
            drain_s: secs(we, self.last_end),
        };
        let totals = self.buckets.totals(steady_start, we);
        let window_s = phases.steady_s;
        let per_s = |x: f64| if window_s > 0.0 { x / window_s } else { 0.0 };
        let token_source = self.tokens.headline_source();
        flags.extend(self.tokens.flag());
        let total_tokens = if self.with_usage > 0 {
            totals.prompt_tokens + totals.tokens
        } else {
            0.0
        };
        let ratio = if self.users > 0 {
            concurrency.0 / f64::from(self.users)
        } else {
            0.0
        };
        if self.users > 0 && ratio < CONCURRENCY_FLAG_RATIO {
            flags.push(format!(
                "concurrency short: achieved mean {:.1} of {} users ({:.1}%); the client or the server could not keep every user busy (see queue_delay and errors)",
                concurrency.0,
                self.users,
                ratio * 100.0
            ));
        }
        let throughput = Throughput {
            window_s,
            chars_per_s: per_s(totals.chars),
            output_tokens_per_s: per_s(totals.tokens),
            total_tokens_per_s: per_s(total_tokens),
            requests_per_s: per_s(totals.ok),
            chunks_per_s: per_s(totals.chunks),
        };
        let (ttft_fe, tpot, itl, e2e) = (
            self.ttft_first_event.summary(),
            self.lat.tpot.summary(),
            self.lat.itl.summary(),
            self.lat.e2e.summary(),
        );
        let mean = |s: Option<Summary>| s.map(|s| s.mean);
        let p50 = |s: Option<Summary>| s.map(|s| s.p50);
        let p99 = |s: Option<Summary>| s.map(|s| s.p99);
        let vllm = VllmCompat {
            completed: self.ok,
            total_input_tokens: self.prompt_tokens,
            total_output_tokens: self.output_tokens_total,
            request_throughput: throughput.requests_per_s,
            output_throughput: throughput.output_tokens_per_s,
            total_token_throughput: throughput.total_tokens_per_s,
            mean_ttft_ms: mean(ttft_fe),
            median_ttft_ms: p50(ttft_fe),
            p99_ttft_ms: p99(ttft_fe),
            mean_tpot_ms: mean(tpot),
            median_tpot_ms: p50(tpot),
            p99_tpot_ms: p99(tpot),
            mean_itl_ms: mean(itl),
            median_itl_ms: p50(itl),
            p99_itl_ms: p99(itl),
            mean_e2el_ms: mean(e2e),
            median_e2el_ms: p50(e2e),
            p99_e2el_ms: p99(e2e),
        };
        LevelResult {
            index: self.index,
            users: self.users,
            duration_s,
            requests: self.requests,
            ok: self.ok,
            errors: self.errors(),
            cancelled: self.cancelled,
            error_rate: if self.requests > self.cancelled {
                self.errors() as f64 / (self.requests - self.cancelled) as f64
            } else {
                0.0
            },
            errors_by_class: self.errors.clone(),
            concurrency: Concurrency {
                target: self.users,
                mean: concurrency.0,
                max: concurrency.1,
                ratio,
            },
            throughput,
            phases,
            goodput: self.slo.any().then(|| Goodput {
                good: self.good,
                good_fraction: if self.requests > 0 {
                    self.good as f64 / self.requests as f64
                } else {
                    0.0
                },
                per_s: per_s(totals.good),
            }),
            token_source: token_source.to_string(),
            tokens: Some(self.tokens.result()),
            ttft_ms: self.lat.ttft.summary(),
            ttft_first_event_ms: ttft_fe,
            tpot_ms: tpot,
            itl_ms: itl,
            e2e_ms: e2e,
            e2e_from_planned_ms: self.e2e_from_planned.summary(),
            queue_delay_ms: self.queue_delay.summary(),
            user_chars_per_s: self.user_chars_per_s.summary(),
            output_chars: self.output_chars.summary(),
            output_tokens: self.output_tokens.summary(),
            flags,
            timeline: self.timeline.clone(),
            vllm,
            step: Default::default(),
            by_turn: Vec::new(),
            steady: self.steady.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{ContentEvent, ErrorClass, Failure, Usage};

    const MS: u64 = 1_000_000;

    /// A request sent at `sent` ms with content events at the given ms.
    fn sample(sent: u64, events: &[(u64, u32)], usage: Option<u32>) -> Sample {
        Sample {
            planned: sent * MS,
            sent: sent * MS,
            first_event: events.first().map(|e| e.0 * MS),
            content: events
                .iter()
                .map(|&(at, chars)| ContentEvent { at: at * MS, chars })
                .collect(),
            usage: usage.map(|c| Usage {
                prompt_tokens: Some(10),
                completion_tokens: Some(c),
            }),
            end: events.last().map_or(sent, |e| e.0) * MS,
            ..Default::default()
        }
    }

    #[test]
    fn hand_computed_request() {
        // Sent at 0; content at 200, 220, 240, 260 ms, 2 chars each; usage 4.
        let mut l = LevelStats::new(0, 1, 0, 1000 * MS, Slo::default());
        l.add(&sample(
            0,
            &[(200, 2), (220, 2), (240, 2), (260, 2)],
            Some(4),
        ));
        let r = l.finish(1.0, (1.0, 1));
        assert_eq!((r.requests, r.ok, r.errors), (1, 1, 0));
        let ttft = r.ttft_ms.unwrap();
        assert!((ttft.p50 - 200.0).abs() < 0.2, "{ttft:?}");
        // (260 - 200) / (4 - 1) = 20 ms.
        assert!((r.tpot_ms.unwrap().p50 - 20.0).abs() < 0.05);
        assert_eq!(r.itl_ms.unwrap().count, 3);
        // 8 chars over 60 ms = 133.3 chars/s.
        assert!((r.user_chars_per_s.unwrap().p50 - 133.33).abs() < 0.2);
        assert!((r.e2e_ms.unwrap().p50 - 260.0).abs() < 0.3);
        assert_eq!(r.token_source, "usage");
        // The one user's first response ended at 260 ms: ramp-in 0.26 s,
        // steady window [260, 1000] ms = 0.74 s, holding the last event
        // (2 chars, 1 of the 4 tokens) and the request's end.
        assert!((r.phases.ramp_in_s - 0.26).abs() < 1e-9, "{:?}", r.phases);
        assert!((r.phases.steady_s - 0.74).abs() < 1e-9);
        assert_eq!(r.phases.drain_s, 0.0);
        assert!((r.throughput.window_s - 0.74).abs() < 1e-9);
        assert!((r.throughput.chars_per_s - 2.0 / 0.74).abs() < 1e-9);
        assert!((r.throughput.output_tokens_per_s - 1.0 / 0.74).abs() < 1e-9);
        assert!((r.throughput.total_tokens_per_s - 11.0 / 0.74).abs() < 1e-9);
        assert!((r.throughput.requests_per_s - 1.0 / 0.74).abs() < 1e-9);
        assert!(r.flags.is_empty(), "{:?}", r.flags);
        assert_eq!(r.timeline.len(), 1);
        assert_eq!((r.vllm.completed, r.vllm.total_output_tokens), (1, 4));
        assert_eq!(r.vllm.total_input_tokens, 10);
        assert!((r.vllm.median_tpot_ms.unwrap() - 20.0).abs() < 0.05);
        assert_eq!((r.timeline[0].ok, r.timeline[0].chars), (1, 8));
    }

    #[test]
    fn window_prorates_throughput_and_one_chunk_speed() {
        // Window [0, 1000] ms. Content at 900 (3 chars) and 1100 (1 char),
        // usage 4 tokens: 3/4 of its chars fall inside.
        // User 1's only request ends after the window, so the level has no
        // steady state and throughput covers the whole window [0, 1000] ms.
        let mut l = LevelStats::new(0, 2, 0, 1000 * MS, Slo::default());
        let mut late = sample(500, &[(900, 3), (1100, 1)], Some(4));
        late.user = 1;
        l.add(&late);
        // One chunk of 5 chars, 250 ms after the send.
        l.add(&sample(0, &[(250, 5)], None));
        let r = l.finish(1.0, (1.5, 2));
        assert!((r.throughput.chars_per_s - 8.0).abs() < 1e-9);
        assert!((r.throughput.output_tokens_per_s - (3.0 + 1.0)).abs() < 1e-9);
        assert!((r.throughput.requests_per_s - 1.0).abs() < 1e-9);
        assert!((r.phases.drain_s - 0.1).abs() < 1e-9);
        assert_eq!(r.phases.ramp_in_s, 0.0);
        assert_eq!(r.token_source, "mixed");
        let speeds = r.user_chars_per_s.unwrap();
        // 4 chars / 0.2 s = 20; 5 chars / 0.25 s = 20.
        assert!((speeds.min - 20.0).abs() < 0.05 && (speeds.max - 20.0).abs() < 0.05);
        assert_eq!(r.flags.len(), 2, "{:?}", r.flags);
        assert!(r.flags[0].starts_with("no steady state"));
        assert!(r.flags[1].starts_with("concurrency short"), "75% of target");
    }

    #[test]
    fn goodput_counts_requests_meeting_every_slo() {
        use std::time::Duration;
        let slo = Slo {
            ttft: Some(Duration::from_millis(300)),
            itl: Some(Duration::from_millis(50)),
            ..Default::default()
        };
        let mut l = LevelStats::new(0, 1, 0, 1000 * MS, slo);
        // Good: TTFT 200 ms, gaps 20 ms.
        l.add(&sample(0, &[(200, 1), (220, 1)], None));
        // TTFT 400 ms: misses the TTFT objective.
        l.add(&sample(0, &[(400, 1), (410, 1)], None));
        // A 100 ms gap: misses the ITL objective.
        l.add(&sample(0, &[(100, 1), (200, 1)], None));
        let mut failed = sample(0, &[], None);
        failed.failure = Some(Failure {
            class: ErrorClass::Empty,
            message: "x".into(),
        });
        l.add(&failed);
        let g = l.finish(1.0, (1.0, 1)).goodput.unwrap();
        assert_eq!(g.good, 1);
        assert!((g.good_fraction - 0.25).abs() < 1e-12);
        assert!(
            LevelStats::new(0, 1, 0, 1, Slo::default())
                .finish(1.0, (0.0, 0))
                .goodput
                .is_none()
        );
    }

    #[test]
    fn tokenizer_count_is_n_without_usage() {
        // Content at 200, 220, 240 ms; no usage; the tokenizer counted 5
        // tokens: TPOT (240 - 200) / (5 - 1) = 10 ms, not 20 ms per chunk.
        let mut l = LevelStats::new(0, 1, 0, 1000 * MS, Slo::default());
        let mut s = sample(0, &[(200, 2), (220, 2), (240, 2)], None);
        s.tokenizer_tokens = Some(5);
        l.add(&s);
        let r = l.finish(1.0, (1.0, 1));
        assert_eq!(r.token_source, "tokenizer");
        assert!((r.tpot_ms.unwrap().p50 - 10.0).abs() < 0.01);
        assert_eq!(r.vllm.total_output_tokens, 5);
        let t = r.tokens.unwrap();
        assert_eq!(t.tokenizer.unwrap().total, 5);
        assert_eq!((t.chunks.total, t.chars.total), (3, 6));
        assert!(t.usage.is_none());
    }

    #[test]
    fn errors_by_class_and_merge() {
        let mut a = LevelStats::new(0, 1, 0, 1000 * MS, Slo::default());
        let mut fail = sample(0, &[], None);
        fail.status = Some(503);
        fail.failure = Some(Failure {
            class: ErrorClass::Http,
            message: "overloaded".into(),
        });
        a.add(&fail);
        let mut b = LevelStats::new(0, 1, 0, 1000 * MS, Slo::default());
        b.add(&fail);
        b.add(&sample(0, &[(100, 1), (120, 1)], None));
        a.merge(&b);
        let r = a.finish(1.0, (1.0, 1));
        assert_eq!((r.requests, r.ok, r.errors), (3, 1, 2));
        assert_eq!(r.errors_by_class["http_503"].count, 2);
        assert_eq!(r.errors_by_class["http_503"].example, "overloaded");
        assert!((r.error_rate - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.token_source, "chunks");
        assert_eq!(r.queue_delay_ms.unwrap().count, 3);
    }
}
