//! `runner compare BASE NEW`: per-level deltas of the headline metrics,
//! levels matched by their users, a diff of the two scenarios and
//! environments, and the `--fail-if` gates. Rendered by the
//! `compare.md.j2` and `compare.html.j2` templates.

use std::collections::BTreeMap;

use minijinja::Value;
use serde::Serialize;

use super::gate::{Gate, relative_change};
use super::headline::{Better, MetricKey};
use super::labels::Labels;
use super::render::{ReportError, Templates};
use crate::results::{LevelResult, RunResults};
use crate::scenario::Lang;

/// The metrics every comparison shows, in order.
const SHOWN: &[(&str, &str)] = &[
    ("chars_throughput", "总吞吐 chars/s"),
    ("output_throughput", "output tok/s"),
    ("request_throughput", "req/s"),
    ("ttft.mean", "平均延迟 TTFT mean (ms)"),
    ("ttft.p50", "TTFT p50 (ms)"),
    ("ttft.p99", "TTFT p99 (ms)"),
    ("tpot.p50", "TPOT p50 (ms)"),
    ("tpot.p99", "TPOT p99 (ms)"),
    ("itl.p99", "ITL p99 (ms)"),
    ("e2e.p50", "E2E p50 (ms)"),
    ("e2e.p99", "E2E p99 (ms)"),
    ("user_chars_per_s.mean", "出字均速 chars/s"),
    ("concurrency.mean", "achieved concurrency"),
    ("error_rate", "error rate"),
];

/// Relative changes smaller than this (percent) are not coloured.
const NOISE_PCT: f64 = 1.0;

/// One metric of one matched level.
#[derive(Debug, Clone, Serialize)]
pub struct Delta {
    /// Gate key.
    pub key: String,
    /// Label.
    pub label: String,
    /// Base value.
    pub base: Option<f64>,
    /// New value.
    pub new: Option<f64>,
    /// `new − base`.
    pub change: Option<f64>,
    /// Relative change, percent (±inf from a zero base).
    pub change_pct: Option<f64>,
    /// `▲`, `▼` or `=`.
    pub arrow: &'static str,
    /// `better`, `worse`, or `same` (within noise or no preferred way).
    pub verdict: &'static str,
}

/// A pair of levels with the same users.
#[derive(Debug, Clone, Serialize)]
pub struct LevelPair {
    /// Configured users of both.
    pub users: u32,
    /// The deltas.
    pub deltas: Vec<Delta>,
}

/// The outcome of one gate.
#[derive(Debug, Clone, Serialize)]
pub struct GateOutcome {
    /// As written.
    pub gate: String,
    /// Whether it held on every matched level.
    pub passed: bool,
    /// Which levels tripped it and by how much, or why it could not be
    /// evaluated.
    pub detail: String,
}

/// A key whose value differs between the runs.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// Dotted path (`scenario.mock.ttft_ms`).
    pub key: String,
    /// Base value, `-` when absent.
    pub base: String,
    /// New value, `-` when absent.
    pub new: String,
}

/// A whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The base run.
    pub base: RunResults,
    /// The new run.
    pub new: RunResults,
    /// Matched levels, in the base's order.
    pub levels: Vec<LevelPair>,
    /// Users of levels only the base has.
    pub only_in_base: Vec<u32>,
    /// Users of levels only the new run has.
    pub only_in_new: Vec<u32>,
    /// Scenario and environment differences.
    pub differences: Vec<Difference>,
    /// Gate outcomes, in the order given.
    pub gates: Vec<GateOutcome>,
    /// Whether every gate passed.
    pub passed: bool,
}

/// Pairs levels by users: the k-th level with N users in the base goes
/// with the k-th level with N users in the new run.
fn match_levels<'a>(
    base: &'a [LevelResult],
    new: &'a [LevelResult],
) -> (Vec<(&'a LevelResult, &'a LevelResult)>, Vec<u32>, Vec<u32>) {
    let mut pool: BTreeMap<u32, Vec<&LevelResult>> = BTreeMap::new();
    for l in new {
        pool.entry(l.users).or_default().push(l);
    }
    for v in pool.values_mut() {
        v.reverse();
    }
    let mut pairs = Vec::new();
    let mut only_base = Vec::new();
    for b in base {
        match pool.get_mut(&b.users).and_then(Vec::pop) {
            Some(n) => pairs.push((b, n)),
            None => only_base.push(b.users),
        }
    }
    // What is left in `pool` is unmatched: the last levels with those users.
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    let only_new = new
        .iter()
        .filter(|l| {
            let i = seen.entry(l.users).or_default();
            *i += 1;
            let total = new.iter().filter(|m| m.users == l.users).count();
            let left = pool.get(&l.users).map_or(0, Vec::len);
            *i > total - left
        })
        .map(|l| l.users)
        .collect();
    (pairs, only_base, only_new)
}

fn delta(key: &str, label: &str, b: &LevelResult, n: &LevelResult) -> Option<Delta> {
    let k = MetricKey::parse(key)?;
    let (bv, nv) = (k.value(b), k.value(n));
    let (change, change_pct) = match (bv, nv) {
        (Some(x), Some(y)) => (Some(y - x), Some(relative_change(x, y))),
        _ => (None, None),
    };
    let arrow = match change {
        Some(c) if c > 0.0 => "▲",
        Some(c) if c < 0.0 => "▼",
        _ => "=",
    };
    let verdict = match (change_pct, k.better()) {
        (Some(p), Better::Lower) if p >= NOISE_PCT => "worse",
        (Some(p), Better::Lower) if p <= -NOISE_PCT => "better",
        (Some(p), Better::Higher) if p >= NOISE_PCT => "better",
        (Some(p), Better::Higher) if p <= -NOISE_PCT => "worse",
        _ => "same",
    };
    Some(Delta {
        key: key.to_string(),
        label: label.to_string(),
        base: bv,
        new: nv,
        change,
        change_pct: change_pct.filter(|p| p.is_finite()),
        arrow,
        verdict,
    })
}

/// Flattens a JSON value into dotted paths and display strings.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn setup(r: &RunResults) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let v = serde_json::json!({
        "name": r.name,
        "description": r.description,
        "runner_version": r.runner_version,
        "scenario": r.scenario,
        "environment": r.environment,
    });
    flatten("", &v, &mut out);
    out
}

fn differences(base: &RunResults, new: &RunResults) -> Vec<Difference> {
    let (a, b) = (setup(base), setup(new));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| Difference {
            key: k.clone(),
            base: a.get(k).cloned().unwrap_or_else(|| "-".into()),
            new: b.get(k).cloned().unwrap_or_else(|| "-".into()),
        })
        .collect()
}

fn show(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+∞" } else { "−∞" }.to_string()
    } else {
        format!("{v:+.2}")
    }
}

fn evaluate(gate: &Gate, pairs: &[(&LevelResult, &LevelResult)]) -> GateOutcome {
    let mut tripped = Vec::new();
    let mut evaluated = 0;
    let mut missing = Vec::new();
    for (b, n) in pairs {
        match (gate.key.value(b), gate.key.value(n)) {
            (Some(x), Some(y)) => {
                evaluated += 1;
                if gate.trips(x, y) {
                    let unit = if gate.relative { "%" } else { gate.key.unit() };
                    tripped.push(format!(
                        "{} users: {}{unit} ({x:.3} → {y:.3})",
                        b.users,
                        show(gate.change(x, y))
                    ));
                }
            }
            (Some(_), None) => missing.push(format!("{} users: missing in new", b.users)),
            (None, Some(_)) => missing.push(format!("{} users: missing in base", b.users)),
            (None, None) => {}
        }
    }
    let mut problems = tripped;
    problems.extend(missing);
    if evaluated == 0 && problems.is_empty() {
        return GateOutcome {
            gate: gate.text.clone(),
            passed: false,
            detail: if pairs.is_empty() {
                "no level with the same users in both runs".into()
            } else {
                format!("no matched level has `{}`", gate.metric)
            },
        };
    }
    GateOutcome {
        gate: gate.text.clone(),
        passed: problems.is_empty(),
        detail: if problems.is_empty() {
            format!("held on {evaluated} level(s)")
        } else {
            problems.join("; ")
        },
    }
}

/// Compares two runs and evaluates the gates.
pub fn compare(base: RunResults, new: RunResults, gates: &[Gate]) -> Comparison {
    let (pairs, only_in_base, only_in_new) = match_levels(&base.levels, &new.levels);
    let mut keys: Vec<(String, String)> = SHOWN
        .iter()
        .map(|(k, l)| (k.to_string(), l.to_string()))
        .collect();
    for g in gates {
        if !keys.iter().any(|(k, _)| *k == g.metric) {
            keys.push((g.metric.clone(), g.metric.clone()));
        }
    }
    let levels = pairs
        .iter()
        .map(|(b, n)| LevelPair {
            users: b.users,
            deltas: keys.iter().filter_map(|(k, l)| delta(k, l, b, n)).collect(),
        })
        .collect();
    let outcomes: Vec<GateOutcome> = gates.iter().map(|g| evaluate(g, &pairs)).collect();
    let passed = outcomes.iter().all(|g| g.passed);
    let differences = differences(&base, &new);
    Comparison {
        levels,
        only_in_base,
        only_in_new,
        differences,
        gates: outcomes,
        passed,
        base,
        new,
    }
}

/// Renders a comparison with template `compare.md.j2` or `compare.html.j2`.
pub fn render_comparison(
    c: &Comparison,
    template: &str,
    lang: Lang,
    templates: &Templates,
) -> Result<String, ReportError> {
    let t = Labels::new(lang);
    templates.render(
        template,
        minijinja::context! {
            c => Value::from_serialize(c),
            t => Value::from_serialize(&t),
        },
    )
}
