//! The schedule: phases → steps → planned sends. Pure (no clock, no I/O)
//! and seeded, so every planned time is reproducible and testable.
//!
//! A scenario's phases expand into *steps*, each measured as one level of
//! the results: a `users` phase gives one step per user count, a sweep one
//! per point, a search one per probe (chosen as the search goes, see
//! [`search`]). A step is either closed-loop [`users::UserSlot`]s or
//! open-loop arrivals ([`arrivals`], or a replayed trace).

pub mod arrivals;
pub mod replay;
pub mod search;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

pub use arrivals::{Arrivals, Process, RateProfile};
pub use search::{Probe, Search};
pub use users::UserSlot;

use crate::scenario::{OpenLoop, Phase, PhaseKind, SearchOver, SweepOver};

/// One measured step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Index of the scenario phase it belongs to.
    pub phase: u32,
    /// `users`, `ramp`, `rate`, `replay`, `sweep`, `search` or `saturate`.
    pub kind: &'static str,
    /// What it sends.
    pub load: StepLoad,
    /// How long its load runs (`None`: until `requests`).
    pub duration: Option<Duration>,
    /// Most requests it sends.
    pub requests: Option<u64>,
    /// Excluded from headline figures.
    pub warmup: bool,
    /// Seed of its arrivals and prompt picks.
    pub seed: u64,
    /// A short label for tables and the live view (`64 users`, `20 req/s`).
    pub label: String,
}

/// What a step sends.
#[derive(Debug, Clone)]
pub enum StepLoad {
    /// Closed-loop users.
    Users {
        /// When each user is active.
        slots: Vec<UserSlot>,
        /// The concurrency it aims at: the time-weighted mean of active
        /// users (the user count for a level).
        target: f64,
    },
    /// Open-loop arrivals.
    Open {
        /// Where arrival times come from.
        source: OpenSource,
        /// Cap and overflow.
        open: OpenLoop,
        /// The mean rate it aims at, req/s (`None` for a trace).
        target_rate: Option<f64>,
    },
}

/// Where open-loop arrival times come from.
#[derive(Debug, Clone)]
pub enum OpenSource {
    /// A rate.
    Rate(RateProfile),
    /// A trace: offsets (ns, already scaled) and the index of each entry's
    /// request in the trace's items.
    Trace(Arc<Vec<u64>>),
}

impl Step {
    /// The arrival offsets of an open-loop step, in ns from its start.
    pub fn arrivals(&self) -> Box<dyn Iterator<Item = u64> + Send> {
        let until = self.duration.map(|d| d.as_nanos() as u64);
        match &self.load {
            StepLoad::Open {
                source: OpenSource::Rate(profile),
                open,
                ..
            } => Box::new(Arrivals::new(
                open.process,
                *profile,
                self.seed,
                self.requests,
                until,
            )),
            StepLoad::Open {
                source: OpenSource::Trace(offsets),
                ..
            } => {
                let offsets = offsets.clone();
                let limit = self.requests.map_or(usize::MAX, |r| r as usize);
                Box::new(
                    (0..offsets.len())
                        .map(move |i| offsets[i])
                        .take_while(move |&t| until.is_none_or(|u| t < u))
                        .take(limit),
                )
            }
            StepLoad::Users { .. } => Box::new(std::iter::empty()),
        }
    }
}

fn users_step(
    phase: &Phase,
    index: u32,
    kind: &'static str,
    users: u32,
    stagger: Duration,
) -> Step {
    Step {
        phase: index,
        kind,
        load: StepLoad::Users {
            slots: users::level(users, stagger.as_nanos() as u64),
            target: f64::from(users),
        },
        duration: phase.duration,
        requests: phase.requests,
        warmup: phase.warmup,
        seed: phase.seed ^ u64::from(users),
        label: format!("{users} users"),
    }
}

/// A step at a constant open-loop `rate`.
pub fn rate_step(phase: &Phase, index: u32, kind: &'static str, rate: f64, open: OpenLoop) -> Step {
    Step {
        phase: index,
        kind,
        load: StepLoad::Open {
            source: OpenSource::Rate(RateProfile::constant(rate)),
            open,
            target_rate: Some(rate),
        },
        duration: phase.duration,
        requests: phase.requests,
        warmup: phase.warmup,
        seed: phase.seed ^ rate.to_bits(),
        label: format!("{} req/s", fmt_rate(rate)),
    }
}

/// A closed-loop step of `users` users for a sweep or search.
pub fn user_step(phase: &Phase, index: u32, kind: &'static str, users: u32) -> Step {
    users_step(phase, index, kind, users, Duration::ZERO)
}

/// A rate for labels: whole numbers without decimals.
pub fn fmt_rate(r: f64) -> String {
    if r.fract() == 0.0 && r < 1e9 {
        format!("{r:.0}")
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

/// The steps of a phase known before it runs. Sweeps over `auto` rates
/// and searches are planned as they go (see [`search`] and the runner);
/// for them this returns the first step only (the saturation step, or the
/// first probe). A replay phase needs its trace: `trace` holds its offsets.
pub fn expand(phase: &Phase, index: u32, trace: Option<Arc<Vec<u64>>>) -> Vec<Step> {
    match &phase.kind {
        PhaseKind::Users { levels, stagger } => levels
            .iter()
            .map(|&u| users_step(phase, index, "users", u, *stagger))
            .collect(),
        PhaseKind::Ramp { from, to, steps } => {
            let d = phase.duration.unwrap_or(Duration::ZERO).as_nanos() as u64;
            let slots = users::ramp(*from, *to, d, *steps);
            let target = users::mean_target(&slots, d);
            vec![Step {
                phase: index,
                kind: "ramp",
                load: StepLoad::Users { slots, target },
                duration: phase.duration,
                requests: phase.requests,
                warmup: phase.warmup,
                seed: phase.seed,
                label: format!("{from}→{to} users"),
            }]
        }
        PhaseKind::Rate { from, to, open } => {
            let d = phase.duration.map_or(1.0, |d| d.as_secs_f64());
            let profile = RateProfile {
                from: *from,
                to: *to,
                duration_s: d,
            };
            let label = if from == to {
                format!("{} req/s", fmt_rate(*from))
            } else {
                format!("{}→{} req/s", fmt_rate(*from), fmt_rate(*to))
            };
            vec![Step {
                phase: index,
                kind: "rate",
                load: StepLoad::Open {
                    source: OpenSource::Rate(profile),
                    open: *open,
                    target_rate: Some(profile.expected(d) / d),
                },
                duration: phase.duration,
                requests: phase.requests,
                warmup: phase.warmup,
                seed: phase.seed,
                label,
            }]
        }
        PhaseKind::Replay { open, speed, .. } => {
            let offsets = trace.unwrap_or_default();
            vec![Step {
                phase: index,
                kind: "replay",
                load: StepLoad::Open {
                    source: OpenSource::Trace(offsets),
                    open: *open,
                    target_rate: None,
                },
                duration: phase.duration,
                requests: phase.requests,
                warmup: phase.warmup,
                seed: phase.seed,
                label: format!("trace ×{}", fmt_rate(*speed)),
            }]
        }
        PhaseKind::Sweep { over, open } => match over {
            SweepOver::Rates(rates) => rates
                .iter()
                .map(|&r| rate_step(phase, index, "sweep", r, *open))
                .collect(),
            SweepOver::Users(users) => users
                .iter()
                .map(|&u| user_step(phase, index, "sweep", u))
                .collect(),
            SweepOver::Auto { saturate_users, .. } => {
                vec![user_step(phase, index, "saturate", *saturate_users)]
            }
        },
        PhaseKind::Search(s) => vec![match s.over {
            SearchOver::Rate => rate_step(phase, index, "search", s.start, s.open),
            SearchOver::Users => user_step(phase, index, "search", s.start as u32),
        }],
    }
}

/// The rates of an automatic sweep once the saturation step measured
/// `most` req/s: `points` rates evenly from `lowest` (default `most /
/// points`) up to `most`.
pub fn auto_rates(most: f64, points: u32, lowest: Option<f64>) -> Vec<f64> {
    if !(most.is_finite() && most > 0.0) {
        return Vec::new();
    }
    let points = points.max(2);
    let low = lowest.unwrap_or(most / f64::from(points)).min(most);
    (0..points)
        .map(|i| low + (most - low) * f64::from(i) / f64::from(points - 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Overflow;

    fn phase(kind: PhaseKind) -> Phase {
        Phase {
            kind,
            duration: Some(Duration::from_secs(10)),
            requests: None,
            warmup: false,
            seed: 1,
        }
    }

    #[test]
    fn a_users_phase_gives_one_step_per_level() {
        let p = phase(PhaseKind::Users {
            levels: crate::scenario::default_levels(),
            stagger: Duration::ZERO,
        });
        let steps = expand(&p, 0, None);
        assert_eq!(steps.len(), 28);
        assert_eq!(steps[0].label, "1 users");
        assert_eq!(steps[27].label, "982 users");
        match &steps[27].load {
            StepLoad::Users { slots, target } => {
                assert_eq!(slots.len(), 982);
                assert_eq!(*target, 982.0);
            }
            StepLoad::Open { .. } => panic!("closed loop expected"),
        }
    }

    #[test]
    fn a_rate_step_plans_its_arrivals() {
        let open = OpenLoop {
            process: Process::Constant,
            cap: Some(4),
            overflow: Overflow::Drop,
        };
        let p = phase(PhaseKind::Rate {
            from: 5.0,
            to: 5.0,
            open,
        });
        let steps = expand(&p, 2, None);
        assert_eq!(steps.len(), 1);
        let times: Vec<u64> = steps[0].arrivals().collect();
        assert_eq!(times.len(), 50);
        assert_eq!(times[1], 200_000_000);
        assert_eq!(steps[0].label, "5 req/s");
    }

    #[test]
    fn a_trace_step_stops_at_its_duration_and_request_count() {
        let mut p = phase(PhaseKind::Replay {
            path: "t.jsonl".into(),
            speed: 1.0,
            open: OpenLoop::default(),
        });
        p.duration = Some(Duration::from_millis(2500));
        let offsets = Arc::new(vec![0, 1_000_000_000, 2_000_000_000, 3_000_000_000]);
        let steps = expand(&p, 0, Some(offsets.clone()));
        assert_eq!(
            steps[0].arrivals().collect::<Vec<_>>(),
            vec![0, 1_000_000_000, 2_000_000_000]
        );
        p.duration = None;
        p.requests = Some(2);
        let steps = expand(&p, 0, Some(offsets));
        assert_eq!(steps[0].arrivals().count(), 2);
    }

    #[test]
    fn auto_sweep_rates_span_lowest_to_most() {
        assert_eq!(
            auto_rates(100.0, 5, None),
            vec![20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(auto_rates(10.0, 2, Some(4.0)), vec![4.0, 10.0]);
        assert!(auto_rates(0.0, 5, None).is_empty());
    }
}
