//! Fixed-memory distributions: an HDR histogram per metric, summarised into
//! the percentiles every report prints.

use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Values are recorded in integer units chosen per metric (microseconds for
/// latencies, milli-chars/s for speeds) with 3 significant digits, so the
/// relative error of any percentile is at most 0.1%.
const SIGFIG: u8 = 3;
/// Largest recordable value in those units (an hour in µs): larger values are
/// clamped rather than lost.
const MAX_VALUE: u64 = 3_600_000_000;

/// A mergeable distribution of one metric.
#[derive(Debug, Clone)]
pub struct Dist {
    hist: Histogram<u64>,
    /// Units per reported unit (1000 for µs → ms).
    scale: f64,
}

impl Dist {
    /// A distribution recorded in units that are `scale` times finer than
    /// the unit it reports in.
    pub fn new(scale: f64) -> Self {
        let hist = Histogram::new_with_bounds(1, MAX_VALUE, SIGFIG)
            .expect("static histogram bounds are valid");
        Dist { hist, scale }
    }

    /// Records one value given in the reported unit (ms, chars/s ...).
    pub fn record(&mut self, value: f64) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        let v = (value * self.scale).round() as u64;
        self.hist.saturating_record(v.clamp(1, MAX_VALUE));
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Adds every value of `other` (same scale).
    pub fn merge(&mut self, other: &Dist) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
    }

    /// The value at quantile `q` (0..=1) in the reported unit.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        (self.count() > 0).then(|| self.hist.value_at_quantile(q) as f64 / self.scale)
    }

    /// Summary statistics, or `None` when nothing was recorded.
    pub fn summary(&self) -> Option<Summary> {
        if self.count() == 0 {
            return None;
        }
        let h = &self.hist;
        let s = self.scale;
        let q = |q: f64| h.value_at_quantile(q) as f64 / s;
        Some(Summary {
            count: h.len(),
            mean: h.mean() / s,
            stddev: h.stdev() / s,
            min: h.min() as f64 / s,
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max() as f64 / s,
        })
    }
}

/// Percentiles of one metric. Values within 0.1% (HDR histogram, 3
/// significant digits).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Number of values.
    pub count: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Standard deviation.
    pub stddev: f64,
    /// Smallest value.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest value.
    pub max: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_known_values() {
        let mut d = Dist::new(1000.0);
        for ms in 1..=1000 {
            d.record(ms as f64);
        }
        let s = d.summary().unwrap();
        assert_eq!(s.count, 1000);
        assert!((s.p50 - 500.0).abs() <= 0.5, "{}", s.p50);
        assert!((s.p99 - 990.0).abs() <= 1.0, "{}", s.p99);
        assert!((s.mean - 500.5).abs() < 0.5, "{}", s.mean);
        assert!((s.max - 1000.0).abs() <= 1.0);
    }

    #[test]
    fn merge_equals_recording_together() {
        let (mut a, mut b, mut all) = (Dist::new(1000.0), Dist::new(1000.0), Dist::new(1000.0));
        for i in 0..500 {
            a.record(i as f64 * 0.7);
            all.record(i as f64 * 0.7);
            b.record(i as f64 * 3.1);
            all.record(i as f64 * 3.1);
        }
        a.merge(&b);
        assert_eq!(a.summary(), all.summary());
    }

    #[test]
    fn empty_and_bad_values() {
        let mut d = Dist::new(1000.0);
        assert!(d.summary().is_none());
        d.record(f64::NAN);
        d.record(-1.0);
        assert_eq!(d.count(), 0);
    }
}
