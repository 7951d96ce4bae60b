//! The original tool's live line, kept character for character:
//!
//! ```text
//! 23:16:06 [并发] 1 [问答/错误] 3/0 [平均延迟] 0.1秒 [出字均速] 每秒56.4字 [总吞吐] 59.5 字/秒
//! ```
//!
//! [`OriginalLine`] is a pure model: records go in as requests end, and
//! [`OriginalLine::format`] takes the run clock and the wall time as
//! arguments, so the line is tested without a clock. What each field means
//! (ORIGINAL.md, "The live line"):
//!
//! - `[并发]` (users): how many users have reported at least one record,
//!   success or failure. It is not the in-flight count.
//! - `[问答/错误]` (done/errors): cumulative records (successes + failures) /
//!   cumulative failures, since the level started.
//! - `[平均延迟]` (mean TTFT): mean time to the first chunk over the window.
//! - `[出字均速]` (per-user speed): mean over the window of each request's
//!   `chars / (t_last_chunk − t_first_chunk)`, or `chars / t_last_chunk` when
//!   only one chunk came.
//! - `[总吞吐]` (throughput): characters in the window / (now − collection
//!   time of the oldest window record), shown once the window spans more than
//!   100 s or holds more than 100 records; `统计中` ("measuring") before.
//!
//! The window is the last [`WINDOW`] successful records. Every figure starts
//! over when a level starts ([`OriginalLine::reset`]), as the original built a
//! new display per level.
//!
//! Two choices where the original gives no answer:
//! - With fewer than two records in the window the original printed the line
//!   cut short after `[问答/错误]`. We print every field and show the ones not
//!   yet known as `统计中`, so the line keeps one shape.
//! - The original divided by zero (and its display stopped) when a request's
//!   chunks all carried one timestamp. Here, frames of one network read share
//!   a timestamp, so that case is ordinary: such a request counts as one chunk
//!   (`chars / t_last_chunk`). A request whose speed is still undefined
//!   (`t_last_chunk` = 0) is left out of the speed mean, and a throughput over
//!   a window of zero length is shown as `统计中`.

use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;

use chrono::{NaiveTime, Timelike};

use crate::scenario::Lang;

/// How many successful records the sliding window holds.
pub const WINDOW: usize = 500;

/// The window needs this many records before latency and speed are shown.
pub const MIN_RECORDS_FOR_MEANS: usize = 2;

/// Throughput is shown once the window spans more than this many seconds...
pub const THROUGHPUT_MIN_SPAN_S: f64 = 100.0;

/// ...or holds more than this many records.
pub const THROUGHPUT_MIN_RECORDS: usize = 100;

/// One successful request, as the live line needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record {
    /// The user (worker) that sent the request.
    pub user: u32,
    /// When the record was collected, in seconds on the run clock (the same
    /// clock as `now` in [`OriginalLine::format`]).
    pub collected_at: f64,
    /// Time from request start to the first chunk, in seconds.
    pub first_chunk_latency: f64,
    /// Characters of output (Unicode scalar values: a Chinese character is 1).
    pub chars: u64,
    /// Arrival of the first chunk, in seconds since request start.
    pub t_first_chunk: f64,
    /// Arrival of the last chunk, in seconds since request start.
    pub t_last_chunk: f64,
    /// How many chunks carried text.
    pub chunks: u32,
}

impl Record {
    /// This request's output speed in chars/s, by the original's rule:
    /// `chars / (t_last − t_first)`, or `chars / t_last` for one chunk (or
    /// several sharing one timestamp). `None` when that is undefined.
    pub fn speed(&self) -> Option<f64> {
        let spread = self.t_last_chunk - self.t_first_chunk;
        let seconds = if self.chunks > 1 && spread > 0.0 {
            spread
        } else {
            self.t_last_chunk
        };
        let speed = self.chars as f64 / seconds;
        (seconds > 0.0 && speed.is_finite()).then_some(speed)
    }
}

/// The figures of one live line, before formatting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// Users that reported at least once (`[并发]`).
    pub users: usize,
    /// Successes + failures recorded since the level started.
    pub queries: u64,
    /// Failures recorded since the level started.
    pub failures: u64,
    /// Mean first-chunk latency over the window, in seconds; `None` while
    /// the window holds fewer than [`MIN_RECORDS_FOR_MEANS`] records.
    pub mean_latency_s: Option<f64>,
    /// Mean per-request speed over the window, in chars/s; `None` while the
    /// window is too small or no record has a defined speed.
    pub mean_speed: Option<f64>,
    /// Window characters / window span, in chars/s; `None` while measuring.
    pub throughput: Option<f64>,
}

/// The original's live statistics for one level.
#[derive(Debug, Clone, Default)]
pub struct OriginalLine {
    window: VecDeque<Record>,
    queries: u64,
    failures: u64,
    users: HashSet<u32>,
}

impl OriginalLine {
    /// Empty statistics.
    pub fn new() -> Self {
        OriginalLine {
            window: VecDeque::with_capacity(WINDOW),
            ..Default::default()
        }
    }

    /// Counts a successful request and slides it into the window.
    pub fn record_success(&mut self, r: Record) {
        self.queries += 1;
        self.users.insert(r.user);
        if self.window.len() == WINDOW {
            self.window.pop_front();
        }
        self.window.push_back(r);
    }

    /// Counts a failed request of `user`. Failures never enter the window.
    pub fn record_failure(&mut self, user: u32) {
        self.queries += 1;
        self.failures += 1;
        self.users.insert(user);
    }

    /// Forgets everything: a new level starts.
    pub fn reset(&mut self) {
        self.window.clear();
        self.queries = 0;
        self.failures = 0;
        self.users.clear();
    }

    /// The records now in the window, oldest first.
    pub fn window(&self) -> impl ExactSizeIterator<Item = &Record> {
        self.window.iter()
    }

    /// The line's figures at `now` (seconds on the run clock).
    pub fn snapshot(&self, now: f64) -> Snapshot {
        let n = self.window.len();
        let (mut mean_latency_s, mut mean_speed, mut throughput) = (None, None, None);
        if n >= MIN_RECORDS_FOR_MEANS {
            let latency: f64 = self.window.iter().map(|r| r.first_chunk_latency).sum();
            mean_latency_s = Some(latency / n as f64);

            let (speed_sum, speed_n) = self
                .window
                .iter()
                .filter_map(Record::speed)
                .fold((0.0, 0usize), |(s, k), v| (s + v, k + 1));
            mean_speed = (speed_n > 0).then(|| speed_sum / speed_n as f64);

            let span = self.window.front().map_or(0.0, |r| now - r.collected_at);
            let chars: u64 = self.window.iter().map(|r| r.chars).sum();
            if span > 0.0 && (span > THROUGHPUT_MIN_SPAN_S || n > THROUGHPUT_MIN_RECORDS) {
                throughput = Some(chars as f64 / span);
            }
        }
        Snapshot {
            users: self.users.len(),
            queries: self.queries,
            failures: self.failures,
            mean_latency_s,
            mean_speed,
            throughput,
        }
    }

    /// The live line at `now` (seconds on the run clock), stamped with the
    /// wall-clock time `wall`, in `lang`.
    pub fn format(&self, now: f64, wall: NaiveTime, lang: Lang) -> String {
        format_snapshot(&self.snapshot(now), wall, lang)
    }
}

/// Labels of the line in one language.
struct Labels {
    users: &'static str,
    done: &'static str,
    latency: &'static str,
    speed: &'static str,
    throughput: &'static str,
    measuring: &'static str,
}

const ZH: Labels = Labels {
    users: "[并发]",
    done: "[问答/错误]",
    latency: "[平均延迟]",
    speed: "[出字均速]",
    throughput: "[总吞吐]",
    measuring: "统计中",
};

const EN: Labels = Labels {
    users: "[users]",
    done: "[done/errors]",
    latency: "[mean TTFT]",
    speed: "[per-user speed]",
    throughput: "[throughput]",
    measuring: "measuring",
};

/// Formats a snapshot as the live line.
pub fn format_snapshot(s: &Snapshot, wall: NaiveTime, lang: Lang) -> String {
    let l = match lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    };
    let mut line = String::with_capacity(128);
    // `write!` into a String cannot fail.
    let _ = write!(
        line,
        "{:02}:{:02}:{:02} {} {} {} {}/{} {} ",
        wall.hour(),
        wall.minute(),
        wall.second(),
        l.users,
        s.users,
        l.done,
        s.queries,
        s.failures,
        l.latency,
    );
    match (s.mean_latency_s, lang) {
        (Some(v), Lang::Zh) => _ = write!(line, "{v:.1}秒"),
        (Some(v), Lang::En) => _ = write!(line, "{v:.1}s"),
        (None, _) => line.push_str(l.measuring),
    }
    let _ = write!(line, " {} ", l.speed);
    match (s.mean_speed, lang) {
        (Some(v), Lang::Zh) => _ = write!(line, "每秒{v:.1}字"),
        (Some(v), Lang::En) => _ = write!(line, "{v:.1} chars/s"),
        (None, _) => line.push_str(l.measuring),
    }
    let _ = write!(line, " {} ", l.throughput);
    match (s.throughput, lang) {
        (Some(v), Lang::Zh) => _ = write!(line, "{v:.1} 字/秒"),
        (Some(v), Lang::En) => _ = write!(line, "{v:.1} chars/s"),
        (None, _) => line.push_str(l.measuring),
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(chars: u64, t_first: f64, t_last: f64, chunks: u32) -> Record {
        Record {
            user: 0,
            collected_at: 0.0,
            first_chunk_latency: t_first,
            chars,
            t_first_chunk: t_first,
            t_last_chunk: t_last,
            chunks,
        }
    }

    #[test]
    fn speed_rules() {
        assert_eq!(rec(100, 1.0, 3.0, 10).speed(), Some(50.0));
        assert_eq!(rec(100, 1.0, 4.0, 1).speed(), Some(25.0));
        // Several chunks on one timestamp count as one chunk.
        assert_eq!(rec(100, 2.0, 2.0, 5).speed(), Some(50.0));
        assert_eq!(rec(100, 0.0, 0.0, 1).speed(), None);
        assert_eq!(rec(0, 0.0, 0.0, 0).speed(), None);
    }

    #[test]
    fn throughput_needs_a_window_of_positive_length() {
        let mut line = OriginalLine::new();
        for _ in 0..101 {
            line.record_success(rec(10, 0.1, 1.0, 3));
        }
        assert_eq!(line.snapshot(0.0).throughput, None);
        assert_eq!(line.snapshot(2.0).throughput, Some(505.0));
    }
}
