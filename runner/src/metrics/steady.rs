//! Latency in the steady state: the requests that ran under the level's
//! full concurrency, apart from the ramp-in wave (every user's first
//! request, which also pays for new connections) and the drain.
//!
//! The rule: a successful request counts when it is not its user's first
//! (closed loop; every open-loop request qualifies) and it was sent before
//! the load window's planned end.

use super::summary::Dist;
use crate::results::SteadyLatency;
use crate::sample::Sample;

/// The four per-request latencies (TTFT, TPOT, ITL, E2E) of successful
/// requests, as HDR histograms in ms. Shared by a level's whole figures and
/// its steady-state ones, so both use the same formulas.
#[derive(Debug, Clone)]
pub struct Latency {
    /// t_1 − sent.
    pub ttft: Dist,
    /// (t_N − t_1) / (N − 1), N > 1.
    pub tpot: Dist,
    /// Gaps between consecutive content events, pooled.
    pub itl: Dist,
    /// end − sent.
    pub e2e: Dist,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            ttft: Dist::new(1000.0),
            tpot: Dist::new(1000.0),
            itl: Dist::new(1000.0),
            e2e: Dist::new(1000.0),
        }
    }
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

impl Latency {
    /// Records a successful request with `n` output tokens.
    pub fn record(&mut self, s: &Sample, n: u64) {
        self.e2e.record(ms(s.end.saturating_sub(s.sent)));
        if let (Some(first), Some(last)) = (s.content.first(), s.content.last()) {
            self.ttft.record(ms(first.at.saturating_sub(s.sent)));
            if n > 1 {
                self.tpot
                    .record(ms(last.at.saturating_sub(first.at)) / (n - 1) as f64);
            }
            for pair in s.content.windows(2) {
                self.itl.record(ms(pair[1].at.saturating_sub(pair[0].at)));
            }
        }
    }

    /// Adds another aggregate.
    pub fn merge(&mut self, o: &Latency) {
        self.ttft.merge(&o.ttft);
        self.tpot.merge(&o.tpot);
        self.itl.merge(&o.itl);
        self.e2e.merge(&o.e2e);
    }
}

/// Steady-state latency aggregate of one level.
#[derive(Debug, Clone, Default)]
pub struct Steady {
    requests: u64,
    lat: Latency,
}

impl Steady {
    /// Folds in a successful steady-state request with `n` output tokens.
    pub fn add(&mut self, s: &Sample, n: u64) {
        self.requests += 1;
        self.lat.record(s, n);
    }

    /// Adds another aggregate of the same level.
    pub fn merge(&mut self, o: &Steady) {
        self.requests += o.requests;
        self.lat.merge(&o.lat);
    }

    /// The figures; `None` when no request qualified.
    pub fn finish(&self) -> Option<SteadyLatency> {
        (self.requests > 0).then(|| SteadyLatency {
            requests: self.requests,
            ttft_ms: self.lat.ttft.summary(),
            tpot_ms: self.lat.tpot.summary(),
            itl_ms: self.lat.itl.summary(),
            e2e_ms: self.lat.e2e.summary(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::LevelStats;
    use crate::sample::{ContentEvent, Sample};
    use crate::scenario::Slo;

    const MS: u64 = 1_000_000;

    fn sample(user: u32, sent_ms: u64, ttft_ms: u64) -> Sample {
        let first = (sent_ms + ttft_ms) * MS;
        Sample {
            user,
            sent: sent_ms * MS,
            planned: sent_ms * MS,
            content: vec![
                ContentEvent {
                    at: first,
                    chars: 2,
                },
                ContentEvent {
                    at: first + 20 * MS,
                    chars: 2,
                },
            ],
            end: first + 20 * MS,
            ..Default::default()
        }
    }

    #[test]
    fn the_ramp_in_wave_and_late_sends_are_left_out() {
        let mut st = LevelStats::new(0, 2, 0, 1000 * MS, Slo::default());
        st.add(&sample(0, 0, 900)); // user 0's first: ramp-in
        st.add(&sample(1, 0, 800)); // user 1's first: ramp-in
        st.add(&sample(0, 920, 50)); // steady
        st.add(&sample(1, 1100, 70)); // sent after the window: drain
        let r = st.finish(1.0, (2.0, 2));
        let steady = r.steady.expect("one steady request");
        assert_eq!(steady.requests, 1);
        let ttft = steady.ttft_ms.unwrap();
        assert!((ttft.mean - 50.0).abs() < 0.1, "{ttft:?}");
        assert!((steady.tpot_ms.unwrap().mean - 20.0).abs() < 0.1);
        // The level's own figures keep every request.
        assert_eq!(r.ttft_ms.unwrap().count, 4);
    }

    #[test]
    fn open_loop_requests_all_count() {
        let mut st = LevelStats::new(0, 0, 0, 1000 * MS, Slo::default());
        st.add(&sample(0, 0, 100));
        st.add(&sample(0, 10, 100));
        assert_eq!(st.finish(1.0, (1.0, 1)).steady.unwrap().requests, 2);
    }
}
