//! What the terminal shows during a run: a progress bar per level and, every
//! `live.interval`, the lines `live.style` asks for: the original's live
//! line (并发 / 问答/错误 / 平均延迟 / 出字均速 / 总吞吐), exactly as it was,
//! and under it the modern line (in-flight against target, completed and
//! errors, TTFT p50/p99, TPOT p50, tokens/s, chars/s). When stderr is not a
//! terminal the bars are hidden and the lines are printed plainly.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::live::modern::modern_line;
use crate::live::original::{OriginalLine, Record};
use crate::live::tracker::ModernTracker;
use crate::sample::Sample;
use crate::scenario::{Lang, LiveStyle};

const NS: f64 = 1e9;

/// The live view of a run.
pub struct LiveView {
    multi: MultiProgress,
    bar: Option<ProgressBar>,
    original: OriginalLine,
    modern: ModernTracker,
    style: LiveStyle,
    in_flight: u64,
    lang: Lang,
    interval: u64,
    next_line: u64,
    level_ok: u64,
    level_errors: u64,
}

impl LiveView {
    /// A view printing the lines of `style` every `interval`; `hidden`
    /// turns the bars off (tests, `--quiet`).
    pub fn new(interval: Duration, lang: Lang, style: LiveStyle, hidden: bool) -> Self {
        let target = if hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr_with_hz(4)
        };
        LiveView {
            multi: MultiProgress::with_draw_target(target),
            bar: None,
            original: OriginalLine::new(),
            modern: ModernTracker::new(),
            style,
            in_flight: 0,
            lang,
            interval: interval.as_nanos() as u64,
            next_line: 0,
            level_ok: 0,
            level_errors: 0,
        }
    }

    /// Prints a line above the bars (or plainly when they are hidden).
    pub fn println(&self, line: &str) {
        if self.multi.is_hidden() {
            println!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }

    /// A level starts at `now` (run-clock ns); `total` is 0 when the number
    /// of levels is not known yet (sweeps and searches plan as they go);
    /// `users` is the concurrency it aims at (users, or the in-flight cap;
    /// 0 when it has none).
    pub fn start_level(
        &mut self,
        index: usize,
        total: usize,
        label: &str,
        users: u32,
        duration: Duration,
        now: u64,
    ) {
        self.original.reset();
        self.modern.start_level(users, now);
        self.in_flight = 0;
        self.level_ok = 0;
        self.level_errors = 0;
        self.next_line = now + self.interval;
        let bar = self.multi.add(ProgressBar::new(duration.as_secs().max(1)));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos:>4}/{len}s {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(if total > 0 {
            format!("level {}/{} {label}", index + 1, total)
        } else {
            format!("level {} {label}", index + 1)
        });
        self.bar = Some(bar);
    }

    /// One request ended.
    pub fn on_sample(&mut self, s: &Sample) {
        self.modern.record(s);
        let (Some(first), Some(last)) = (s.content.first(), s.content.last()) else {
            self.level_errors += u64::from(!s.ok());
            self.original.record_failure(s.user);
            return;
        };
        if !s.ok() {
            self.level_errors += 1;
            self.original.record_failure(s.user);
            return;
        }
        self.level_ok += 1;
        let since_sent = |t: u64| t.saturating_sub(s.sent) as f64 / NS;
        self.original.record_success(Record {
            user: s.user,
            collected_at: s.end as f64 / NS,
            first_chunk_latency: since_sent(first.at),
            chars: s.chars(),
            t_first_chunk: since_sent(first.at),
            t_last_chunk: since_sent(last.at),
            chunks: s.content.len() as u32,
        });
    }

    /// Called about once a second with the run-clock time, the level's
    /// elapsed seconds and the requests in flight.
    pub fn tick(&mut self, now: u64, elapsed: Duration, in_flight: u64) {
        self.in_flight = in_flight;
        if let Some(bar) = &self.bar {
            bar.set_position(elapsed.as_secs());
            bar.set_message(format!(
                "in-flight {in_flight} · ok {} · err {}",
                self.level_ok, self.level_errors
            ));
        }
        if now >= self.next_line {
            self.next_line = now + self.interval;
            for line in self.lines(now) {
                self.println(&line);
            }
        }
    }

    /// The original's live line now.
    pub fn line(&self, now: u64) -> String {
        let wall = chrono::Local::now().time();
        self.original.format(now as f64 / NS, wall, self.lang)
    }

    /// The lines `live.style` asks for at run-clock `now`, in print order:
    /// the original's, then the modern one. Starts the modern line's next
    /// rate window.
    pub fn lines(&mut self, now: u64) -> Vec<String> {
        let mut out = Vec::with_capacity(2);
        if matches!(self.style, LiveStyle::Original | LiveStyle::Both) {
            out.push(self.line(now));
        }
        if matches!(self.style, LiveStyle::Modern | LiveStyle::Both) {
            let stats = self.modern.line_stats(now, self.in_flight);
            out.push(modern_line(&stats, self.lang));
        }
        out
    }

    /// The level ended (its requests drained, `in_flight` still running):
    /// prints its last lines and clears its bar.
    pub fn end_level(&mut self, now: u64, in_flight: u64) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.in_flight = in_flight;
        for line in self.lines(now) {
            self.println(&line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{ContentEvent, Usage};

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    /// A success of `user` sent at `sent` s with `events` content events of
    /// 3 chars each, the first 200 ms after the send and then one per 20 ms.
    fn reply(user: u32, sent: u64, events: u64, usage: Option<u32>, tok: Option<u32>) -> Sample {
        let first = sent * S + 200 * MS;
        Sample {
            user,
            sent: sent * S,
            content: (0..events)
                .map(|i| ContentEvent {
                    at: first + i * 20 * MS,
                    chars: 3,
                })
                .collect(),
            usage: usage.map(|c| Usage {
                prompt_tokens: None,
                completion_tokens: Some(c),
            }),
            tokenizer_tokens: tok,
            end: first + (events - 1) * 20 * MS,
            ..Default::default()
        }
    }

    fn view(style: LiveStyle) -> LiveView {
        let mut v = LiveView::new(Duration::from_secs(10), Lang::En, style, true);
        v.start_level(0, 1, "4 users", 4, Duration::from_secs(60), 0);
        v
    }

    #[test]
    fn modern_line_carries_the_collected_figures() {
        let mut v = view(LiveStyle::Both);
        // Two replies of 11 events: TTFT 200 ms, 200 ms from first to last
        // event. The first has usage 21 tokens (TPOT 200/20 = 10 ms), the
        // second only a tokenizer count of 11 (TPOT 20 ms).
        v.on_sample(&reply(0, 0, 11, Some(21), Some(20)));
        v.on_sample(&reply(1, 1, 11, None, Some(11)));
        v.tick(9 * S, Duration::from_secs(9), 4);
        let lines = v.lines(10 * S);
        assert_eq!(lines.len(), 2, "{lines:?}");
        // The original's line is the one it always was.
        assert!(
            lines[0].ends_with("[users] 2 [done/errors] 2/0 [mean TTFT] 0.2s [per-user speed] 165.0 chars/s [throughput] measuring"),
            "{}",
            lines[0]
        );
        // 32 tokens and 66 chars over the 10 s since the level started.
        assert_eq!(
            lines[1],
            "00:10 · in-flight 4/4 · done 2 · err 0 (0.0%) · TTFT p50 200ms p99 200ms · \
             TPOT p50 10.0ms · 3.2 tok/s · 6.6 chars/s"
        );
    }

    #[test]
    fn chunk_counts_are_never_called_tokens() {
        let mut v = view(LiveStyle::Modern);
        v.on_sample(&reply(0, 0, 11, None, None));
        let lines = v.lines(5 * S);
        assert_eq!(lines.len(), 1, "modern only: {lines:?}");
        assert!(
            lines[0].ends_with("2.2 chunks/s · 6.6 chars/s"),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn original_style_prints_only_the_original_line() {
        let mut v = view(LiveStyle::Original);
        v.on_sample(&reply(0, 0, 11, None, None));
        let lines = v.lines(5 * S);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].contains("[users] 1 [done/errors] 1/0"),
            "{}",
            lines[0]
        );
    }
}
