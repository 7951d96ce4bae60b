//! The SLO search: the highest rate (or user count) whose probe meets the
//! objectives, found by doubling, then bisection. A pure state machine: the
//! runner asks for the next value, runs a probe at it, and records whether
//! the probe passed.
//!
//! 1. Probe `start`. While probes pass, double (capped at `max`); a pass at
//!    `max` ends the search there.
//! 2. If the very first probes fail, halve until one passes (or the value
//!    drops below `min`: nothing passes, the search ends with none).
//! 3. Then bisect between the highest pass `lo` and the lowest fail `hi`
//!    until `hi − lo ≤ precision · hi` (for user counts: until they are
//!    neighbours). The answer is `lo`.

use serde::{Deserialize, Serialize};

/// One probe and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Probe {
    /// The rate (req/s) or user count probed.
    pub value: f64,
    /// Whether the probe met every objective.
    pub passed: bool,
}

/// The search state.
#[derive(Debug, Clone)]
pub struct Search {
    start: f64,
    min: f64,
    max: f64,
    precision: f64,
    integer: bool,
    lo: Option<f64>,
    hi: Option<f64>,
    probes: Vec<Probe>,
}

impl Search {
    /// A search from `start` within `[min, max]`, to a relative `precision`
    /// (0.05: within 5 %); `integer` for user counts.
    pub fn new(start: f64, min: f64, max: f64, precision: f64, integer: bool) -> Self {
        Search {
            start: start.clamp(min, max),
            min,
            max,
            precision,
            integer,
            lo: None,
            hi: None,
            probes: Vec::new(),
        }
    }

    fn round(&self, v: f64) -> f64 {
        if self.integer { v.round() } else { v }
    }

    /// The value to probe next, or `None` when the search is over.
    pub fn next(&self) -> Option<f64> {
        match (self.lo, self.hi) {
            (None, None) => Some(self.start),
            (Some(lo), None) => {
                if lo >= self.max {
                    None
                } else {
                    Some(self.round((lo * 2.0).min(self.max)))
                }
            }
            (None, Some(hi)) => {
                let v = self.round(hi / 2.0);
                (v >= self.min && v < hi).then_some(v)
            }
            (Some(lo), Some(hi)) => {
                let close = if self.integer {
                    hi - lo <= 1.0
                } else {
                    hi - lo <= self.precision * hi
                };
                if close {
                    return None;
                }
                let mid = self.round((lo + hi) / 2.0);
                (mid > lo && mid < hi).then_some(mid)
            }
        }
    }

    /// Records the verdict of the probe at `value`.
    pub fn record(&mut self, value: f64, passed: bool) {
        self.probes.push(Probe { value, passed });
        if passed {
            self.lo = Some(self.lo.map_or(value, |lo| lo.max(value)));
        } else {
            self.hi = Some(self.hi.map_or(value, |hi| hi.min(value)));
        }
    }

    /// The highest value that passed.
    pub fn found(&self) -> Option<f64> {
        self.lo
    }

    /// Every probe so far, in order.
    pub fn probes(&self) -> &[Probe] {
        &self.probes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search against a simulated server that meets the SLO up to
    /// `capacity`.
    fn run(mut s: Search, capacity: f64) -> (Option<f64>, Vec<f64>) {
        let mut seen = Vec::new();
        while let Some(v) = s.next() {
            assert!(seen.len() < 100, "the search does not converge");
            seen.push(v);
            s.record(v, v <= capacity);
        }
        (s.found(), seen)
    }

    #[test]
    fn converges_on_the_capacity_within_the_precision() {
        for capacity in [3.0, 37.5, 100.0, 999.0] {
            let (found, probes) = run(Search::new(1.0, 0.01, 10_000.0, 0.02, false), capacity);
            let f = found.unwrap();
            assert!(
                f <= capacity && f >= capacity * 0.98,
                "capacity {capacity}: found {f}"
            );
            assert!(probes.len() < 30, "{probes:?}");
        }
    }

    #[test]
    fn doubling_then_bisection_in_that_order() {
        let (found, probes) = run(Search::new(10.0, 1.0, 1000.0, 0.1, false), 50.0);
        assert_eq!(&probes[..4], &[10.0, 20.0, 40.0, 80.0]);
        assert_eq!(probes[4], 60.0);
        assert_eq!(probes[5], 50.0);
        assert_eq!(found, Some(50.0));
    }

    #[test]
    fn user_counts_end_on_neighbours() {
        let (found, probes) = run(Search::new(1.0, 1.0, 1024.0, 0.0, true), 37.0);
        assert_eq!(found, Some(37.0));
        assert!(probes.iter().all(|p| p.fract() == 0.0));
        assert!(probes.contains(&38.0));
    }

    #[test]
    fn a_pass_at_max_ends_there_and_nothing_passing_ends_with_none() {
        let (found, probes) = run(Search::new(1.0, 1.0, 8.0, 0.05, false), 100.0);
        assert_eq!(found, Some(8.0));
        assert_eq!(probes, vec![1.0, 2.0, 4.0, 8.0]);
        let (found, probes) = run(Search::new(16.0, 1.0, 64.0, 0.05, true), 0.5);
        assert_eq!(found, None);
        assert_eq!(probes, vec![16.0, 8.0, 4.0, 2.0, 1.0]);
        // A first probe that fails halves down, then bisects up.
        let (found, _) = run(Search::new(64.0, 1.0, 1024.0, 0.0, true), 20.0);
        assert_eq!(found, Some(20.0));
    }
}
