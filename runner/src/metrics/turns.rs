//! Figures by turn index for multi-turn sessions: TTFT by turn shows
//! whether the server reuses the shared history (prefix caching).

use std::collections::BTreeMap;

use super::summary::Dist;
use crate::results::TurnStats;
use crate::sample::Sample;

/// Turns past this index are folded into it, so a runaway session cannot
/// grow the table.
const MAX_TURN: u32 = 63;

/// Per-turn aggregate of one level.
#[derive(Debug, Clone, Default)]
pub struct ByTurn {
    turns: BTreeMap<u32, (u64, u64, Dist, Dist)>,
    multi: bool,
}

impl ByTurn {
    /// Folds one request in.
    pub fn add(&mut self, s: &Sample) {
        self.multi |= s.turn > 0;
        let t = self
            .turns
            .entry(s.turn.min(MAX_TURN))
            .or_insert_with(|| (0, 0, Dist::new(1000.0), Dist::new(1000.0)));
        t.0 += 1;
        if !s.ok() {
            t.1 += 1;
            return;
        }
        if let Some(first) = s.content.first() {
            t.2.record(first.at.saturating_sub(s.sent) as f64 / 1e6);
        }
        t.3.record(s.end.saturating_sub(s.sent) as f64 / 1e6);
    }

    /// The table; empty unless some request was a later turn.
    pub fn finish(&self) -> Vec<TurnStats> {
        if !self.multi {
            return Vec::new();
        }
        self.turns
            .iter()
            .map(|(&turn, (requests, errors, ttft, e2e))| TurnStats {
                turn,
                requests: *requests,
                errors: *errors,
                ttft_ms: ttft.summary(),
                e2e_ms: e2e.summary(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::ContentEvent;

    fn sample(turn: u32, sent_ms: u64, first_ms: u64) -> Sample {
        Sample {
            turn,
            sent: sent_ms * 1_000_000,
            content: vec![ContentEvent {
                at: first_ms * 1_000_000,
                chars: 1,
            }],
            end: (first_ms + 10) * 1_000_000,
            ..Default::default()
        }
    }

    #[test]
    fn ttft_by_turn() {
        let mut b = ByTurn::default();
        assert!(b.finish().is_empty());
        b.add(&sample(0, 0, 200));
        assert!(b.finish().is_empty(), "single turns give no table");
        b.add(&sample(0, 1000, 1200));
        b.add(&sample(1, 2000, 2050));
        let t = b.finish();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].requests, 2);
        assert!((t[0].ttft_ms.unwrap().mean - 200.0).abs() < 0.5);
        assert!((t[1].ttft_ms.unwrap().mean - 50.0).abs() < 0.1);
        assert!((t[1].e2e_ms.unwrap().mean - 60.0).abs() < 0.1);
    }
}
