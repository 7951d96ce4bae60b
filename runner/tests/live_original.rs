//! Golden tests of the original tool's live line over hand-computed records.
//!
//! Every expected line below was worked out by hand from the records given,
//! with the formulas of ORIGINAL.md ("The live line").

use chrono::NaiveTime;
use runner::live::original::{OriginalLine, Record, WINDOW};
use runner::scenario::Lang;

/// The wall-clock time of the README example.
fn wall() -> NaiveTime {
    NaiveTime::from_hms_opt(23, 16, 6).unwrap_or_default()
}

/// A request of `user` collected at `collected_at`, whose first chunk came
/// after `latency` s and whose last after `latency + duration` s.
fn rec(user: u32, collected_at: f64, latency: f64, chars: u64, duration: f64) -> Record {
    Record {
        user,
        collected_at,
        first_chunk_latency: latency,
        chars,
        t_first_chunk: latency,
        t_last_chunk: latency + duration,
        chunks: 500,
    }
}

/// The README's run: one user, three answers of 2256 characters, each taking
/// 40 s after its first chunk (56.4 chars/s), first chunks after 0.08, 0.10
/// and 0.12 s (mean 0.1 s). The oldest was collected at 40.08 s; at now =
/// 153.78 s the window spans 113.7 s (> 100 s), so throughput shows:
/// 3 × 2256 / 113.7 = 59.525 → 59.5.
fn readme_run() -> OriginalLine {
    let mut line = OriginalLine::new();
    line.record_success(rec(7, 40.08, 0.08, 2256, 40.0));
    line.record_success(rec(7, 80.18, 0.10, 2256, 40.0));
    line.record_success(rec(7, 120.30, 0.12, 2256, 40.0));
    line
}

const README_NOW: f64 = 153.78;

#[test]
fn readme_example_line_chinese() {
    assert_eq!(
        readme_run().format(README_NOW, wall(), Lang::Zh),
        "23:16:06 [并发] 1 [问答/错误] 3/0 [平均延迟] 0.1秒 [出字均速] 每秒56.4字 [总吞吐] 59.5 字/秒"
    );
}

#[test]
fn readme_example_line_english() {
    assert_eq!(
        readme_run().format(README_NOW, wall(), Lang::En),
        "23:16:06 [users] 1 [done/errors] 3/0 [mean TTFT] 0.1s [per-user speed] 56.4 chars/s \
         [throughput] 59.5 chars/s"
    );
}

#[test]
fn default_language_is_chinese() {
    assert_eq!(Lang::default(), Lang::Zh);
}

#[test]
fn fewer_than_two_records_everything_is_measuring() {
    let mut line = OriginalLine::new();
    assert_eq!(
        line.format(0.0, wall(), Lang::Zh),
        "23:16:06 [并发] 0 [问答/错误] 0/0 [平均延迟] 统计中 [出字均速] 统计中 [总吞吐] 统计中"
    );
    // One record, even over a long span, is not enough.
    line.record_success(rec(1, 1.0, 0.5, 100, 2.0));
    assert_eq!(
        line.format(500.0, wall(), Lang::Zh),
        "23:16:06 [并发] 1 [问答/错误] 1/0 [平均延迟] 统计中 [出字均速] 统计中 [总吞吐] 统计中"
    );
    assert_eq!(
        line.format(500.0, wall(), Lang::En),
        "23:16:06 [users] 1 [done/errors] 1/0 [mean TTFT] measuring [per-user speed] measuring \
         [throughput] measuring"
    );
}

#[test]
fn throughput_waits_for_more_than_100_s_or_100_records() {
    // 100 records of 10 chars, latency 0.2 s, 1 s of output (10 chars/s),
    // the oldest collected at 0 s.
    let mut line = OriginalLine::new();
    for i in 0..100 {
        line.record_success(rec(i % 4, i as f64, 0.2, 10, 1.0));
    }
    // Exactly 100 records over exactly 100 s: still measuring.
    assert_eq!(
        line.format(100.0, wall(), Lang::Zh),
        "23:16:06 [并发] 4 [问答/错误] 100/0 [平均延迟] 0.2秒 [出字均速] 每秒10.0字 [总吞吐] 统计中"
    );
    // A span past 100 s: 1000 chars / 125 s = 8.0.
    assert_eq!(
        line.format(125.0, wall(), Lang::Zh),
        "23:16:06 [并发] 4 [问答/错误] 100/0 [平均延迟] 0.2秒 [出字均速] 每秒10.0字 [总吞吐] 8.0 字/秒"
    );
    // The 101st record within 100 s: 1010 chars / 50 s = 20.2.
    line.record_success(rec(0, 49.0, 0.2, 10, 1.0));
    assert_eq!(
        line.format(50.0, wall(), Lang::Zh),
        "23:16:06 [并发] 4 [问答/错误] 101/0 [平均延迟] 0.2秒 [出字均速] 每秒10.0字 [总吞吐] 20.2 字/秒"
    );
    assert_eq!(
        line.format(50.0, wall(), Lang::En),
        "23:16:06 [users] 4 [done/errors] 101/0 [mean TTFT] 0.2s [per-user speed] 10.0 chars/s \
         [throughput] 20.2 chars/s"
    );
}

#[test]
fn window_keeps_the_last_500_successes() {
    assert_eq!(WINDOW, 500);
    let mut line = OriginalLine::new();
    // The first record stands out: 51 s to first chunk, 5010 chars.
    line.record_success(rec(0, 0.0, 51.0, 5010, 1.0));
    for i in 1..500 {
        line.record_success(rec(1, i as f64, 1.0, 10, 1.0));
    }
    // 500 records: latency (51 + 499) / 500 = 1.1; speed (5010 + 499 × 10)
    // / 500 = 20.0; throughput (5010 + 4990) / 600 = 16.67.
    assert_eq!(
        line.format(600.0, wall(), Lang::Zh),
        "23:16:06 [并发] 2 [问答/错误] 500/0 [平均延迟] 1.1秒 [出字均速] 每秒20.0字 [总吞吐] 16.7 字/秒"
    );
    // The 501st pushes the first out: latency 1.0, speed 10.0, throughput
    // 5000 chars / (600 − 1) s = 8.35. The counts keep every record.
    line.record_success(rec(2, 500.0, 1.0, 10, 1.0));
    assert_eq!(line.window().len(), 500);
    assert_eq!(
        line.format(600.0, wall(), Lang::Zh),
        "23:16:06 [并发] 3 [问答/错误] 501/0 [平均延迟] 1.0秒 [出字均速] 每秒10.0字 [总吞吐] 8.3 字/秒"
    );
}

#[test]
fn one_chunk_speed_is_chars_over_time_to_last_chunk() {
    let mut line = OriginalLine::new();
    // One chunk at 0.5 s: 30 / 0.5 = 60 chars/s.
    line.record_success(Record {
        user: 1,
        collected_at: 1.0,
        first_chunk_latency: 0.5,
        chars: 30,
        t_first_chunk: 0.5,
        t_last_chunk: 0.5,
        chunks: 1,
    });
    // Several chunks from 0.25 s to 1.25 s: 30 / 1.0 = 30 chars/s.
    line.record_success(Record {
        user: 2,
        collected_at: 2.0,
        first_chunk_latency: 0.25,
        chars: 30,
        t_first_chunk: 0.25,
        t_last_chunk: 1.25,
        chunks: 4,
    });
    // Mean (60 + 30) / 2 = 45.0; latency (0.5 + 0.25) / 2 = 0.375 → 0.4.
    assert_eq!(
        line.format(3.0, wall(), Lang::Zh),
        "23:16:06 [并发] 2 [问答/错误] 2/0 [平均延迟] 0.4秒 [出字均速] 每秒45.0字 [总吞吐] 统计中"
    );
}

#[test]
fn failures_are_counted_but_stay_out_of_the_window() {
    let mut line = readme_run();
    line.record_failure(7);
    line.record_failure(9);
    // User 9 only failed, yet it has reported: 2 users. 5 records, 2 failed;
    // the window figures are unchanged.
    assert_eq!(
        line.format(README_NOW, wall(), Lang::Zh),
        "23:16:06 [并发] 2 [问答/错误] 5/2 [平均延迟] 0.1秒 [出字均速] 每秒56.4字 [总吞吐] 59.5 字/秒"
    );
    let mut only_failures = OriginalLine::new();
    only_failures.record_failure(3);
    assert_eq!(
        only_failures.format(10.0, wall(), Lang::En),
        "23:16:06 [users] 1 [done/errors] 1/1 [mean TTFT] measuring [per-user speed] measuring \
         [throughput] measuring"
    );
}

#[test]
fn reset_starts_a_new_level() {
    let mut line = readme_run();
    line.record_failure(2);
    line.reset();
    assert_eq!(line.window().len(), 0);
    assert_eq!(
        line.format(README_NOW, wall(), Lang::Zh),
        "23:16:06 [并发] 0 [问答/错误] 0/0 [平均延迟] 统计中 [出字均速] 统计中 [总吞吐] 统计中"
    );
}

#[test]
fn wall_time_is_zero_padded() {
    let t = NaiveTime::from_hms_opt(3, 4, 5).unwrap_or_default();
    let line = OriginalLine::new().format(0.0, t, Lang::Zh);
    assert!(line.starts_with("03:04:05 [并发] 0 "), "{line}");
}
