//! Validation of the `load` section: the original's closed-loop levels, or a
//! list of phases, into [`Load`].

use std::time::Duration;

use super::raw::LevelUsers;
use super::raw_load::{
    ArrivalChoice, DrainChoice, LoadSection, OverflowChoice, PhaseSection, RateValue, RatesValue,
    SearchOverChoice, SearchSection, SweepSection,
};
use super::tree::{Located, Pos};
use super::validate::{Context, Report, default_levels, duration_at};
use super::{
    Drain, Load, OpenLoop, Overflow, Overrides, Phase, PhaseKind, SearchOver, SearchSpec, SweepOver,
};
use crate::schedule::Process;

const DEFAULT_LEVEL_DURATION: Duration = Duration::from_secs(1800);
const DEFAULT_PAUSE: Duration = Duration::from_secs(10);
const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
const KINDS: &str = "`users`, `ramp`, `rate`, `replay`, `sweep` or `search`";

/// Validates `load:` with the original's flags applied. `total_timeout` is
/// the default drain timeout.
pub fn load(
    raw: LoadSection,
    overrides: &Overrides,
    cx: &Context<'_>,
    total_timeout: Duration,
    report: &mut Report<'_>,
) -> Load {
    // The original's rules stop its ramp; they stay on wherever a run looks
    // like the original's: its default ramp, or any of its flags.
    let original_flags = overrides.test_runs.is_some()
        || overrides.test_duration.is_some()
        || overrides.test_set.is_some()
        || overrides.name.is_some()
        || overrides.description.is_some()
        || overrides.work_dir.is_some();
    let default_ramp =
        overrides.test_runs.is_none() && raw.levels.is_none() && raw.phases.is_none();
    let early_stop = raw.early_stop.unwrap_or(default_ramp || original_flags);
    let duration = match overrides.test_duration {
        Some(0) => {
            report.flag(
                "--test-duration",
                "a level duration of 0 seconds",
                "give the seconds each level runs, e.g. --test-duration 60",
            );
            DEFAULT_LEVEL_DURATION
        }
        Some(secs) => Duration::from_secs(secs),
        None => duration_at(
            report,
            raw.duration,
            "load.duration",
            DEFAULT_LEVEL_DURATION,
            false,
        ),
    };
    let users_phase = |levels: Vec<u32>| Phase {
        kind: PhaseKind::Users {
            levels,
            stagger: Duration::ZERO,
        },
        duration: Some(duration),
        requests: None,
        warmup: false,
        seed: phase_seed(0),
    };
    let phases = if let Some(runs) = &overrides.test_runs {
        if runs.is_empty() {
            report.flag(
                "--test-runs",
                "no levels given",
                "list the users of each level: --test-runs 1 4 16",
            );
        }
        if runs.contains(&0) {
            report.flag(
                "--test-runs",
                "a level of 0 users",
                "every level needs at least 1 user: --test-runs 1 4 16",
            );
        }
        vec![users_phase(
            runs.iter().copied().filter(|&n| n > 0).collect(),
        )]
    } else {
        match (raw.levels, raw.phases) {
            (Some(levels), Some(phases)) => {
                report.at(
                    phases.pos,
                    "`load.levels` and `load.phases` are both given",
                    "use `levels` for the original's closed-loop levels, or move them into a phase: `phases: [{users: [1, 16]}, ...]`",
                );
                vec![users_phase(user_list(levels, "load.levels", report))]
            }
            (Some(levels), None) => vec![users_phase(user_list(levels, "load.levels", report))],
            (None, Some(phases)) => {
                if phases.value.is_empty() {
                    report.at(
                        phases.pos,
                        "`load.phases` is empty",
                        format!("list at least one phase naming {KINDS}, or remove the key for the default ramp"),
                    );
                }
                phases
                    .value
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, p)| phase(i, p, duration, cx, report))
                    .collect()
            }
            (None, None) => vec![users_phase(default_levels())],
        }
    };
    let drain = match raw.drain {
        Some(DrainChoice::Cancel) => {
            if let Some(t) = &raw.drain_timeout {
                report.at(
                    t.pos,
                    "`load.drain_timeout` is set but `load.drain` is `cancel`",
                    "remove `drain_timeout`, or use `drain: wait`",
                );
            }
            Drain::Cancel
        }
        Some(DrainChoice::Wait) | None => Drain::Wait(duration_at(
            report,
            raw.drain_timeout,
            "load.drain_timeout",
            total_timeout,
            true,
        )),
    };
    Load {
        phases,
        pause: duration_at(report, raw.pause, "load.pause", DEFAULT_PAUSE, true),
        failure_backoff: duration_at(
            report,
            raw.failure_backoff,
            "load.failure_backoff",
            DEFAULT_BACKOFF,
            true,
        ),
        early_stop,
        drain,
        think_ms: raw
            .think_ms
            .and_then(|t| super::dataset::length(t, "load.think_ms", report)),
    }
}

/// The default seed of the phase at `index`.
fn phase_seed(index: usize) -> u64 {
    0x5eed_0000 + ((index as u64) << 16)
}

fn user_list(
    levels: Located<Vec<Located<LevelUsers>>>,
    key: &str,
    report: &mut Report<'_>,
) -> Vec<u32> {
    if levels.value.is_empty() {
        report.at(
            levels.pos,
            format!("`{key}` is empty"),
            "list the users of each level, e.g. `[1, 16, 128]`",
        );
    }
    levels
        .value
        .into_iter()
        .filter(|n| {
            if n.value.0 == 0 {
                report.at(
                    n.pos,
                    format!("a level of 0 users in `{key}`"),
                    "every level needs at least 1 user",
                );
            }
            n.value.0 > 0
        })
        .map(|n| n.value.0)
        .collect()
}

/// A positive, finite number, or a report.
fn positive(v: &Located<f64>, key: &str, example: &str, report: &mut Report<'_>) -> Option<f64> {
    if v.value.is_finite() && v.value > 0.0 {
        Some(v.value)
    } else {
        report.at(
            v.pos,
            format!("`{key}` is {}; it must be a number above 0", v.value),
            format!("write e.g. `{key}: {example}`"),
        );
        None
    }
}

fn phase(
    index: usize,
    raw: Located<PhaseSection>,
    default_duration: Duration,
    cx: &Context<'_>,
    report: &mut Report<'_>,
) -> Option<Phase> {
    let pos = raw.pos;
    let p = raw.value;
    let key = |k: &str| format!("load.phases[{index}].{k}");
    let named: Vec<&str> = [
        ("users", p.users.is_some()),
        ("ramp", p.ramp.is_some()),
        ("rate", p.rate.is_some()),
        ("replay", p.replay.is_some()),
        ("sweep", p.sweep.is_some()),
        ("search", p.search.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, on)| on.then_some(k))
    .collect();
    match named.len() {
        0 => {
            report.at(
                pos,
                format!("phase {index} names no load"),
                format!("give it one of {KINDS}, e.g. `- rate: 20`"),
            );
            return None;
        }
        1 => {}
        _ => {
            report.at(
                pos,
                format!("phase {index} names {}", named.join(" and ")),
                "one phase applies one shape of load: split it into one phase per shape",
            );
            return None;
        }
    }
    let kind_name = named[0];
    let open_loop = matches!(kind_name, "rate" | "replay" | "search" | "sweep");
    let not_for = |report: &mut Report<'_>, at: Pos, setting: &str| {
        report.at(
            at,
            format!("`{setting}` does not apply to a `{kind_name}` phase"),
            format!("remove `{setting}`, or move it to a phase it applies to"),
        );
    };
    let stagger = match p.stagger {
        Some(s) if kind_name == "users" => {
            duration_at(report, Some(s), &key("stagger"), Duration::ZERO, true)
        }
        Some(s) => {
            not_for(report, s.pos, "stagger");
            Duration::ZERO
        }
        None => Duration::ZERO,
    };
    let mut open = OpenLoop::default();
    if let Some(a) = p.arrival {
        open.process = match a {
            ArrivalChoice::Constant => Process::Constant,
            ArrivalChoice::Poisson => Process::Poisson,
            ArrivalChoice::Gamma => Process::Gamma(1.0),
        };
    }
    if let Some(b) = &p.burstiness {
        let k = positive(b, &key("burstiness"), "0.5", report).unwrap_or(1.0);
        match p.arrival {
            Some(ArrivalChoice::Gamma) | None => open.process = Process::Gamma(k),
            Some(_) => report.at(
                b.pos,
                "`burstiness` is set but `arrival` is not `gamma`",
                "use `arrival: gamma` with `burstiness`, or remove `burstiness`",
            ),
        }
    }
    if let Some(cap) = &p.max_in_flight {
        if cap.value == 0 {
            report.at(
                cap.pos,
                "`max_in_flight` is 0",
                "allow at least 1 request in flight, or remove the cap",
            );
        }
        open.cap = Some(cap.value.max(1));
    }
    if let Some(o) = p.overflow {
        if p.max_in_flight.is_none() {
            report.at(
                pos,
                "`overflow` is set without `max_in_flight`",
                "add `max_in_flight: N`, or remove `overflow`",
            );
        }
        open.overflow = match o {
            OverflowChoice::Drop => Overflow::Drop,
            OverflowChoice::Queue => Overflow::Queue,
        };
    }
    if !open_loop {
        for (set, name) in [
            (p.arrival.is_some(), "arrival"),
            (p.burstiness.is_some(), "burstiness"),
            (p.max_in_flight.is_some(), "max_in_flight"),
            (p.overflow.is_some(), "overflow"),
        ] {
            if set {
                not_for(report, pos, name);
            }
        }
    }
    if let (Some(s), false) = (&p.speed, kind_name == "replay") {
        not_for(report, s.pos, "speed");
    }
    let requests = match &p.requests {
        Some(r) if r.value == 0 => {
            report.at(
                r.pos,
                "`requests` is 0",
                "a step must send at least 1 request",
            );
            None
        }
        Some(r) => Some(r.value),
        None => None,
    };
    let duration = match (p.duration, requests) {
        (Some(d), _) => Some(duration_at(
            report,
            Some(d),
            &key("duration"),
            default_duration,
            false,
        )),
        (None, Some(_)) => None,
        // A trace ends with its last line.
        (None, None) if kind_name == "replay" => None,
        (None, None) => Some(default_duration),
    };
    let need_duration = |report: &mut Report<'_>, what: &str| {
        if duration.is_none() {
            report.at(
                pos,
                format!("{what} needs a `duration`"),
                "add e.g. `duration: 60s` to the phase",
            );
        }
    };
    let kind = match kind_name {
        "users" => PhaseKind::Users {
            levels: user_list(p.users?, &key("users"), report),
            stagger,
        },
        "ramp" => {
            let r = p.ramp?.value;
            need_duration(report, "a `ramp` phase");
            if r.from.value == r.to.value {
                report.at(
                    r.to.pos,
                    format!(
                        "the ramp goes from {} to {} users",
                        r.from.value, r.to.value
                    ),
                    "a constant count is a `users` phase: write `users: [N]`",
                );
            }
            if r.to.value == 0 && r.from.value == 0 {
                return None;
            }
            let steps = match r.steps {
                Some(s) if s.value < 2 => {
                    report.at(
                        s.pos,
                        format!("`steps` is {}", s.value),
                        "a stepped ramp needs at least 2 steps; remove `steps` for a linear ramp",
                    );
                    None
                }
                Some(s) => Some(s.value),
                None => None,
            };
            PhaseKind::Ramp {
                from: r.from.value,
                to: r.to.value,
                steps,
            }
        }
        "rate" => {
            let r = p.rate?;
            let (from, to) = match &r.value {
                RateValue::One(x) => (*x, *x),
                RateValue::Ramp(v) if v.len() == 2 => (v[0], v[1]),
                RateValue::Ramp(v) => {
                    report.at(
                        r.pos,
                        format!("`rate` lists {} values", v.len()),
                        "give one rate (`rate: 20`) or a ramp `[from, to]` (`rate: [10, 100]`)",
                    );
                    return None;
                }
            };
            let ok = |x: f64| x.is_finite() && x >= 0.0;
            if !ok(from) || !ok(to) || (from == 0.0 && to == 0.0) || (from == to && from <= 0.0) {
                report.at(
                    r.pos,
                    "`rate` must be above 0 requests per second",
                    "write e.g. `rate: 20`, or `rate: [0, 100]` for a ramp",
                );
                return None;
            }
            if from != to {
                need_duration(report, "a rate ramp");
            }
            PhaseKind::Rate { from, to, open }
        }
        "replay" => {
            let path = p.replay?;
            let full = cx.base.join(&path.value);
            if !full.is_file() {
                report.at(
                    path.pos,
                    format!("trace file `{}` not found", full.display()),
                    "name a JSONL trace relative to the scenario file",
                );
            }
            let speed = match &p.speed {
                Some(s) => positive(s, &key("speed"), "2", report).unwrap_or(1.0),
                None => 1.0,
            };
            PhaseKind::Replay {
                path: full,
                speed,
                open,
            }
        }
        "sweep" => sweep(p.sweep?, open, report)?,
        "search" => search(p.search?, open, report)?,
        _ => return None,
    };
    Some(Phase {
        kind,
        duration,
        requests,
        warmup: p.warmup.unwrap_or(false),
        seed: p.seed.unwrap_or_else(|| phase_seed(index)),
    })
}

fn sweep(raw: Located<SweepSection>, open: OpenLoop, report: &mut Report<'_>) -> Option<PhaseKind> {
    let pos = raw.pos;
    let s = raw.value;
    let auto_only = [
        (s.points.as_ref().map(|p| p.pos), "points"),
        (s.lowest.as_ref().map(|p| p.pos), "lowest"),
        (s.saturate_users.as_ref().map(|p| p.pos), "saturate_users"),
    ];
    let over = match (s.rates, s.users) {
        (Some(_), Some(_)) | (None, None) => {
            report.at(
                pos,
                "a sweep names both or neither of `rates` and `users`",
                "sweep `rates: [10, 20, 40]`, `rates: auto` or `users: [1, 8, 64]`",
            );
            return None;
        }
        (None, Some(users)) => SweepOver::Users(user_list(users, "sweep.users", report)),
        (Some(rates), None) => match rates.value {
            RatesValue::List(list) => {
                if list.is_empty() || list.iter().any(|r| !r.is_finite() || *r <= 0.0) {
                    report.at(
                        rates.pos,
                        "every sweep rate must be above 0 requests per second",
                        "write e.g. `rates: [10, 20, 40]`",
                    );
                    return None;
                }
                SweepOver::Rates(list)
            }
            RatesValue::Word(w) if w == "auto" => {
                let points = s.points.as_ref().map_or(5, |p| p.value);
                if let Some(p) = &s.points
                    && p.value < 2
                {
                    report.at(
                        p.pos,
                        "`points` is below 2",
                        "an automatic sweep needs at least 2 rates",
                    );
                }
                let lowest = s
                    .lowest
                    .as_ref()
                    .and_then(|l| positive(l, "sweep.lowest", "5", report));
                let saturate_users = s
                    .saturate_users
                    .as_ref()
                    .map(|u| u.value)
                    .or(open.cap)
                    .unwrap_or(256)
                    .max(1);
                return Some(PhaseKind::Sweep {
                    over: SweepOver::Auto {
                        points: points.max(2),
                        lowest,
                        saturate_users,
                    },
                    open,
                });
            }
            RatesValue::Word(w) => {
                report.at(
                    rates.pos,
                    format!("`rates: {w}` is not a list of rates"),
                    "write `rates: [10, 20, 40]` or `rates: auto`",
                );
                return None;
            }
        },
    };
    for (at, name) in auto_only {
        if let Some(at) = at {
            report.at(
                at,
                format!("`{name}` applies only to `rates: auto`"),
                format!("remove `{name}`, or sweep `rates: auto`"),
            );
        }
    }
    Some(PhaseKind::Sweep { over, open })
}

fn search(
    raw: Located<SearchSection>,
    open: OpenLoop,
    report: &mut Report<'_>,
) -> Option<PhaseKind> {
    let s = raw.value;
    let over = match s.over {
        Some(SearchOverChoice::Users) => SearchOver::Users,
        Some(SearchOverChoice::Rate) | None => SearchOver::Rate,
    };
    let start = s
        .start
        .as_ref()
        .and_then(|v| positive(v, "search.start", "1", report))
        .unwrap_or(1.0);
    let max = s
        .max
        .as_ref()
        .and_then(|v| positive(v, "search.max", "1024", report))
        .unwrap_or(1024.0);
    if max < start {
        report.at(
            raw.pos,
            format!("the search starts at {start}, above its `max` of {max}"),
            "set `start` below `max`",
        );
    }
    let unit = |v: &Option<Located<f64>>, key: &str, default: f64, report: &mut Report<'_>| match v
    {
        Some(x) if !(x.value > 0.0 && x.value <= 1.0) => {
            report.at(
                x.pos,
                format!("`{key}` is {}; it must be above 0 and at most 1", x.value),
                format!("write e.g. `{key}: {default}`"),
            );
            default
        }
        Some(x) => x.value,
        None => default,
    };
    let precision = unit(&s.precision, "search.precision", 0.05, report);
    let min_good = unit(&s.min_good, "search.min_good", 0.95, report);
    Some(PhaseKind::Search(SearchSpec {
        over,
        start: if over == SearchOver::Users {
            start.round().max(1.0)
        } else {
            start
        },
        max,
        precision,
        min_good,
        open,
    }))
}
