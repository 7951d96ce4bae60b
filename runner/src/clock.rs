//! The run clock: one monotonic origin per run, times as u64 nanoseconds.

use std::time::{Duration, Instant};

/// A monotonic origin. Copy it freely; every reading is relative to it.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    origin: Instant,
}

impl RunClock {
    /// Starts a clock at the current instant.
    pub fn start() -> Self {
        RunClock {
            origin: Instant::now(),
        }
    }

    /// Nanoseconds since the origin.
    #[inline]
    pub fn now(&self) -> u64 {
        self.at(Instant::now())
    }

    /// Nanoseconds from the origin to `t` (0 when `t` is earlier).
    #[inline]
    pub fn at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.origin).as_nanos() as u64
    }

    /// The instant `ns` nanoseconds after the origin.
    pub fn instant(&self, ns: u64) -> Instant {
        self.origin + Duration::from_nanos(ns)
    }
}
