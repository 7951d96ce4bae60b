//! Open-loop arrival times: a pure, seeded function of the rate, the
//! arrival process and the phase length. No clock, no I/O.
//!
//! Arrivals are drawn as a unit-rate process in "expected count" space and
//! mapped to time through the cumulative rate Λ(t) = ∫₀ᵗ r(s) ds. For a rate
//! that ramps linearly from `r0` to `r1` over `T`,
//! Λ(t) = r0·t + (r1 − r0)·t² / (2T), so the i-th arrival is at
//! t_i = Λ⁻¹(S_i) with S_0 = 0 and S_i = S_{i−1} + g_i, where the unit gaps
//! g_i are:
//! - `constant`: 1 (exactly evenly spaced at a constant rate);
//! - `poisson`: Exp(1) draws (coefficient of variation 1);
//! - `gamma`: Gamma(k, 1/k) draws with shape k = `burstiness` (mean 1,
//!   coefficient of variation 1/√k: k < 1 is burstier than Poisson, k > 1
//!   smoother; k = 1 is Poisson).
//!
//! The first arrival is at 0, so a phase starts with a request. Offsets are
//! absolute from the phase start: a late dispatcher never shifts later
//! arrivals.

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, Exp1, Gamma};

/// How inter-arrival gaps are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Process {
    /// Evenly spaced.
    Constant,
    /// Exponential gaps.
    Poisson,
    /// Gamma gaps with this shape (`burstiness`, > 0).
    Gamma(f64),
}

impl Process {
    /// `constant`, `poisson` or `gamma`.
    pub fn name(self) -> &'static str {
        match self {
            Process::Constant => "constant",
            Process::Poisson => "poisson",
            Process::Gamma(_) => "gamma",
        }
    }
}

/// A rate, constant (`from == to`) or ramping linearly over `duration_s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateProfile {
    /// Requests per second at the start.
    pub from: f64,
    /// Requests per second at the end of `duration_s`.
    pub to: f64,
    /// Length of the ramp in seconds; the rate stays at `to` after it. For a
    /// constant rate any positive value.
    pub duration_s: f64,
}

impl RateProfile {
    /// A constant rate.
    pub fn constant(rate: f64) -> Self {
        RateProfile {
            from: rate,
            to: rate,
            duration_s: 1.0,
        }
    }

    /// Expected arrivals in `[0, t]`: Λ(t).
    pub fn expected(&self, t: f64) -> f64 {
        let t_ramp = t.min(self.duration_s);
        let slope = (self.to - self.from) / self.duration_s;
        let ramp = self.from * t_ramp + slope * t_ramp * t_ramp / 2.0;
        ramp + self.to * (t - t_ramp).max(0.0)
    }

    /// The time at which Λ(t) = `s` (Λ⁻¹), in seconds; `None` when the rate
    /// never gets there (a rate that ends at zero).
    pub fn time_of(&self, s: f64) -> Option<f64> {
        if s <= 0.0 {
            return Some(0.0);
        }
        let end = self.expected(self.duration_s);
        if s <= end {
            let a = (self.to - self.from) / (2.0 * self.duration_s);
            let b = self.from;
            if a.abs() < 1e-12 {
                return (b > 0.0).then(|| s / b);
            }
            // a t² + b t − s = 0; the root in [0, T]. Written as
            // 2s / (b + √(b² + 4as)) to stay exact when a is tiny.
            let disc = b * b + 4.0 * a * s;
            if disc < 0.0 {
                return None;
            }
            let denom = b + disc.sqrt();
            if denom <= 0.0 {
                return None;
            }
            Some(2.0 * s / denom)
        } else if self.to > 0.0 {
            Some(self.duration_s + (s - end) / self.to)
        } else {
            None
        }
    }
}

/// The arrival offsets of one phase, in ns from its start, in order. Ends
/// at `limit` arrivals or at the first arrival at or after `until_ns`,
/// whichever comes first.
#[derive(Debug, Clone)]
pub struct Arrivals {
    process: Process,
    profile: RateProfile,
    rng: SmallRng,
    gamma: Option<Gamma<f64>>,
    s: f64,
    count: u64,
    limit: Option<u64>,
    until_ns: Option<u64>,
}

impl Arrivals {
    /// Arrivals of `process` at `profile`, seeded by `seed`. `process` must
    /// have a positive, finite shape and `profile` a positive rate somewhere
    /// (the scenario checks both).
    pub fn new(
        process: Process,
        profile: RateProfile,
        seed: u64,
        limit: Option<u64>,
        until_ns: Option<u64>,
    ) -> Self {
        let gamma = match process {
            Process::Gamma(k) => Gamma::new(k, 1.0 / k).ok(),
            _ => None,
        };
        Arrivals {
            process,
            profile,
            rng: SmallRng::seed_from_u64(seed),
            gamma,
            s: 0.0,
            count: 0,
            limit,
            until_ns,
        }
    }

    fn gap(&mut self) -> f64 {
        match self.process {
            Process::Constant => 1.0,
            Process::Poisson => Exp1.sample(&mut self.rng),
            Process::Gamma(_) => match &self.gamma {
                Some(g) => g.sample(&mut self.rng),
                None => 1.0,
            },
        }
    }
}

impl Iterator for Arrivals {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.limit.is_some_and(|l| self.count >= l) {
            return None;
        }
        if self.count > 0 {
            let g = self.gap();
            self.s += g;
        }
        let t = self.profile.time_of(self.s)?;
        let ns = (t * 1e9).round();
        if !ns.is_finite() || ns >= u64::MAX as f64 {
            return None;
        }
        let ns = ns as u64;
        if self.until_ns.is_some_and(|u| ns >= u) {
            return None;
        }
        self.count += 1;
        Some(ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps_s(xs: &[u64]) -> Vec<f64> {
        xs.windows(2).map(|w| (w[1] - w[0]) as f64 / 1e9).collect()
    }

    fn mean_cv(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt() / mean)
    }

    #[test]
    fn constant_arrivals_are_exactly_evenly_spaced() {
        let a: Vec<u64> = Arrivals::new(
            Process::Constant,
            RateProfile::constant(4.0),
            1,
            None,
            Some(2_000_000_000),
        )
        .collect();
        assert_eq!(
            a,
            vec![
                0,
                250_000_000,
                500_000_000,
                750_000_000,
                1_000_000_000,
                1_250_000_000,
                1_500_000_000,
                1_750_000_000
            ]
        );
        let b: Vec<u64> = Arrivals::new(
            Process::Constant,
            RateProfile::constant(2000.0),
            1,
            Some(3),
            None,
        )
        .collect();
        assert_eq!(b, vec![0, 500_000, 1_000_000]);
    }

    #[test]
    fn poisson_gaps_have_the_rate_and_cv_one() {
        let a: Vec<u64> = Arrivals::new(
            Process::Poisson,
            RateProfile::constant(100.0),
            7,
            Some(50_001),
            None,
        )
        .collect();
        let (mean, cv) = mean_cv(&gaps_s(&a));
        assert!((mean - 0.01).abs() < 0.01 * 0.02, "mean gap {mean}");
        assert!((cv - 1.0).abs() < 0.03, "cv {cv}");
    }

    #[test]
    fn gamma_gaps_have_the_rate_and_cv_of_their_shape() {
        for k in [0.25_f64, 0.5, 4.0] {
            let a: Vec<u64> = Arrivals::new(
                Process::Gamma(k),
                RateProfile::constant(50.0),
                11,
                Some(50_001),
                None,
            )
            .collect();
            let (mean, cv) = mean_cv(&gaps_s(&a));
            assert!((mean - 0.02).abs() < 0.02 * 0.03, "k {k}: mean gap {mean}");
            let want = 1.0 / k.sqrt();
            assert!(
                (cv - want).abs() < want * 0.05,
                "k {k}: cv {cv}, want {want}"
            );
        }
    }

    #[test]
    fn same_seed_same_arrivals() {
        let a = Arrivals::new(
            Process::Poisson,
            RateProfile::constant(10.0),
            3,
            Some(100),
            None,
        );
        let b = a.clone();
        assert_eq!(a.collect::<Vec<_>>(), b.collect::<Vec<_>>());
        let c = Arrivals::new(
            Process::Poisson,
            RateProfile::constant(10.0),
            4,
            Some(100),
            None,
        );
        assert_ne!(
            Arrivals::new(
                Process::Poisson,
                RateProfile::constant(10.0),
                3,
                Some(100),
                None
            )
            .collect::<Vec<_>>(),
            c.collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_rate_ramp_follows_the_cumulative_rate() {
        // 0 → 20 req/s over 10 s: Λ(t) = t², so the i-th constant arrival is
        // at √i seconds, and 100 arrive in the 10 s.
        let p = RateProfile {
            from: 0.0,
            to: 20.0,
            duration_s: 10.0,
        };
        let a: Vec<u64> =
            Arrivals::new(Process::Constant, p, 1, None, Some(10_000_000_000)).collect();
        assert_eq!(a.len(), 100);
        for (i, t) in a.iter().enumerate() {
            let want = (i as f64).sqrt() * 1e9;
            assert!(
                (*t as f64 - want).abs() < 1.0,
                "arrival {i} at {t}, want {want}"
            );
        }
        // 10 → 30 req/s over 10 s: 200 arrivals, and after the ramp the rate
        // stays at 30.
        let p = RateProfile {
            from: 10.0,
            to: 30.0,
            duration_s: 10.0,
        };
        assert_eq!(p.expected(10.0), 200.0);
        assert!((p.time_of(230.0).unwrap() - 11.0).abs() < 1e-9);
        let n = Arrivals::new(Process::Constant, p, 1, None, Some(10_000_000_000)).count();
        assert_eq!(n, 200);
        // A ramp down to zero ends.
        let down = RateProfile {
            from: 10.0,
            to: 0.0,
            duration_s: 2.0,
        };
        assert_eq!(
            Arrivals::new(Process::Constant, down, 1, None, None).count(),
            11
        );
    }
}
