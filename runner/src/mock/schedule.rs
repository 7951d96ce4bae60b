//! When each token of a mock response is due: a pure function of the timing,
//! the load and a seeded RNG, with no clock and no I/O, so it can be tested
//! exactly.
//!
//! Token `i` (0-based) is due at `nominal(i) + u_i` after the response
//! started (its request body was read, or it got a decode slot), where
//! `u_i` is uniform in `[-jitter, +jitter]` and
//!
//! - `nominal(0) = ttft (+ stall when the stall is before token 0)`;
//! - `nominal(i) = nominal(i-1) + gap + per_running * (running_i - 1)
//!   (+ stall when the stall is before token i)`,
//!
//! with `running_i` the responses being generated when token `i` is
//! scheduled (at least 1: this one). With no load term, `nominal(i)` is
//! exactly `ttft + i * gap`: offsets are absolute, so the stream never drifts
//! however late a timer fires. Each offset is clamped to at least 0 and at
//! least the previous one, so tokens stay in order; both clamps keep every
//! offset within `jitter` of its nominal time (the previous offset is at most
//! `nominal(i-1) + jitter`, which is at most `nominal(i) + jitter`).

use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;

use super::MockConfig;
use super::config::MAX_DELAY_MS;

/// Validated delays of a [`MockConfig`], in whole nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    ttft_ns: u64,
    gap_ns: u64,
    jitter_ns: u64,
    /// Extra gap per other running response.
    per_running_ns: u64,
}

impl Timing {
    /// Checks the config's delays, naming the field and the fix on failure.
    pub(crate) fn from_config(config: &MockConfig) -> Result<Timing, String> {
        Ok(Timing {
            ttft_ns: delay_ns("ttft_ms", config.ttft_ms)?,
            gap_ns: delay_ns("gap_ms", config.gap_ms)?,
            jitter_ns: delay_ns("jitter_ms", config.jitter_ms)?,
            per_running_ns: delay_ns("gap_ms_per_running", config.gap_ms_per_running)?,
        })
    }

    /// Whether the gap depends on how many responses are running.
    pub(crate) fn load_dependent(self) -> bool {
        self.per_running_ns > 0
    }

    /// The schedule of one response, jittered by `rng`.
    pub(crate) fn schedule(self, rng: SmallRng) -> Schedule {
        Schedule {
            timing: self,
            rng,
            index: 0,
            nominal: 0,
            last: 0,
            stall: None,
        }
    }
}

/// Milliseconds as whole nanoseconds, or the problem with them.
pub(crate) fn delay_ns(field: &str, ms: f64) -> Result<u64, String> {
    if !ms.is_finite() || !(0.0..=MAX_DELAY_MS).contains(&ms) {
        return Err(format!(
            "mock {field} is {ms}; it must be a number of milliseconds from 0 to {MAX_DELAY_MS}"
        ));
    }
    // In range, so the product fits u64 with room to spare.
    Ok((ms * 1e6).round() as u64)
}

/// The due offsets of a response's tokens, in order. [`Schedule::next_under`]
/// gives the next one for a number of running responses; as an iterator it
/// is endless and assumes the response runs alone.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    timing: Timing,
    rng: SmallRng,
    index: u64,
    /// `nominal(index - 1)`, once `index > 0`.
    nominal: u64,
    last: u64,
    /// `(index, ns)`: token `index` and every later one come `ns` late.
    stall: Option<(u64, u64)>,
}

impl Schedule {
    /// Delays token `index` (and so every later one) by `stall`.
    pub(crate) fn with_stall(mut self, index: u32, stall: Duration) -> Self {
        let ns = u64::try_from(stall.as_nanos()).unwrap_or(u64::MAX);
        self.stall = Some((u64::from(index), ns));
        self
    }

    /// The offset of the next token, scheduled while `running` responses
    /// (this one included; 0 counts as 1) are being generated.
    pub(crate) fn next_under(&mut self, running: u32) -> Duration {
        let t = self.timing;
        let mut nominal = if self.index == 0 {
            t.ttft_ns
        } else {
            let others = u64::from(running.max(1) - 1);
            self.nominal
                .saturating_add(t.gap_ns)
                .saturating_add(others.saturating_mul(t.per_running_ns))
        };
        if let Some((at, ns)) = self.stall
            && at == self.index
        {
            nominal = nominal.saturating_add(ns);
        }
        self.nominal = nominal;
        let offset = if t.jitter_ns == 0 {
            nominal
        } else {
            let jitter = t.jitter_ns as i128;
            let shifted = nominal as i128 + self.rng.random_range(-jitter..=jitter);
            // Clamped to [0, u64::MAX], so the cast is exact.
            shifted.clamp(0, u64::MAX as i128) as u64
        };
        let offset = offset.max(self.last);
        self.last = offset;
        self.index += 1;
        Duration::from_nanos(offset)
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.next_under(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn timing(ttft_ms: f64, gap_ms: f64, jitter_ms: f64) -> Timing {
        Timing::from_config(&MockConfig {
            ttft_ms,
            gap_ms,
            jitter_ms,
            ..MockConfig::default()
        })
        .expect("valid timing")
    }

    fn offsets(t: Timing, seed: u64, n: usize) -> Vec<Duration> {
        t.schedule(SmallRng::seed_from_u64(seed)).take(n).collect()
    }

    #[test]
    fn without_jitter_the_schedule_is_exact() {
        let got = offsets(timing(200.0, 20.0, 0.0), 1, 50);
        let want: Vec<Duration> = (0..50u32)
            .map(|i| Duration::from_millis(200) + i * Duration::from_millis(20))
            .collect();
        assert_eq!(got, want);
        let fractional = offsets(timing(0.5, 0.25, 0.0), 1, 3);
        assert_eq!(
            fractional,
            [500_000, 750_000, 1_000_000].map(Duration::from_nanos)
        );
    }

    #[test]
    fn jitter_is_bounded_monotonic_and_used() {
        for seed in 0..20 {
            let (ttft, gap, jitter) = (5.0, 2.0, 3.0);
            let got = offsets(timing(ttft, gap, jitter), seed, 500);
            let mut off_nominal = 0;
            for (i, d) in got.iter().enumerate() {
                let nominal = ttft + i as f64 * gap;
                let ms = d.as_secs_f64() * 1e3;
                assert!(
                    (ms - nominal).abs() <= jitter + 1e-9,
                    "token {i}: {ms} vs {nominal}"
                );
                if (ms - nominal).abs() > 1e-9 {
                    off_nominal += 1;
                }
            }
            assert!(
                got.windows(2).all(|w| w[0] <= w[1]),
                "seed {seed}: out of order"
            );
            assert!(off_nominal > 400, "seed {seed}: jitter barely applied");
        }
    }

    #[test]
    fn jitter_larger_than_the_delays_clamps_at_zero() {
        let got = offsets(timing(0.0, 1.0, 10.0), 9, 200);
        assert!(got.windows(2).all(|w| w[0] <= w[1]));
        assert!(got.contains(&Duration::ZERO), "early tokens clamp to 0");
        for (i, d) in got.iter().enumerate() {
            assert!(d.as_secs_f64() * 1e3 <= i as f64 + 10.0 + 1e-9);
        }
    }

    #[test]
    fn same_seed_same_schedule() {
        let t = timing(100.0, 10.0, 4.0);
        assert_eq!(offsets(t, 5, 300), offsets(t, 5, 300));
        assert_ne!(offsets(t, 5, 300), offsets(t, 6, 300));
    }

    #[test]
    fn bad_delays_are_rejected_with_the_field_name() {
        let bad = |config: MockConfig| Timing::from_config(&config).unwrap_err();
        let base = MockConfig::default();
        assert!(
            bad(MockConfig {
                ttft_ms: -1.0,
                ..base.clone()
            })
            .contains("ttft_ms")
        );
        assert!(
            bad(MockConfig {
                gap_ms: f64::NAN,
                ..base.clone()
            })
            .contains("gap_ms")
        );
        let err = bad(MockConfig {
            jitter_ms: 1e300,
            ..base.clone()
        });
        assert!(
            err.contains("jitter_ms") && err.contains("milliseconds"),
            "{err}"
        );
    }

    #[test]
    fn huge_offsets_saturate_instead_of_overflowing() {
        let t = timing(MAX_DELAY_MS, MAX_DELAY_MS, 0.0);
        let mut s = t.schedule(SmallRng::seed_from_u64(0));
        s.next_under(1);
        s.nominal = u64::MAX - 1;
        assert_eq!(s.next_under(u32::MAX), Duration::from_nanos(u64::MAX));
    }

    fn loaded(ttft_ms: f64, gap_ms: f64, per_running_ms: f64) -> Timing {
        Timing::from_config(&MockConfig {
            ttft_ms,
            gap_ms,
            gap_ms_per_running: per_running_ms,
            jitter_ms: 0.0,
            ..MockConfig::default()
        })
        .expect("valid timing")
    }

    #[test]
    fn the_gap_grows_with_the_running_batch_token_by_token() {
        let mut s = loaded(100.0, 10.0, 2.5).schedule(SmallRng::seed_from_u64(0));
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        // The first token's offset is the TTFT, whatever the load.
        assert_eq!(ms(s.next_under(8)), 100.0);
        // Alone: the plain gap; with 4 running: 3 others add 3 * 2.5 ms.
        assert_eq!(ms(s.next_under(1)), 110.0);
        assert_eq!(ms(s.next_under(4)), 127.5);
        // The load is read again for every token, and 0 counts as alone.
        assert_eq!(ms(s.next_under(2)), 140.0);
        assert_eq!(ms(s.next_under(0)), 150.0);
    }

    #[test]
    fn without_a_slope_the_load_changes_nothing() {
        let t = timing(30.0, 7.0, 2.0);
        assert!(!t.load_dependent());
        let alone = offsets(t, 3, 100);
        let mut s = t.schedule(SmallRng::seed_from_u64(3));
        let busy: Vec<Duration> = (0..100u32).map(|i| s.next_under(1 + i % 50)).collect();
        assert_eq!(alone, busy);
        assert!(loaded(1.0, 1.0, 0.5).load_dependent());
    }

    #[test]
    fn a_stall_shifts_its_token_and_every_later_one() {
        let t = timing(50.0, 10.0, 0.0);
        let stalled: Vec<Duration> = t
            .schedule(SmallRng::seed_from_u64(0))
            .with_stall(3, Duration::from_millis(400))
            .take(6)
            .collect();
        let want = [50, 60, 70, 480, 490, 500].map(Duration::from_millis);
        assert_eq!(stalled, want);
        let first: Vec<Duration> = t
            .schedule(SmallRng::seed_from_u64(0))
            .with_stall(0, Duration::from_millis(1000))
            .take(2)
            .collect();
        assert_eq!(first, [1050, 1060].map(Duration::from_millis));
    }
}
