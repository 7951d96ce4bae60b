use super::*;
use crate::metrics::LevelStats;
use crate::sample::{ContentEvent, ErrorClass, Failure};
use crate::scenario::Slo;

const MS: u64 = 1_000_000;

fn spec(users: u32, chunk_rate: f64) -> CalibrateSpec {
    CalibrateSpec {
        users,
        chunk_rate,
        duration: Duration::from_secs(1),
        output_tokens: 4,
    }
}

/// Sent at `sent` ms, content events at the given ms.
fn reply(sent: u64, at: &[u64]) -> Sample {
    Sample {
        sent: sent * MS,
        content: at
            .iter()
            .map(|&t| ContentEvent {
                at: t * MS,
                chars: 1,
            })
            .collect(),
        end: at.last().copied().unwrap_or(sent) * MS,
        ..Default::default()
    }
}

fn window(mean: f64, max: u64) -> LevelWindow {
    LevelWindow {
        start: 0,
        end: 1000 * MS,
        concurrency_mean: mean,
        concurrency_max: max,
        drained: 1100 * MS,
        ..LevelWindow::default()
    }
}

#[test]
fn spec_checks_name_the_flag() {
    assert!(spec(1, 50.0).check().is_ok());
    assert!(spec(0, 50.0).check().unwrap_err().contains("--users"));
    for rate in [0.0, -1.0, f64::NAN, MAX_CHUNK_RATE * 2.0] {
        assert!(
            spec(1, rate).check().unwrap_err().contains("--chunk-rate"),
            "{rate}"
        );
    }
    let mut s = spec(1, 50.0);
    s.duration = Duration::ZERO;
    assert!(s.check().unwrap_err().contains("--duration"));
    assert_eq!(spec(1, 50.0).gap_ms(), 20.0);
}

#[test]
fn hand_computed_tally() {
    // Chunk rate 100/s: gap and TTFT 10 ms. Two users asked: 200 chunks/s.
    let s = spec(2, 100.0);
    let mut t = Tally::new();
    // TTFT 12 ms (2 added); gaps 10, 11, 13 ms (0, 1, 3 added).
    t.add(&reply(0, &[12, 22, 33, 46]));
    // TTFT 10 ms (0 added); events at 995 and 1005 ms: one after the window.
    t.add(&reply(985, &[995, 1005]));
    let mut failed = reply(0, &[]);
    failed.failure = Some(Failure {
        class: ErrorClass::Connect,
        message: "refused".into(),
    });
    t.add(&failed);
    // 5 events inside the 1 s window: 5 chunks/s of 200 asked, so the
    // runner fell short and the ceiling is what it achieved.
    let c = t.finish(&s, &window(1.5, 2), Some(0.25));
    assert_eq!((c.requests, c.errors, c.streams_asked), (3, 1, 2));
    assert_eq!(c.chunks_per_s_asked, 200.0);
    assert_eq!(c.chunks_per_s_achieved, 5.0);
    assert_eq!((c.ceiling_chunks_per_s, c.ceiling_streams), (5.0, 1.5));
    assert_eq!(c.ttft_added_ms.count, 2);
    assert!(
        (c.ttft_added_ms.p50 - 0.0).abs() < 0.01,
        "{:?}",
        c.ttft_added_ms
    );
    assert!((c.ttft_added_ms.p99 - 2.0).abs() < 0.01);
    assert_eq!(c.gap_added_ms.count, 4);
    // Gaps 10, 10, 11, 13 ms: median 10 (0 added), p99 and max 13 (3 added).
    assert!(
        (c.gap_added_ms.p50 - 0.0).abs() < 0.01,
        "{:?}",
        c.gap_added_ms
    );
    assert!((c.gap_added_ms.max - 3.0).abs() < 0.01);
    assert_eq!(c.duration_s, 1.0);
}

#[test]
fn ceiling_scales_by_cpu_share_only_when_the_runner_kept_up() {
    // One user at 4 chunks/s asked; 4 events inside the window.
    let s = spec(1, 4.0);
    let mut t = Tally::new();
    t.add(&reply(0, &[250, 500, 750, 1000]));
    let c = t.finish(&s, &window(1.0, 1), Some(0.25));
    assert_eq!(c.chunks_per_s_achieved, 4.0);
    assert_eq!((c.ceiling_chunks_per_s, c.ceiling_streams), (16.0, 4.0));
    // Unknown CPU share: no estimate beyond what was achieved.
    let c = t.finish(&s, &window(1.0, 1), None);
    assert_eq!((c.ceiling_chunks_per_s, c.ceiling_streams), (4.0, 1.0));
    // Streams short of the asked ones: no extrapolation either.
    let c = t.finish(&s, &window(0.5, 1), Some(0.25));
    assert_eq!(c.ceiling_streams, 0.5);
}

fn level(chunks_per_s: f64, max: u64) -> LevelResult {
    let mut l = LevelStats::new(0, 4, 0, 1000 * MS, Slo::default()).finish(1.0, (4.0, max));
    l.throughput.chunks_per_s = chunks_per_s;
    l
}

#[test]
fn levels_over_half_the_budget_are_flagged() {
    let mut t = Tally::new();
    t.add(&reply(0, &[250, 500, 750, 1000]));
    let mut c = t.finish(&spec(1, 4.0), &window(1.0, 1), Some(0.25));
    c.ceiling_chunks_per_s = 1000.0;
    c.ceiling_streams = 100.0;
    let mut levels = vec![level(500.0, 50), level(501.0, 10), level(10.0, 51)];
    let before: Vec<usize> = levels.iter().map(|l| l.flags.len()).collect();
    flag_levels(&c, &mut levels);
    assert_eq!(levels[0].flags.len(), before[0], "exactly half is within");
    let f1 = levels[1].flags.last().unwrap();
    assert!(
        f1.starts_with("runner budget: this level used 50% of the runner's calibrated chunks/s ceiling (501 of 1000) and 10% of its streams ceiling (10 of 100)"),
        "{f1}"
    );
    assert!(
        levels[2]
            .flags
            .last()
            .unwrap()
            .contains("51% of its streams ceiling")
    );
    c.ceiling_chunks_per_s = 0.0;
    let mut levels = vec![level(1.0, 1)];
    flag_levels(&c, &mut levels);
    assert!(
        levels[0]
            .flags
            .last()
            .unwrap()
            .starts_with("runner budget unknown")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_calibration_against_the_mock() {
    let s = CalibrateSpec {
        users: 8,
        chunk_rate: 50.0,
        duration: Duration::from_millis(500),
        output_tokens: 8,
    };
    let c = tokio::time::timeout(
        Duration::from_secs(120),
        calibrate(
            &s,
            crate::plugin::default_cache_dir(),
            CancellationToken::new(),
        ),
    )
    .await
    .expect("the calibration ends in time")
    .expect("the calibration runs");
    assert_eq!(c.streams_asked, 8);
    assert_eq!(
        c.streams_max, 8,
        "every user had a stream in flight at once"
    );
    assert_eq!(c.errors, 0);
    assert!(c.requests >= 8, "{c:?}");
    assert_eq!(c.chunks_per_s_asked, 400.0);
    assert!(c.chunks_per_s_achieved > 0.0, "{c:?}");
    // The mock never sends before its schedule: TTFT is at least the
    // configured 20 ms after the send.
    assert!(c.ttft_added_ms.count >= 8);
    assert!(c.ttft_added_ms.p50 >= 0.0, "{:?}", c.ttft_added_ms);
    assert!(c.ttft_added_ms.p99 >= c.ttft_added_ms.p50);
    assert!(c.gap_added_ms.count >= 8 * 7);
    assert!(c.gap_added_ms.p99 >= c.gap_added_ms.p50);
    assert!(c.ceiling_chunks_per_s >= c.chunks_per_s_achieved);
    assert!(c.ceiling_streams >= c.streams_mean);
    assert!(c.cpu_share.is_some_and(|s| s > 0.0), "{c:?}");
    assert_eq!(summary_lines(&c).len(), 3);
}
