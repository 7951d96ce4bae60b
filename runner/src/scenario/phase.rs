//! The validated load: phases run in order, each a shape of load. Built by
//! `scenario::load_section` from the raw `load` section.

use std::path::PathBuf;
use std::time::Duration;

use super::LengthDist;
use crate::schedule::Process;

/// The load: phases run in order, with a pause between two measured steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// At least one phase.
    pub phases: Vec<Phase>,
    /// Pause between two steps (levels, sweep points, probes).
    pub pause: Duration,
    /// How long a closed-loop user waits after a failed request before its
    /// next one.
    pub failure_backoff: Duration,
    /// Stop the ramp after a level that fails the original's rules.
    pub early_stop: bool,
    /// What happens to requests still in flight when a step ends.
    pub drain: Drain,
    /// Think time (ms) before a session's later turns whose test-set line
    /// gives none.
    pub think_ms: Option<LengthDist>,
}

impl Load {
    /// The most users (or in-flight cap) any phase may hold at once: sizes
    /// the open-file check and the plugin pool.
    pub fn most_in_flight(&self) -> u32 {
        self.phases
            .iter()
            .map(Phase::most_in_flight)
            .max()
            .unwrap_or(1)
    }
}

/// What happens to requests still in flight when a step's load ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Let them finish, for at most this long; then cancel the rest.
    Wait(Duration),
    /// Cancel them at once (class `cancelled`, not a server error).
    Cancel,
}

/// One phase of the load.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// What load it applies.
    pub kind: PhaseKind,
    /// How long each step of it lasts (`None`: until `requests`).
    pub duration: Option<Duration>,
    /// How many requests each step sends at most (`None`: until `duration`).
    pub requests: Option<u64>,
    /// Excluded from every headline figure.
    pub warmup: bool,
    /// Seed of the arrivals and of the prompts drawn.
    pub seed: u64,
}

impl Phase {
    /// One line for `runner validate`: `users 1, 4, 16 × 60s`.
    pub fn describe(&self) -> String {
        let rate = crate::schedule::fmt_rate;
        let what = match &self.kind {
            PhaseKind::Users { levels, .. } => format!(
                "users {}",
                levels
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            PhaseKind::Ramp { from, to, .. } => format!("ramp {from}→{to} users"),
            PhaseKind::Rate { from, to, open } if from == to => {
                format!("rate {} req/s {}", rate(*from), open.process.name())
            }
            PhaseKind::Rate { from, to, open } => {
                format!(
                    "rate {}→{} req/s {}",
                    rate(*from),
                    rate(*to),
                    open.process.name()
                )
            }
            PhaseKind::Replay { path, speed, .. } => {
                format!("replay {} ×{}", path.display(), rate(*speed))
            }
            PhaseKind::Sweep { over, .. } => match over {
                SweepOver::Rates(r) => format!(
                    "sweep {} req/s",
                    r.iter().map(|x| rate(*x)).collect::<Vec<_>>().join(", ")
                ),
                SweepOver::Users(u) => format!(
                    "sweep {} users",
                    u.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                ),
                SweepOver::Auto { points, .. } => format!("sweep auto, {points} rates"),
            },
            PhaseKind::Search(s) => format!(
                "search {} up to {}",
                match s.over {
                    SearchOver::Rate => "rate",
                    SearchOver::Users => "users",
                },
                rate(s.max)
            ),
        };
        let mut end = Vec::new();
        if let Some(d) = self.duration {
            end.push(format!("{}s", rate(d.as_secs_f64())));
        }
        if let Some(r) = self.requests {
            end.push(format!("{r} requests"));
        }
        let warm = if self.warmup { " (warm-up)" } else { "" };
        format!("{what} × {}{warm}", end.join(" or "))
    }

    fn most_in_flight(&self) -> u32 {
        match &self.kind {
            PhaseKind::Users { levels, .. } => levels.iter().copied().max().unwrap_or(1),
            PhaseKind::Ramp { from, to, .. } => (*from).max(*to),
            PhaseKind::Rate { open, .. } | PhaseKind::Replay { open, .. } => {
                open.cap.unwrap_or(1024)
            }
            PhaseKind::Sweep { over, open } => match over {
                SweepOver::Users(u) => u.iter().copied().max().unwrap_or(1),
                SweepOver::Rates(_) => open.cap.unwrap_or(1024),
                SweepOver::Auto { saturate_users, .. } => {
                    (*saturate_users).max(open.cap.unwrap_or(1024))
                }
            },
            PhaseKind::Search(s) => match s.over {
                SearchOver::Users => s.max as u32,
                SearchOver::Rate => s.open.cap.unwrap_or(1024),
            },
        }
    }
}

/// The shapes of load.
#[derive(Debug, Clone, PartialEq)]
pub enum PhaseKind {
    /// Closed loop: one level per user count, each user sending its next
    /// request when the last one ends.
    Users {
        /// User counts, one level each.
        levels: Vec<u32>,
        /// Users start evenly over this spread (zero: together).
        stagger: Duration,
    },
    /// Closed loop with a user count that moves from `from` to `to`.
    Ramp {
        /// Users at the start.
        from: u32,
        /// Users at the end.
        to: u32,
        /// In this many equal steps (`None`: linearly).
        steps: Option<u32>,
    },
    /// Open loop: arrivals at a rate, constant or ramping.
    Rate {
        /// Requests per second at the start of the phase.
        from: f64,
        /// Requests per second at its end (equal to `from`: constant).
        to: f64,
        /// How arrivals are drawn, and the in-flight cap.
        open: OpenLoop,
    },
    /// Open loop: requests at the offsets of a trace file.
    Replay {
        /// The trace (JSONL).
        path: PathBuf,
        /// Replay speed: offsets are divided by this.
        speed: f64,
        /// The in-flight cap (the process is not used).
        open: OpenLoop,
    },
    /// One step per rate or user count.
    Sweep {
        /// What varies.
        over: SweepOver,
        /// Arrivals of rate steps.
        open: OpenLoop,
    },
    /// The highest rate or user count that meets the SLOs.
    Search(SearchSpec),
}

/// Open-loop settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenLoop {
    /// The arrival process.
    pub process: Process,
    /// At most this many requests in flight.
    pub cap: Option<u32>,
    /// What happens to an arrival the cap cannot send now.
    pub overflow: Overflow,
}

impl Default for OpenLoop {
    fn default() -> Self {
        OpenLoop {
            process: Process::Poisson,
            cap: None,
            overflow: Overflow::Drop,
        }
    }
}

/// What happens to an arrival when the in-flight cap is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Not sent; counted as `dropped`.
    Drop,
    /// Sent when a slot frees; the wait shows in `queue_delay`.
    Queue,
}

/// What a sweep varies.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepOver {
    /// Open-loop rates, req/s.
    Rates(Vec<f64>),
    /// Closed-loop user counts.
    Users(Vec<u32>),
    /// Measure the most req/s the target serves with `saturate_users`
    /// closed-loop users, then `points` rates from `lowest` (default: a
    /// `points`-th of the most) up to that most.
    Auto {
        /// Rates to measure after the saturation step.
        points: u32,
        /// The lowest rate; `None`: the most divided by `points`.
        lowest: Option<f64>,
        /// Users of the saturation step.
        saturate_users: u32,
    },
}

/// What a search varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOver {
    /// Open-loop rate, req/s.
    Rate,
    /// Closed-loop users.
    Users,
}

/// An SLO search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchSpec {
    /// What varies.
    pub over: SearchOver,
    /// The first probe.
    pub start: f64,
    /// The highest value probed.
    pub max: f64,
    /// Relative precision of the answer (0.05: within 5 %).
    pub precision: f64,
    /// A probe passes when at least this share of its requests is good
    /// (succeeded and met every SLO).
    pub min_good: f64,
    /// Arrivals of rate probes.
    pub open: OpenLoop,
}
