//! Every fault the mock injects lands in its error class: a golden test per
//! fault class, each with the fault at rate 1, sent through the executor
//! with the real `openai-chat` plugin and the scenario's timeouts. Every
//! request is bounded by a test timeout, so a hang fails instead of
//! stalling; timeouts are checked only as lower bounds (a timeout cannot
//! fire before it is due).
//!
//! Where each fault lands, and why:
//! - HTTP 500/503 and 429: `http`, with the status.
//! - A stall before the first token: `timeout_first_token`; mid-stream:
//!   `timeout_idle`.
//! - A dropped connection: `stream_dropped`.
//! - Malformed SSE (a `data:` line of cut-off JSON): `protocol`. The bytes
//!   are not the protocol, and nothing in them says the server failed;
//!   `stream_error` is kept for errors the server itself reports.
//! - An error event: `stream_error`.
//! - An empty 200: `empty`.
//! - Bytes that are not UTF-8, and a 10 MiB line (past the 8 MiB line
//!   limit): `protocol`, from the host's framing, before the plugin sees
//!   them. A whole (non-streamed) body is held to the same rules, so it
//!   lands in the same class.

mod support;

use runner::sample::{ErrorClass, Sample};
use support::{Harness, harness};

/// Eight tokens per answer; mid-stream faults strike after four.
const PROMPTS: &str = "8|Say hello.\n";

/// A streaming target: the mock with `faults`, and `timeouts`.
async fn streaming(faults: &str, timeouts: &str) -> Harness {
    let target = format!(
        "  mock: {{ ttft_ms: 5, gap_ms: 2, output_tokens: 8, faults: {{ {faults} }} }}\n  timeouts: {{ {timeouts} }}"
    );
    harness(&target, PROMPTS).await
}

/// Three requests, each checked by `check`.
async fn three(h: &Harness, check: impl Fn(&Sample)) {
    for _ in 0..3 {
        let s = h.send(0).await;
        check(&s);
    }
    assert_eq!(h.server.requests(), 3);
}

fn failure(s: &Sample) -> (ErrorClass, &str) {
    let f = s
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("a failure: {s:?}"));
    (f.class, f.message.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_faults_requests_succeed() {
    let h = streaming("", "").await;
    three(&h, |s| {
        assert!(s.ok(), "{:?}", s.failure);
        assert_eq!(s.content.len(), 8);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_http_with_their_status() {
    for (faults, status) in [
        ("error_rate: 1", 500),
        ("error_rate: 1, error_status: 503", 503),
        ("rate_limit_rate: 1", 429),
    ] {
        let h = streaming(faults, "").await;
        three(&h, |s| {
            let (class, message) = failure(s);
            assert_eq!(class, ErrorClass::Http, "{faults}: {message}");
            assert_eq!(s.status, Some(status));
            assert!(message.contains(&format!("HTTP {status}")), "{message}");
            assert!(
                message.contains("mock fault"),
                "the body's error: {message}"
            );
            assert!(s.content.is_empty());
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_before_the_first_token_times_out_first_token() {
    let h = streaming(
        "stall_first_rate: 1, stall_first_ms: 600000",
        "first_token: 300ms, idle: 60s",
    )
    .await;
    three(&h, |s| {
        let (class, message) = failure(s);
        assert_eq!(class, ErrorClass::TimeoutFirstToken, "{message}");
        // Headers came at once; the timeout fired no sooner than set.
        assert_eq!(s.status, Some(200));
        assert!(s.content.is_empty());
        assert!(s.end - s.sent >= 300_000_000, "{} ns", s.end - s.sent);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_first_byte_only_first_token_bounds_the_wait() {
    // A 1 s stall before the first token, with a short idle timeout: the
    // scenario allows 60 s for the first token, so the request succeeds.
    let h = streaming(
        "stall_first_rate: 1, stall_first_ms: 1000",
        "first_token: 60s, idle: 300ms",
    )
    .await;
    let s = h.send(0).await;
    assert!(s.ok(), "{:?}", s.failure);
    assert!(first_token_wait(&s) >= 1_000_000_000);
    // With a first-token timeout shorter than the stall, that one fires.
    let h = streaming(
        "stall_first_rate: 1, stall_first_ms: 1000",
        "first_token: 500ms, idle: 300ms",
    )
    .await;
    let s = h.send(0).await;
    assert_eq!(
        s.failure.map(|f| f.class),
        Some(ErrorClass::TimeoutFirstToken)
    );
}

fn first_token_wait(s: &Sample) -> u64 {
    s.content.first().map_or(0, |e| e.at - s.sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_mid_stream_times_out_idle() {
    let h = streaming(
        "stall_mid_rate: 1, stall_mid_ms: 600000",
        "first_token: 60s, idle: 300ms",
    )
    .await;
    three(&h, |s| {
        let (class, message) = failure(s);
        assert_eq!(class, ErrorClass::TimeoutIdle, "{message}");
        assert_eq!(s.content.len(), 4, "half the tokens came before the stall");
        let last = s.content.last().map_or(0, |e| e.at);
        assert!(s.end - last >= 300_000_000, "{} ns", s.end - last);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_stall_only_delays_the_answer() {
    let h = streaming("stall_mid_rate: 1, stall_mid_ms: 100", "idle: 60s").await;
    three(&h, |s| {
        assert!(s.ok(), "{:?}", s.failure);
        assert_eq!(s.content.len(), 8);
        // Tokens 3 and 4 are 2 ms apart on the schedule, plus the stall.
        let gap = s.content[4].at - s.content[3].at;
        assert!(gap >= 100_000_000, "{gap} ns");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_stream_dropped() {
    let h = streaming("drop_rate: 1", "").await;
    three(&h, |s| {
        let (class, message) = failure(s);
        assert_eq!(class, ErrorClass::StreamDropped, "{message}");
        assert_eq!(s.content.len(), 4);
        assert_eq!(s.finish_reason, None, "the final chunk never came");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sse_is_a_protocol_error() {
    let h = streaming("malformed_rate: 1", "").await;
    three(&h, |s| {
        let (class, message) = failure(s);
        assert_eq!(class, ErrorClass::Protocol, "{message}");
        assert!(message.contains("not JSON"), "{message}");
        assert_eq!(s.content.len(), 4);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_event_is_a_stream_error() {
    let h = streaming("error_event_rate: 1", "").await;
    three(&h, |s| {
        let (class, message) = failure(s);
        assert_eq!(class, ErrorClass::StreamError, "{message}");
        assert!(
            message.contains("mock fault"),
            "the server's message: {message}"
        );
        assert_eq!(s.content.len(), 4);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_answer_is_empty() {
    let h = streaming("empty_rate: 1", "").await;
    three(&h, |s| {
        let (class, message) = failure(s);
        assert_eq!(class, ErrorClass::Empty, "{message}");
        assert_eq!(s.status, Some(200));
        assert_eq!(s.finish_reason.as_deref(), Some("stop"));
        assert!(s.first_event.is_some(), "events came, none with content");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_a_protocol_error() {
    let h = streaming("invalid_utf8_rate: 1", "").await;
    three(&h, |s| {
        let (class, message) = failure(s);
        assert_eq!(class, ErrorClass::Protocol, "{message}");
        assert!(message.contains("invalid UTF-8"), "{message}");
        assert_eq!(s.content.len(), 4);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mib_line_is_a_protocol_error() {
    let h = streaming("huge_line_rate: 1", "").await;
    three(&h, |s| {
        let (class, message) = failure(s);
        assert_eq!(class, ErrorClass::Protocol, "{message}");
        assert!(message.contains("longer than 8388608 bytes"), "{message}");
        assert_eq!(s.content.len(), 4);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_answers_fail_in_the_same_classes() {
    let cases = [
        ("error_rate: 1", Some(ErrorClass::Http)),
        ("rate_limit_rate: 1", Some(ErrorClass::Http)),
        ("drop_rate: 1", Some(ErrorClass::StreamDropped)),
        ("malformed_rate: 1", Some(ErrorClass::Protocol)),
        ("error_event_rate: 1", Some(ErrorClass::StreamError)),
        ("empty_rate: 1", Some(ErrorClass::Empty)),
        ("invalid_utf8_rate: 1", Some(ErrorClass::Protocol)),
        // A whole body is bounded like a line.
        ("huge_line_rate: 1", Some(ErrorClass::Protocol)),
    ];
    for (faults, want) in cases {
        let target = format!(
            "  stream: false\n  mock: {{ ttft_ms: 5, gap_ms: 2, output_tokens: 8, faults: {{ {faults} }} }}"
        );
        let h = harness(&target, PROMPTS).await;
        let s = h.send(0).await;
        assert_eq!(
            s.failure.as_ref().map(|f| f.class),
            want,
            "{faults}: {:?}",
            s.failure
        );
    }
    let h = harness(
        "  stream: false\n  mock: { ttft_ms: 5, gap_ms: 2, faults: { stall_first_rate: 1, stall_first_ms: 600000 } }\n  timeouts: { first_token: 300ms }",
        PROMPTS,
    )
    .await;
    assert_eq!(
        h.send(0).await.failure.map(|f| f.class),
        Some(ErrorClass::TimeoutFirstToken)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_faults_the_same_requests_at_its_rates() {
    let faults = "error_rate: 0.3, empty_rate: 0.2, drop_rate: 0.1";
    let mut runs = Vec::new();
    for _ in 0..2 {
        let h = streaming(faults, "").await;
        let mut classes = Vec::new();
        for _ in 0..100 {
            classes.push(h.send(0).await.failure.map(|f| f.class));
        }
        runs.push(classes);
    }
    assert_eq!(runs[0], runs[1], "same seed, same faults");
    let count = |class| runs[0].iter().filter(|c| **c == class).count();
    // 100 draws: each count is within about three standard deviations.
    let (http, empty, dropped) = (
        count(Some(ErrorClass::Http)),
        count(Some(ErrorClass::Empty)),
        count(Some(ErrorClass::StreamDropped)),
    );
    assert!((15..=45).contains(&http), "{http}");
    assert!((8..=32).contains(&empty), "{empty}");
    assert!((2..=20).contains(&dropped), "{dropped}");
    assert_eq!(http + empty + dropped + count(None), 100);
}

#[tokio::test]
async fn bad_fault_settings_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("p.txt"), PROMPTS).expect("write");
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        "target:\n  mock: { faults: { error_rate: 1.5, stall_mid_rate: 0.1 } }\ndataset: { path: p.txt }\n",
    )
    .expect("write");
    let err = runner::scenario::load(&path, &runner::scenario::Overrides::default())
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("`target.mock.faults.error_rate` is 1.5"),
        "{err}"
    );
    assert!(err.contains("from 0 to 1"), "{err}");
    assert!(
        err.contains("`target.mock.faults.stall_mid_ms` is 0"),
        "{err}"
    );
    std::fs::write(
        &path,
        "target:\n  mock: { faults: { eror_rate: 0.1 } }\ndataset: { path: p.txt }\n",
    )
    .expect("write");
    let err = runner::scenario::load(&path, &runner::scenario::Overrides::default())
        .expect_err("refused")
        .to_string();
    assert!(err.contains("eror_rate"), "{err}");
}

#[test]
fn the_example_scenario_is_valid() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/mock-faults.yaml");
    let sc = runner::scenario::load(&path, &runner::scenario::Overrides::default())
        .unwrap_or_else(|d| panic!("{d}"));
    let runner::scenario::Endpoint::Mock(mock) = sc.target.endpoint else {
        panic!("the example runs the mock");
    };
    assert_eq!(mock.max_batch, Some(8));
    assert_eq!(mock.faults.error_status, 503);
    assert!(mock.problems().is_empty());
}
