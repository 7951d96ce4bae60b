//! The headline metrics of a level, by name: one registry read by
//! `summary.csv`, `runner compare` and its `--fail-if` gates, so a column
//! name, a gate key and a definition never drift apart.
//!
//! A key is either a scalar (`output_throughput`, `error_rate`,
//! `concurrency.mean`, ...) or a distribution and a statistic
//! (`ttft.p99`, `e2e.mean`, `user_chars_per_s.p50`).

use crate::metrics::Summary;
use crate::results::LevelResult;

/// Which way is better for a metric; it decides the colour of a delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Smaller is better (latencies, error rate).
    Lower,
    /// Larger is better (throughput, per-user speed).
    Higher,
    /// Neither (counts, lengths).
    Neither,
}

/// A scalar metric of a level.
pub struct Scalar {
    /// Gate key (`output_throughput`).
    pub key: &'static str,
    /// `summary.csv` column.
    pub column: &'static str,
    /// Unit, for labels.
    pub unit: &'static str,
    /// Which way is better.
    pub better: Better,
    /// One-line definition (README and `runner compare --help`).
    pub doc: &'static str,
    get: fn(&LevelResult) -> f64,
}

/// A distribution of a level (an HDR summary).
pub struct Distribution {
    /// Gate key prefix (`ttft` in `ttft.p99`).
    pub key: &'static str,
    /// Unit of its values.
    pub unit: &'static str,
    /// Which way is better.
    pub better: Better,
    get: fn(&LevelResult) -> Option<Summary>,
}

/// Every scalar, in `summary.csv` order.
pub const SCALARS: &[Scalar] = &[
    Scalar {
        key: "users",
        column: "users",
        unit: "",
        better: Better::Neither,
        doc: "configured concurrent users (并发)",
        get: |l| f64::from(l.users),
    },
    Scalar {
        key: "requests",
        column: "requests",
        unit: "",
        better: Better::Neither,
        doc: "requests that ended, ok and failed (问答)",
        get: |l| l.requests as f64,
    },
    Scalar {
        key: "ok",
        column: "ok",
        unit: "",
        better: Better::Neither,
        doc: "requests that succeeded",
        get: |l| l.ok as f64,
    },
    Scalar {
        key: "errors",
        column: "errors",
        unit: "",
        better: Better::Lower,
        doc: "requests that failed (错误)",
        get: |l| l.errors as f64,
    },
    Scalar {
        key: "error_rate",
        column: "error_rate",
        unit: "",
        better: Better::Lower,
        doc: "errors / requests (0..1)",
        get: |l| l.error_rate,
    },
    Scalar {
        key: "concurrency.mean",
        column: "concurrency_mean",
        unit: "",
        better: Better::Higher,
        doc: "achieved concurrency: time-weighted mean in flight",
        get: |l| l.concurrency.mean,
    },
    Scalar {
        key: "concurrency.max",
        column: "concurrency_max",
        unit: "",
        better: Better::Neither,
        doc: "most requests in flight at once",
        get: |l| l.concurrency.max as f64,
    },
    Scalar {
        key: "concurrency.ratio",
        column: "concurrency_ratio",
        unit: "",
        better: Better::Higher,
        doc: "achieved mean / configured users",
        get: |l| l.concurrency.ratio,
    },
    Scalar {
        key: "window",
        column: "window_s",
        unit: "s",
        better: Better::Neither,
        doc: "length of the load window, s",
        get: |l| l.throughput.window_s,
    },
    Scalar {
        key: "chars_throughput",
        column: "chars_per_s",
        unit: "chars/s",
        better: Better::Higher,
        doc: "content chars / window (总吞吐)",
        get: |l| l.throughput.chars_per_s,
    },
    Scalar {
        key: "output_throughput",
        column: "output_tokens_per_s",
        unit: "tok/s",
        better: Better::Higher,
        doc: "output tokens / window (source in token_source)",
        get: |l| l.throughput.output_tokens_per_s,
    },
    Scalar {
        key: "total_throughput",
        column: "total_tokens_per_s",
        unit: "tok/s",
        better: Better::Higher,
        doc: "(prompt + output tokens) / window; needs server usage",
        get: |l| l.throughput.total_tokens_per_s,
    },
    Scalar {
        key: "request_throughput",
        column: "requests_per_s",
        unit: "req/s",
        better: Better::Higher,
        doc: "successful requests / window",
        get: |l| l.throughput.requests_per_s,
    },
];

/// Every distribution, in `summary.csv` order.
pub const DISTRIBUTIONS: &[Distribution] = &[
    Distribution {
        key: "ttft",
        unit: "ms",
        better: Better::Lower,
        get: |l| l.ttft_ms,
    },
    Distribution {
        key: "ttft_first_event",
        unit: "ms",
        better: Better::Lower,
        get: |l| l.ttft_first_event_ms,
    },
    Distribution {
        key: "tpot",
        unit: "ms",
        better: Better::Lower,
        get: |l| l.tpot_ms,
    },
    Distribution {
        key: "itl",
        unit: "ms",
        better: Better::Lower,
        get: |l| l.itl_ms,
    },
    Distribution {
        key: "e2e",
        unit: "ms",
        better: Better::Lower,
        get: |l| l.e2e_ms,
    },
    Distribution {
        key: "e2e_from_planned",
        unit: "ms",
        better: Better::Lower,
        get: |l| l.e2e_from_planned_ms,
    },
    Distribution {
        key: "queue_delay",
        unit: "ms",
        better: Better::Lower,
        get: |l| l.queue_delay_ms,
    },
    Distribution {
        key: "user_chars_per_s",
        unit: "chars/s",
        better: Better::Higher,
        get: |l| l.user_chars_per_s,
    },
    Distribution {
        key: "output_chars",
        unit: "chars",
        better: Better::Neither,
        get: |l| l.output_chars,
    },
    Distribution {
        key: "output_tokens",
        unit: "tokens",
        better: Better::Neither,
        get: |l| l.output_tokens,
    },
];

/// Statistics of a distribution, in `summary.csv` order.
pub const STATS: &[&str] = &["mean", "p50", "p90", "p95", "p99", "p999", "max"];

fn stat(s: &Summary, name: &str) -> Option<f64> {
    Some(match name {
        "count" => s.count as f64,
        "mean" => s.mean,
        "stddev" => s.stddev,
        "min" => s.min,
        "p50" => s.p50,
        "p90" => s.p90,
        "p95" => s.p95,
        "p99" => s.p99,
        "p999" => s.p999,
        "max" => s.max,
        _ => return None,
    })
}

/// A metric named by a key, resolved once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricKey {
    scalar: Option<usize>,
    dist: Option<(usize, &'static str)>,
}

impl MetricKey {
    /// Resolves `key`; `None` when no metric has that name.
    pub fn parse(key: &str) -> Option<MetricKey> {
        if let Some(i) = SCALARS.iter().position(|s| s.key == key) {
            return Some(MetricKey {
                scalar: Some(i),
                dist: None,
            });
        }
        let (family, st) = key.rsplit_once('.')?;
        let i = DISTRIBUTIONS.iter().position(|d| d.key == family)?;
        let st = [
            "count", "mean", "stddev", "min", "p50", "p90", "p95", "p99", "p999", "max",
        ]
        .into_iter()
        .find(|s| *s == st)?;
        Some(MetricKey {
            scalar: None,
            dist: Some((i, st)),
        })
    }

    /// The metric's value in `level`; `None` when the level has no such
    /// distribution (no successful request, say).
    pub fn value(&self, level: &LevelResult) -> Option<f64> {
        match (self.scalar, self.dist) {
            (Some(i), _) => Some((SCALARS[i].get)(level)),
            (None, Some((i, st))) => (DISTRIBUTIONS[i].get)(level).and_then(|s| stat(&s, st)),
            (None, None) => None,
        }
    }

    /// Which way is better.
    pub fn better(&self) -> Better {
        match (self.scalar, self.dist) {
            (Some(i), _) => SCALARS[i].better,
            (None, Some((_, "count"))) => Better::Neither,
            (None, Some((i, _))) => DISTRIBUTIONS[i].better,
            (None, None) => Better::Neither,
        }
    }

    /// Unit of the value.
    pub fn unit(&self) -> &'static str {
        match (self.scalar, self.dist) {
            (Some(i), _) => SCALARS[i].unit,
            (None, Some((_, "count"))) => "",
            (None, Some((i, _))) => DISTRIBUTIONS[i].unit,
            (None, None) => "",
        }
    }
}

/// Every valid key, for error messages and suggestions.
pub fn all_keys() -> Vec<String> {
    let mut keys: Vec<String> = SCALARS.iter().map(|s| s.key.to_string()).collect();
    for d in DISTRIBUTIONS {
        for st in [
            "count", "mean", "min", "p50", "p90", "p95", "p99", "p999", "max",
        ] {
            keys.push(format!("{}.{st}", d.key));
        }
    }
    keys
}

/// The `summary.csv` header: scalars, then `<dist>_<stat>_<unit>` columns.
pub fn csv_columns() -> Vec<String> {
    let mut cols: Vec<String> = SCALARS.iter().map(|s| s.column.to_string()).collect();
    cols.push("token_source".to_string());
    for d in DISTRIBUTIONS {
        let unit = d.unit.replace('/', "_per_");
        for st in STATS {
            cols.push(format!("{}_{st}_{unit}", d.key));
        }
        cols.push(format!("{}_count", d.key));
    }
    cols.push("flags".to_string());
    cols
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_number(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => {
            let s = format!("{x:.4}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            if s == "-0" {
                "0".to_string()
            } else {
                s.to_string()
            }
        }
        _ => String::new(),
    }
}

/// `summary.csv`: a header and one row per level; empty cells where a
/// level has no value (no successful request).
pub fn summary_csv(levels: &[LevelResult]) -> String {
    let mut out = csv_columns().join(",");
    out.push('\n');
    for l in levels {
        let mut row: Vec<String> = SCALARS
            .iter()
            .map(|s| csv_number(Some((s.get)(l))))
            .collect();
        row.push(csv_field(&l.token_source));
        for d in DISTRIBUTIONS {
            let s = (d.get)(l);
            for st in STATS {
                row.push(csv_number(s.as_ref().and_then(|s| stat(s, st))));
            }
            row.push(s.map_or("0".to_string(), |s| s.count.to_string()));
        }
        row.push(csv_field(&l.flags.join("; ")));
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_resolve_and_reject() {
        assert!(MetricKey::parse("ttft.p99").is_some());
        assert!(MetricKey::parse("output_throughput").is_some());
        assert!(MetricKey::parse("concurrency.mean").is_some());
        assert!(MetricKey::parse("ttft.p98").is_none());
        assert!(MetricKey::parse("latency").is_none());
        assert_eq!(
            MetricKey::parse("ttft.p99").map(|k| k.better()),
            Some(Better::Lower)
        );
        assert_eq!(
            MetricKey::parse("output_throughput").map(|k| k.better()),
            Some(Better::Higher)
        );
        for k in all_keys() {
            assert!(MetricKey::parse(&k).is_some(), "{k}");
        }
    }

    #[test]
    fn csv_quotes_and_numbers() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_number(Some(1.5)), "1.5");
        assert_eq!(csv_number(Some(2.0)), "2");
        assert_eq!(csv_number(Some(0.123456)), "0.1235");
        assert_eq!(csv_number(None), "");
        assert_eq!(csv_columns()[SCALARS.len()], "token_source");
        assert!(csv_columns().contains(&"ttft_p99_ms".to_string()));
        assert!(csv_columns().contains(&"user_chars_per_s_mean_chars_per_s".to_string()));
    }
}
