//! The original tool's rules for ending its ramp early. It judged a level by
//! its key metrics and stopped when the server was clearly past its limit;
//! here they are checked on each finished level's figures.

use crate::results::LevelResult;

/// Most errors / requests a level may have.
pub const MAX_ERROR_RATIO: f64 = 0.8;
/// Most mean time to first token, ms.
pub const MAX_MEAN_TTFT_MS: f64 = 100_000.0;
/// Least mean per-user speed, chars/s.
pub const MIN_USER_CHARS_PER_S: f64 = 1.0;

/// Why the ramp should stop after this level, or `None` to go on.
pub fn original_rules(l: &LevelResult) -> Option<String> {
    if l.requests > 0 && l.error_rate > MAX_ERROR_RATIO {
        return Some(format!(
            "level {} ({} users): errors / requests = {}/{} = {:.2} > {MAX_ERROR_RATIO}",
            l.index + 1,
            l.users,
            l.errors,
            l.requests,
            l.error_rate
        ));
    }
    if let Some(t) = l.ttft_ms
        && t.mean > MAX_MEAN_TTFT_MS
    {
        return Some(format!(
            "level {} ({} users): mean TTFT {:.1} s > {} s",
            l.index + 1,
            l.users,
            t.mean / 1000.0,
            MAX_MEAN_TTFT_MS / 1000.0
        ));
    }
    if let Some(v) = l.user_chars_per_s
        && v.mean < MIN_USER_CHARS_PER_S
    {
        return Some(format!(
            "level {} ({} users): mean per-user speed {:.2} chars/s < {MIN_USER_CHARS_PER_S}",
            l.index + 1,
            l.users,
            v.mean
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::LevelStats;
    use crate::sample::{ContentEvent, ErrorClass, Failure, Sample};
    use crate::scenario::Slo;

    const S: u64 = 1_000_000_000;

    fn level(samples: &[Sample]) -> LevelResult {
        let mut l = LevelStats::new(0, 1, 0, 1000 * S, Slo::default());
        for s in samples {
            l.add(s);
        }
        l.finish(1000.0, (1.0, 1))
    }

    fn ok(ttft_s: u64, span_s: u64, chars: u32) -> Sample {
        Sample {
            content: vec![
                ContentEvent {
                    at: ttft_s * S,
                    chars,
                },
                ContentEvent {
                    at: (ttft_s + span_s) * S,
                    chars,
                },
            ],
            end: (ttft_s + span_s) * S,
            ..Default::default()
        }
    }

    fn failed() -> Sample {
        Sample {
            failure: Some(Failure {
                class: ErrorClass::Connect,
                message: "refused".into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn each_rule_and_its_boundary() {
        // Healthy: 1 s TTFT, 20 chars over 1 s.
        assert_eq!(original_rules(&level(&[ok(1, 1, 10)])), None);
        // 4 of 5 failed = 0.8: not more than 0.8, goes on; 5 of 6 stops.
        let mut s = vec![failed(), failed(), failed(), failed(), ok(1, 1, 10)];
        assert_eq!(original_rules(&level(&s)), None);
        s.push(failed());
        assert!(
            original_rules(&level(&s))
                .unwrap()
                .contains("errors / requests = 5/6")
        );
        // Mean TTFT 101 s.
        assert!(
            original_rules(&level(&[ok(101, 1, 10)]))
                .unwrap()
                .contains("mean TTFT 101.0 s")
        );
        // 2 chars over 4 s = 0.5 chars/s.
        assert!(
            original_rules(&level(&[ok(1, 4, 1)]))
                .unwrap()
                .contains("per-user speed 0.50")
        );
    }
}
