//! Closed-loop user slots: when each user of a phase starts and (for a
//! ramp down) stops. A pure function of the phase's shape.
//!
//! - A `users` level of N starts every user at 0, or staggered: user i at
//!   `i · spread / N`.
//! - A linear `ramp` from A to B users over T holds
//!   `n(t) = A + (B − A) · t / T` users; user i (0-based) is active while
//!   `n(t) ≥ i + 1`. Going up, user i ≥ A starts at
//!   `t = (i + 1 − A) · T / (B − A)`; going down, user i ≥ B stops at
//!   `t = (A − i − 1) · T / (A − B)`, where `n(t)` falls below `i + 1`.
//! - A ramp in `k` steps holds `A + round((B − A) · j / (k − 1))` users in
//!   the j-th of k equal intervals.

/// When one user is active, in ns from the phase start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSlot {
    /// When the user sends its first request.
    pub start: u64,
    /// When the user stops starting requests (`None`: at the phase end).
    pub stop: Option<u64>,
}

/// N users, started together (`spread` 0) or evenly over `spread_ns`.
pub fn level(users: u32, spread_ns: u64) -> Vec<UserSlot> {
    (0..users)
        .map(|i| UserSlot {
            start: if users == 0 {
                0
            } else {
                (u128::from(spread_ns) * u128::from(i) / u128::from(users)) as u64
            },
            stop: None,
        })
        .collect()
}

/// A ramp from `from` to `to` users over `duration_ns`, linear
/// (`steps` = `None`) or in `steps` equal steps (at least 2).
pub fn ramp(from: u32, to: u32, duration_ns: u64, steps: Option<u32>) -> Vec<UserSlot> {
    let most = from.max(to);
    let d = duration_ns as f64;
    (0..most)
        .map(|i| {
            let count_needed = i + 1;
            match steps {
                None => {
                    let (a, b) = (f64::from(from), f64::from(to));
                    if to >= from {
                        let start = if count_needed <= from {
                            0
                        } else {
                            ((f64::from(count_needed) - a) * d / (b - a)).round() as u64
                        };
                        UserSlot { start, stop: None }
                    } else {
                        let stop = if count_needed <= to {
                            None
                        } else {
                            Some(((a - f64::from(count_needed)) * d / (a - b)).round() as u64)
                        };
                        UserSlot { start: 0, stop }
                    }
                }
                Some(k) => {
                    let k = k.max(2);
                    let at_step = |j: u32| -> u32 {
                        let frac = f64::from(j) / f64::from(k - 1);
                        (f64::from(from) + (f64::from(to) - f64::from(from)) * frac).round() as u32
                    };
                    let step_ns =
                        |j: u32| (u128::from(duration_ns) * u128::from(j) / u128::from(k)) as u64;
                    // First step at which the user is counted, and first
                    // step after that at which it is not.
                    let first = (0..k).find(|&j| at_step(j) >= count_needed);
                    match first {
                        None => UserSlot {
                            start: duration_ns,
                            stop: Some(duration_ns),
                        },
                        Some(j0) => {
                            let stop = (j0..k).find(|&j| at_step(j) < count_needed).map(step_ns);
                            UserSlot {
                                start: step_ns(j0),
                                stop,
                            }
                        }
                    }
                }
            }
        })
        .collect()
}

/// Users active at `t` ns: the ramp's `n(t)` as the slots realise it.
pub fn active_at(slots: &[UserSlot], t: u64) -> usize {
    slots
        .iter()
        .filter(|s| s.start <= t && s.stop.is_none_or(|stop| t < stop))
        .count()
}

/// The time-weighted mean of active users over `[0, duration_ns]`: the
/// concurrency a phase aims at.
pub fn mean_target(slots: &[UserSlot], duration_ns: u64) -> f64 {
    if duration_ns == 0 {
        return slots.len() as f64;
    }
    let total: f64 = slots
        .iter()
        .map(|s| {
            let stop = s.stop.unwrap_or(duration_ns).min(duration_ns);
            stop.saturating_sub(s.start.min(duration_ns)) as f64
        })
        .sum();
    total / duration_ns as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_level_starts_together_or_staggered() {
        assert!(level(3, 0).iter().all(|s| s.start == 0 && s.stop.is_none()));
        let starts: Vec<u64> = level(4, 2 * S).iter().map(|s| s.start).collect();
        assert_eq!(starts, vec![0, S / 2, S, 3 * S / 2]);
    }

    #[test]
    fn a_linear_ramp_up_adds_users_at_even_times() {
        // 2 → 6 over 4 s: users 0 and 1 at once, then one per second.
        let slots = ramp(2, 6, 4 * S, None);
        let starts: Vec<u64> = slots.iter().map(|s| s.start).collect();
        assert_eq!(starts, vec![0, 0, S, 2 * S, 3 * S, 4 * S]);
        assert!(slots.iter().all(|s| s.stop.is_none()));
        assert_eq!(active_at(&slots, 0), 2);
        assert_eq!(active_at(&slots, 2 * S + 1), 4);
        // Mean target: 2 users all along plus 3 + 2 + 1 + 0 user-seconds.
        assert!((mean_target(&slots, 4 * S) - (8.0 + 6.0) / 4.0).abs() < 1e-9);
    }

    #[test]
    fn a_linear_ramp_down_stops_users() {
        // 4 → 1 over 3 s: user 3 stops at 0 (n(t) = 4 holds only at 0),
        // user 2 at 1 s, user 1 at 2 s; user 0 runs on.
        let slots = ramp(4, 1, 3 * S, None);
        let stops: Vec<Option<u64>> = slots.iter().map(|s| s.stop).collect();
        assert_eq!(stops, vec![None, Some(2 * S), Some(S), Some(0)]);
        assert_eq!(active_at(&slots, S / 2), 3, "n(0.5 s) = 3.5");
        assert_eq!(active_at(&slots, 3 * S / 2), 2);
    }

    #[test]
    fn a_stepped_ramp_holds_each_step() {
        // 1 → 7 in 4 steps over 8 s: 1, 3, 5, 7 users for 2 s each.
        let slots = ramp(1, 7, 8 * S, Some(4));
        let counts: Vec<usize> = [0, 2, 4, 6]
            .iter()
            .map(|&t| active_at(&slots, t * S))
            .collect();
        assert_eq!(counts, vec![1, 3, 5, 7]);
        assert_eq!(active_at(&slots, 2 * S - 1), 1);
        // And down: 6 → 2 in 3 steps: 6, 4, 2.
        let down = ramp(6, 2, 9 * S, Some(3));
        let counts: Vec<usize> = [0, 3, 6].iter().map(|&t| active_at(&down, t * S)).collect();
        assert_eq!(counts, vec![6, 4, 2]);
    }
}
