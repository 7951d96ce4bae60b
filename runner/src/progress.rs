//! What the terminal shows during a run: a progress bar per level and, every
//! `live.interval`, the original's live line (并发 / 问答/错误 / 平均延迟 /
//! 出字均速 / 总吞吐). When stderr is not a terminal the bars are hidden and
//! the lines are printed plainly.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::live::original::{OriginalLine, Record};
use crate::sample::Sample;
use crate::scenario::Lang;

const NS: f64 = 1e9;

/// The live view of a run.
pub struct LiveView {
    multi: MultiProgress,
    bar: Option<ProgressBar>,
    original: OriginalLine,
    lang: Lang,
    interval: u64,
    next_line: u64,
    level_ok: u64,
    level_errors: u64,
}

impl LiveView {
    /// A view printing the original's line every `interval`; `hidden` turns
    /// the bars off (tests, `--quiet`).
    pub fn new(interval: Duration, lang: Lang, hidden: bool) -> Self {
        let target = if hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr_with_hz(4)
        };
        LiveView {
            multi: MultiProgress::with_draw_target(target),
            bar: None,
            original: OriginalLine::new(),
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
    /// of levels is not known yet (sweeps and searches plan as they go).
    pub fn start_level(
        &mut self,
        index: usize,
        total: usize,
        label: &str,
        duration: Duration,
        now: u64,
    ) {
        self.original.reset();
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
        if let Some(bar) = &self.bar {
            bar.set_position(elapsed.as_secs());
            bar.set_message(format!(
                "in-flight {in_flight} · ok {} · err {}",
                self.level_ok, self.level_errors
            ));
        }
        if now >= self.next_line {
            self.next_line = now + self.interval;
            let line = self.line(now);
            self.println(&line);
        }
    }

    /// The original's live line now.
    pub fn line(&self, now: u64) -> String {
        let wall = chrono::Local::now().time();
        self.original.format(now as f64 / NS, wall, self.lang)
    }

    /// The level ended: prints its last line and clears its bar.
    pub fn end_level(&mut self, now: u64) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let line = self.line(now);
        self.println(&line);
    }
}
