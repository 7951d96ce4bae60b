//! The mock's load model, end to end through the executor: decode slots
//! queue requests past `max_batch`, and `gap_ms_per_running` slows every
//! token by the running batch. Only lower bounds implied by the configured
//! delays are asserted, never speed; the exact schedule is tested on a
//! paused clock in the crate.

mod support;

use std::time::Duration;

use runner::sample::Sample;
use support::{TEST_TIMEOUT, harness};

const MS: u64 = 1_000_000;

fn first_content(s: &Sample) -> u64 {
    assert!(s.ok(), "{:?}", s.failure);
    s.content.first().map(|e| e.at).expect("content")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_batch_requests_queue_and_their_ttft_grows() {
    // One answer takes 100 + 9 * 10 = 190 ms from its slot.
    let h = harness(
        "  mock: { ttft_ms: 100, gap_ms: 10, output_tokens: 10, max_batch: 2 }",
        "10|Say hello.\n",
    )
    .await;
    let sends = (0..4).map(|_| h.send(0));
    let samples = futures_util::future::join_all(sends).await;
    assert_eq!(h.server.requests(), 4);
    let earliest_send = samples.iter().map(|s| s.sent).min().expect("four");
    let mut firsts: Vec<u64> = samples.iter().map(first_content).collect();
    firsts.sort_unstable();
    // Two slots: the 3rd and 4th answers start only when an earlier one has
    // finished (no sooner than 190 ms after the earliest send), then take
    // their own 100 ms TTFT.
    for first in &firsts[2..] {
        assert!(
            *first - earliest_send >= 290 * MS,
            "a queued first token came {} ms after the first send",
            (*first - earliest_send) / MS
        );
    }
    // Every answer is whole: queueing delays, it never drops.
    assert!(samples.iter().all(|s| s.content.len() == 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_slow_down_with_the_running_batch() {
    // Item 0 is long (runs in the background), item 1 is the probe.
    let h = harness(
        "  mock: { ttft_ms: 20, gap_ms: 10, gap_ms_per_running: 20 }",
        "100000|Tell a long story.\n10|Say hello.\n",
    )
    .await;
    let background: Vec<_> = (0..3)
        .map(|_| {
            let ctx = std::sync::Arc::clone(&h.ctx);
            tokio::spawn(async move {
                let planned = ctx.clock.now();
                runner::executor::request::execute_item(&ctx, 0, planned).await
            })
        })
        .collect();
    // Wait until the three long answers are streaming.
    let started = tokio::time::timeout(TEST_TIMEOUT, async {
        while h.ctx.in_flight.current() < 3 || h.server.requests() < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Past their TTFT: each has a slot and is generating.
        tokio::time::sleep(Duration::from_millis(50)).await;
    })
    .await;
    assert!(started.is_ok(), "the background answers started");

    let probe = h.send(1).await;
    let first = first_content(&probe);
    let last = probe.content.last().map(|e| e.at).expect("content");
    assert_eq!(probe.content.len(), 10);
    // Alone, tokens 1..9 would be 9 gaps of 10 ms; with 3 others running
    // each gap is 10 + 3 * 20 = 70 ms, and the long answers outlast the probe
    // (were they to end, the probe would already have taken far longer).
    // The first token left no earlier than due, so the span from the send to
    // the last token is at least TTFT + 9 gaps.
    assert!(
        last - probe.sent >= (20 + 9 * 70) * MS,
        "the probe took {} ms",
        (last - probe.sent) / MS
    );
    assert!(first >= probe.sent + 20 * MS);

    h.ctx.cancel.cancel();
    for task in background {
        let s = tokio::time::timeout(TEST_TIMEOUT, task)
            .await
            .expect("cancelled in time")
            .expect("no panic");
        assert_eq!(
            s.failure.map(|f| f.class),
            Some(runner::sample::ErrorClass::Cancelled)
        );
    }
}
