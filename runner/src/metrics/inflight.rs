//! Exact achieved concurrency: the in-flight count integrated over time.

use std::sync::Mutex;

#[derive(Debug, Default, Clone, Copy)]
struct State {
    count: u64,
    last: u64,
    /// ∫ count dt since the clock origin, in request·ns.
    area: u128,
    max: u64,
}

/// Tracks requests in flight. `begin` and `end` take run-clock times; the
/// integral is exact (no sampling).
#[derive(Debug, Default)]
pub struct InFlight {
    state: Mutex<State>,
}

/// A reading of the integral at one instant; two marks give the exact mean
/// over the time between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    at: u64,
    area: u128,
}

impl InFlight {
    /// A tracker with nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    }

    fn advance(s: &mut State, now: u64) {
        let now = now.max(s.last);
        s.area += u128::from(s.count) * u128::from(now - s.last);
        s.last = now;
    }

    /// A request started at `now`.
    pub fn begin(&self, now: u64) {
        self.with(|s| {
            Self::advance(s, now);
            s.count += 1;
            s.max = s.max.max(s.count);
        });
    }

    /// A request ended at `now`.
    pub fn end(&self, now: u64) {
        self.with(|s| {
            Self::advance(s, now);
            s.count = s.count.saturating_sub(1);
        });
    }

    /// Requests in flight now.
    pub fn current(&self) -> u64 {
        self.with(|s| s.count)
    }

    /// Reads the integral at `now` and restarts the maximum from the current
    /// count (call it at the start of a measurement window).
    pub fn mark_start(&self, now: u64) -> Mark {
        self.with(|s| {
            Self::advance(s, now);
            s.max = s.count;
            Mark {
                at: s.last,
                area: s.area,
            }
        })
    }

    /// Reads the integral at `now` and the maximum since the last
    /// `mark_start`: returns (mean over `[start, now]`, max).
    pub fn mark_end(&self, start: Mark, now: u64) -> (f64, u64) {
        self.with(|s| {
            Self::advance(s, now);
            let span = s.last.saturating_sub(start.at);
            let mean = if span == 0 {
                s.count as f64
            } else {
                (s.area - start.area) as f64 / span as f64
            };
            (mean, s.max)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_weighted_mean_and_max() {
        let t = InFlight::new();
        let m = t.mark_start(0);
        // 0..10: 1 in flight; 10..20: 3; 20..40: 2.
        t.begin(0);
        t.begin(10);
        t.begin(10);
        t.end(20);
        let (mean, max) = t.mark_end(m, 40);
        assert_eq!(max, 3);
        assert!((mean - (10.0 + 30.0 + 40.0) / 40.0).abs() < 1e-12, "{mean}");
        assert_eq!(t.current(), 2);
    }

    #[test]
    fn windows_are_independent() {
        let t = InFlight::new();
        for _ in 0..4 {
            t.begin(0);
        }
        let m = t.mark_start(100);
        t.end(150);
        let (mean, max) = t.mark_end(m, 200);
        assert_eq!(max, 4);
        assert!((mean - 3.5).abs() < 1e-12);
    }
}
