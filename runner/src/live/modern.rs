//! The runner's own compact live line, next to the original's:
//!
//! ```text
//! 02:05 · in-flight 128/128 · done 5123 · err 0 (0.0%) · TTFT p50 201ms p99 204ms · TPOT p50 20.1ms · 3150 tok/s · 4820 chars/s
//! ```
//!
//! It shows what the original line cannot: the in-flight count against the
//! target (so a level that never reaches its concurrency shows at once), and
//! latency percentiles rather than means. A figure not known yet prints `-`.

use std::fmt::Write as _;

use crate::scenario::Lang;

/// The figures of one modern live line, gathered by the metrics stage.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ModernStats {
    /// Requests in flight now.
    pub in_flight: u64,
    /// The concurrency the current level aims at.
    pub target_users: u32,
    /// Requests that ended, successes and errors alike (as the original's
    /// `问答` counts them).
    pub completed: u64,
    /// Requests among `completed` that failed.
    pub errors: u64,
    /// Median time to first token, in milliseconds.
    pub ttft_p50_ms: Option<f64>,
    /// 99th percentile time to first token, in milliseconds.
    pub ttft_p99_ms: Option<f64>,
    /// Median time per output token, in milliseconds.
    pub tpot_p50_ms: Option<f64>,
    /// Output tokens per second over the recent window.
    pub tokens_per_s: Option<f64>,
    /// True when no request of the window had a token count (no usage, no
    /// tokenizer): `tokens_per_s` then counts content events and is
    /// labelled `chunks/s`, never tokens.
    pub chunks_only: bool,
    /// Output characters per second over the recent window.
    pub chars_per_s: Option<f64>,
    /// Seconds since the level (or run) started.
    pub elapsed_s: f64,
}

/// Labels of the line in one language.
struct Labels {
    in_flight: &'static str,
    done: &'static str,
    errors: &'static str,
    ttft: &'static str,
    tpot: &'static str,
    tokens: &'static str,
    chunks: &'static str,
    chars: &'static str,
}

const EN: Labels = Labels {
    in_flight: "in-flight",
    done: "done",
    errors: "err",
    ttft: "TTFT",
    tpot: "TPOT",
    tokens: "tok/s",
    chunks: "chunks/s",
    chars: "chars/s",
};

const ZH: Labels = Labels {
    in_flight: "在途",
    done: "完成",
    errors: "错误",
    ttft: "首字延迟",
    tpot: "每token",
    tokens: "token/秒",
    chunks: "chunks/秒",
    chars: "字/秒",
};

/// Formats the modern live line in `lang`.
pub fn modern_line(s: &ModernStats, lang: Lang) -> String {
    let l = match lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    };
    let error_share = if s.completed > 0 {
        format!("{:.1}%", s.errors as f64 * 100.0 / s.completed as f64)
    } else {
        "-".to_owned()
    };
    let mut line = String::with_capacity(160);
    // `write!` into a String cannot fail.
    let _ = write!(
        line,
        "{} · {} {}/{} · {} {} · {} {} ({}) · {} p50 {} p99 {} · {} p50 {} · {} {} · {} {}",
        elapsed(s.elapsed_s),
        l.in_flight,
        s.in_flight,
        s.target_users,
        l.done,
        s.completed,
        l.errors,
        s.errors,
        error_share,
        l.ttft,
        ms(s.ttft_p50_ms),
        ms(s.ttft_p99_ms),
        l.tpot,
        ms(s.tpot_p50_ms),
        rate(s.tokens_per_s),
        if s.chunks_only { l.chunks } else { l.tokens },
        rate(s.chars_per_s),
        l.chars,
    );
    line
}

/// `mm:ss`, or `h:mm:ss` from one hour on; `-` for a nonsense value.
fn elapsed(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "-".to_owned();
    }
    let total = s as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{sec:02}")
    } else {
        format!("{m:02}:{sec:02}")
    }
}

/// Milliseconds with as many decimals as are worth reading: `201ms`,
/// `20.1ms`, `0.35ms`.
fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() && v.abs() >= 100.0 => format!("{v:.0}ms"),
        Some(v) if v.is_finite() && v.abs() >= 1.0 => format!("{v:.1}ms"),
        Some(v) if v.is_finite() => format!("{v:.2}ms"),
        _ => "-".to_owned(),
    }
}

/// A rate: whole units from 100 on, one decimal below.
fn rate(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() && v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.is_finite() => format!("{v:.1}"),
        _ => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> ModernStats {
        ModernStats {
            in_flight: 128,
            target_users: 128,
            completed: 5123,
            errors: 0,
            ttft_p50_ms: Some(201.2),
            ttft_p99_ms: Some(204.0),
            tpot_p50_ms: Some(20.14),
            tokens_per_s: Some(3150.4),
            chars_per_s: Some(4819.6),
            chunks_only: false,
            elapsed_s: 125.9,
        }
    }

    #[test]
    fn english_full() {
        assert_eq!(
            modern_line(&full(), Lang::En),
            "02:05 · in-flight 128/128 · done 5123 · err 0 (0.0%) · TTFT p50 201ms p99 204ms · \
             TPOT p50 20.1ms · 3150 tok/s · 4820 chars/s"
        );
    }

    #[test]
    fn chinese_full() {
        assert_eq!(
            modern_line(&full(), Lang::Zh),
            "02:05 · 在途 128/128 · 完成 5123 · 错误 0 (0.0%) · 首字延迟 p50 201ms p99 204ms · \
             每token p50 20.1ms · 3150 token/秒 · 4820 字/秒"
        );
    }

    #[test]
    fn missing_values_are_dashes() {
        let s = ModernStats {
            in_flight: 3,
            target_users: 16,
            elapsed_s: 3725.0,
            ..Default::default()
        };
        assert_eq!(
            modern_line(&s, Lang::En),
            "1:02:05 · in-flight 3/16 · done 0 · err 0 (-) · TTFT p50 - p99 - · TPOT p50 - · \
             - tok/s · - chars/s"
        );
        assert_eq!(
            modern_line(&s, Lang::Zh),
            "1:02:05 · 在途 3/16 · 完成 0 · 错误 0 (-) · 首字延迟 p50 - p99 - · 每token p50 - · \
             - token/秒 · - 字/秒"
        );
    }

    #[test]
    fn error_share_and_small_values() {
        let s = ModernStats {
            in_flight: 1,
            target_users: 1,
            completed: 8,
            errors: 1,
            ttft_p50_ms: Some(0.349),
            ttft_p99_ms: Some(f64::NAN),
            tpot_p50_ms: Some(1.0),
            tokens_per_s: Some(99.94),
            chars_per_s: Some(0.0),
            chunks_only: true,
            elapsed_s: f64::INFINITY,
        };
        assert_eq!(
            modern_line(&s, Lang::En),
            "- · in-flight 1/1 · done 8 · err 1 (12.5%) · TTFT p50 0.35ms p99 - · TPOT p50 1.0ms · \
             99.9 chunks/s · 0.0 chars/s"
        );
    }
}
