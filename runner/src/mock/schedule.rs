//! When each token of a mock response is due: a pure function of the timing
//! and a seeded RNG, with no clock and no I/O, so it can be tested exactly.
//!
//! Token `i` (0-based) is due at `ttft + i * gap + u_i` after the request
//! body was read, where `u_i` is uniform in `[-jitter, +jitter]`. Offsets are
//! absolute, so the stream never drifts however late a timer fires. Each
//! offset is clamped to at least 0 and at least the previous one, so tokens
//! stay in order; both clamps keep every offset within `jitter` of its
//! nominal time (the previous offset is at most `nominal(i-1) + jitter`,
//! which is below `nominal(i) + jitter`).

use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;

use super::MockConfig;

/// The longest delay a knob may ask for: one day, in milliseconds. Longer
/// values are surely a unit mistake, and the cap keeps nanosecond sums far
/// from overflowing.
const MAX_DELAY_MS: f64 = 86_400_000.0;

/// Validated delays of a [`MockConfig`], in whole nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    ttft_ns: u64,
    gap_ns: u64,
    jitter_ns: u64,
}

impl Timing {
    /// Checks the config's delays, naming the field and the fix on failure.
    pub(crate) fn from_config(config: &MockConfig) -> Result<Timing, String> {
        Ok(Timing {
            ttft_ns: delay_ns("ttft_ms", config.ttft_ms)?,
            gap_ns: delay_ns("gap_ms", config.gap_ms)?,
            jitter_ns: delay_ns("jitter_ms", config.jitter_ms)?,
        })
    }

    /// The schedule of one response, jittered by `rng`.
    pub(crate) fn schedule(self, rng: SmallRng) -> Schedule {
        Schedule {
            timing: self,
            rng,
            index: 0,
            last: 0,
        }
    }
}

fn delay_ns(field: &str, ms: f64) -> Result<u64, String> {
    if !ms.is_finite() || !(0.0..=MAX_DELAY_MS).contains(&ms) {
        return Err(format!(
            "mock {field} is {ms}; it must be a number of milliseconds from 0 to {MAX_DELAY_MS}"
        ));
    }
    // In range, so the product fits u64 with room to spare.
    Ok((ms * 1e6).round() as u64)
}

/// The due offsets of a response's tokens, in order, as an endless iterator:
/// the caller takes as many as it has tokens.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    timing: Timing,
    rng: SmallRng,
    index: u64,
    last: u64,
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let t = self.timing;
        let nominal = t
            .ttft_ns
            .saturating_add(self.index.saturating_mul(t.gap_ns));
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
        Some(Duration::from_nanos(offset))
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
    fn huge_indices_saturate_instead_of_overflowing() {
        let t = timing(MAX_DELAY_MS, MAX_DELAY_MS, 0.0);
        let mut s = t.schedule(SmallRng::seed_from_u64(0));
        s.index = u64::MAX - 1;
        assert_eq!(s.next(), Some(Duration::from_nanos(u64::MAX)));
    }
}
