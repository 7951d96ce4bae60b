//! Regression gates for `runner compare --fail-if`: `METRIC OP CHANGE`,
//! e.g. `ttft.p99>+10%` (fail when TTFT p99 rose by more than 10%) or
//! `output_throughput<-5%` (fail when output tokens/s fell by more than 5%).
//!
//! `CHANGE` is a signed number; with `%` it is relative to the base value,
//! without it an absolute change in the metric's unit (`error_rate>+0.01`,
//! `e2e.p50>=+200`). `OP` is one of `>`, `>=`, `<`, `<=`. The gate fails on
//! a level when `new − base` (or its percentage of `base`) satisfies it.

use std::fmt;

use super::headline::{MetricKey, all_keys};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
        }
    }
}

/// A parsed gate.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// As the user wrote it.
    pub text: String,
    /// The metric key (`ttft.p99`).
    pub metric: String,
    /// The resolved metric.
    pub key: MetricKey,
    /// The operator.
    pub op: Op,
    /// The threshold: percent when `relative`, else the metric's unit.
    pub threshold: f64,
    /// Whether the threshold is a percentage of the base value.
    pub relative: bool,
}

/// Why a gate could not be parsed; its message shows the expected form.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "--fail-if `{text}`: {reason}\n  expected METRIC OP CHANGE, e.g. 'ttft.p99>+10%' or 'output_throughput<-5%' or 'error_rate>+0.01'"
)]
pub struct GateError {
    /// The gate as written.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Gate {
    /// Parses `METRIC OP CHANGE[%]`.
    pub fn parse(text: &str) -> Result<Gate, GateError> {
        let err = |reason: String| GateError {
            text: text.to_string(),
            reason,
        };
        let s: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let at = s
            .find(['<', '>'])
            .ok_or_else(|| err("no operator: use >, >=, < or <=".into()))?;
        let (metric, rest) = s.split_at(at);
        let (op, value) = if let Some(v) = rest.strip_prefix(">=") {
            (Op::Ge, v)
        } else if let Some(v) = rest.strip_prefix("<=") {
            (Op::Le, v)
        } else if let Some(v) = rest.strip_prefix('>') {
            (Op::Gt, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Op::Lt, v)
        } else {
            return Err(err("no operator: use >, >=, < or <=".into()));
        };
        if metric.is_empty() {
            return Err(err("no metric before the operator".into()));
        }
        let key = MetricKey::parse(metric).ok_or_else(|| {
            let keys = all_keys();
            let near = keys
                .iter()
                .map(|k| (strsim::jaro_winkler(k, metric), k))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, k)| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            err(format!(
                "unknown metric `{metric}`{near}; metrics: {}",
                keys.join(", ")
            ))
        })?;
        let (number, relative) = match value.strip_suffix('%') {
            Some(n) => (n, true),
            None => (value, false),
        };
        if number.is_empty() {
            return Err(err("no change after the operator".into()));
        }
        let threshold: f64 = number
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| err(format!("`{value}` is not a number (or a number with %)")))?;
        Ok(Gate {
            text: text.to_string(),
            metric: metric.to_string(),
            key,
            op,
            threshold,
            relative,
        })
    }

    /// The change from `base` to `new` in the gate's terms: percent of the
    /// base when relative (±infinity when the base is 0 and new is not),
    /// else the absolute difference.
    pub fn change(&self, base: f64, new: f64) -> f64 {
        if self.relative {
            relative_change(base, new)
        } else {
            new - base
        }
    }

    /// Whether this change trips the gate.
    pub fn trips(&self, base: f64, new: f64) -> bool {
        self.op.holds(self.change(base, new), self.threshold)
    }
}

/// `(new − base) / |base|` in percent; 0 when both are 0, ±infinity when
/// only the base is.
pub fn relative_change(base: f64, new: f64) -> f64 {
    if base == 0.0 {
        if new == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(new)
        }
    } else {
        (new - base) / base.abs() * 100.0
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relative_and_absolute() {
        let g = Gate::parse("ttft.p99>+10%").unwrap();
        assert_eq!((g.op, g.threshold, g.relative), (Op::Gt, 10.0, true));
        assert!(g.trips(100.0, 111.0));
        assert!(!g.trips(100.0, 109.0));
        let g = Gate::parse(" output_throughput < -5% ").unwrap();
        assert!(g.trips(100.0, 94.0));
        assert!(!g.trips(100.0, 96.0));
        let g = Gate::parse("error_rate>=+0.01").unwrap();
        assert!(!g.relative);
        assert!(g.trips(0.0, 0.01));
        assert!(!g.trips(0.0, 0.005));
        // From zero, any rise is an infinite relative change.
        assert!(Gate::parse("errors>+10%").unwrap().trips(0.0, 1.0));
    }

    #[test]
    fn rejects_with_a_reason() {
        for (bad, why) in [
            ("ttft.p99", "no operator"),
            (">+10%", "no metric"),
            ("ttft.p99>", "no change"),
            ("ttft.p99>ten%", "not a number"),
            ("ttft.p98>+10%", "unknown metric"),
            ("ttft_p99>+10%", "did you mean `ttft.p99`"),
            ("ttft.p99=>10%", "unknown metric `ttft.p99=`"),
        ] {
            let e = Gate::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(e.contains("expected METRIC OP CHANGE"), "{e}");
        }
    }
}
