//! Shapes of load end to end, through the real WASM plugin against the
//! embedded mock (or a small server in the test) on 127.0.0.1: open-loop
//! rates on an absolute timeline, the in-flight cap, trace replay, ramps,
//! warm-up, drains, multi-turn sessions, sweeps and searches. Times are checked exactly where
//! the schedule fixes them (planned sends) and as lower bounds where the
//! server does; speed is never asserted.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner::results::RunResults;
use runner::run::{self, RunOptions};
use runner::scenario::{self, Overrides};
use serde_json::Value;

const MS: u64 = 1_000_000;

/// Runs `yaml` (a scenario in a fresh folder holding `prompts.txt` and any
/// `files`) and returns its results and requests.jsonl lines.
async fn run_yaml(
    yaml: &str,
    files: &[(&str, &str)],
) -> (
    RunResults,
    Vec<Value>,
    std::path::PathBuf,
    tempfile::TempDir,
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("prompts.txt"),
        "你好\nWrite a haiku about autumn.\n",
    )
    .unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let path = dir.join("s.yaml");
    std::fs::write(&path, yaml).unwrap();
    let sc = scenario::load(&path, &Overrides::default()).unwrap_or_else(|d| panic!("{d}"));
    let opts = RunOptions {
        hide_progress: true,
        cache_dir: Some(dir.join("cache")),
        ..Default::default()
    };
    let out = tokio::time::timeout(Duration::from_secs(120), run::run(sc, opts))
        .await
        .expect("the run ends in time")
        .expect("the run succeeds");
    let requests = read_requests(&out.dir);
    (out.results, requests, out.dir, tmp)
}

fn read_requests(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("requests.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn field(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"))
}

fn planned_offsets(reqs: &[Value]) -> Vec<u64> {
    let mut p: Vec<u64> = reqs.iter().map(|r| field(r, "planned")).collect();
    p.sort_unstable();
    let first = p[0];
    p.iter().map(|x| x - first).collect()
}

const MOCK: &str = "target:\n  mock: { ttft_ms: 5, gap_ms: 1, output_tokens: 4 }\n  plugin: openai-chat\n  params: { model: mock }\ndataset: { path: prompts.txt }\noutput: { work_dir: . }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_constant_rate_plans_every_send_on_an_absolute_timeline() {
    let yaml = format!(
        "{MOCK}load:\n  pause: 0s\n  phases:\n    - rate: 40\n      arrival: constant\n      duration: 1s\n"
    );
    let (r, reqs, _, _tmp) = run_yaml(&yaml, &[]).await;
    assert_eq!(r.levels.len(), 1);
    let l = &r.levels[0];
    assert_eq!(l.step.kind, "rate");
    assert_eq!(l.step.label, "40 req/s");
    assert_eq!(l.step.target_rate, Some(40.0));
    assert_eq!(l.step.arrivals, 40);
    assert_eq!(l.step.dropped, 0);
    assert_eq!(l.requests, 40);
    assert_eq!(l.errors, 0, "{:?}", l.errors_by_class);
    let want: Vec<u64> = (0..40).map(|i| i * 25 * MS).collect();
    assert_eq!(planned_offsets(&reqs), want, "planned sends are exact");
    for q in &reqs {
        assert!(
            field(q, "sent") >= field(q, "planned"),
            "never sent before due"
        );
    }
    assert!(l.queue_delay_ms.is_some());
    assert!(l.step.sent_rate.is_some_and(|r| r > 0.0), "{:?}", l.step);
    assert!(l.step.offered_rate.is_some_and(|r| r > 0.0), "{:?}", l.step);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cap_drops_arrivals_or_queues_them() {
    let slow = "target:\n  mock: { ttft_ms: 300, gap_ms: 1, output_tokens: 2 }\n  plugin: openai-chat\n  params: { model: mock }\ndataset: { path: prompts.txt }\noutput: { work_dir: . }\n";
    let yaml = format!(
        "{slow}load:\n  phases:\n    - rate: 50\n      arrival: constant\n      duration: 600ms\n      max_in_flight: 2\n"
    );
    let (r, reqs, dir, _tmp) = run_yaml(&yaml, &[]).await;
    let l = &r.levels[0];
    assert_eq!(l.step.arrivals, 30);
    assert!(l.step.dropped >= 20, "{:?}", l.step);
    assert_eq!(l.requests + l.step.dropped, l.step.arrivals);
    assert_eq!(reqs.len() as u64, l.requests);
    assert!(l.concurrency.max <= 2);
    assert!(
        l.flags.iter().any(|f| f.contains("dropped")),
        "{:?}",
        l.flags
    );
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("Open-loop arrivals"), "{report}");
    assert!(
        report.contains("| Load | rate 50 req/s constant × 0.60s |"),
        "{report}"
    );

    let yaml = format!(
        "{slow}load:\n  phases:\n    - rate: 50\n      arrival: constant\n      requests: 6\n      max_in_flight: 2\n      overflow: queue\n"
    );
    let (r, reqs, _, _tmp) = run_yaml(&yaml, &[]).await;
    let l = &r.levels[0];
    assert_eq!((l.step.arrivals, l.step.dropped, l.requests), (6, 0, 6));
    assert_eq!(l.errors, 0, "{:?}", l.errors_by_class);
    // Two at a time, each at least 300 ms: the fifth and sixth waited for
    // a slot at least 600 ms − 80 ms after they were due.
    let q = l.queue_delay_ms.unwrap();
    assert!(q.max >= 500.0, "queue delay shows the wait: {q:?}");
    assert_eq!(
        planned_offsets(&reqs),
        vec![0, 20 * MS, 40 * MS, 60 * MS, 80 * MS, 100 * MS]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_is_replayed_at_its_offsets() {
    let trace = "{\"offset_ms\": 400, \"input_len\": 20, \"output_len\": 3}\n{\"offset_ms\": 0, \"prompt\": \"hello\"}\n{\"offset_ms\": 150, \"input_len\": 10}\n";
    let yaml = format!("{MOCK}load:\n  phases:\n    - replay: trace.jsonl\n      speed: 2\n");
    let (r, reqs, _, _tmp) = run_yaml(&yaml, &[("trace.jsonl", trace)]).await;
    let l = &r.levels[0];
    assert_eq!(l.step.kind, "replay");
    assert_eq!((l.step.arrivals, l.requests, l.errors), (3, 3, 0));
    assert_eq!(planned_offsets(&reqs), vec![0, 75 * MS, 200 * MS]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_trace_line_is_reported_before_anything_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("prompts.txt"), "你好\n").unwrap();
    std::fs::write(
        dir.join("trace.jsonl"),
        "{\"offset_ms\": 0, \"input_len\": 3}\n{\"offset_ms\": \"soon\"}\n",
    )
    .unwrap();
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        format!("{MOCK}load:\n  phases:\n    - replay: trace.jsonl\n"),
    )
    .unwrap();
    let sc = scenario::load(&path, &Overrides::default()).unwrap();
    let err = run::run(
        sc,
        RunOptions {
            hide_progress: true,
            ..Default::default()
        },
    )
    .await
    .expect_err("a bad trace fails the run");
    let shown = err.to_string();
    assert!(shown.contains("trace.jsonl:2"), "{shown}");
    assert!(shown.contains("offset_ms"), "{shown}");
    assert!(!dir.join("output").exists(), "no run folder for bad input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramp_starts_users_over_its_duration() {
    let yaml = format!(
        "{MOCK}load:\n  phases:\n    - ramp: {{ from: 1, to: 4 }}\n      duration: 900ms\n"
    );
    let (r, reqs, _, _tmp) = run_yaml(&yaml, &[]).await;
    let l = &r.levels[0];
    assert_eq!(l.step.kind, "ramp");
    assert_eq!(l.step.label, "1→4 users");
    // n(t) = 1 + 3t/0.9 s: user 1 from 300 ms, user 2 from 600 ms; user 3
    // would start at the very end.
    let first = |user: u64| {
        reqs.iter()
            .filter(|q| field(q, "user") == user)
            .map(|q| field(q, "planned"))
            .min()
    };
    let t0 = first(0).unwrap();
    // Measured from user 0's first request, which leaves a little after
    // the step starts: lower bounds with room for that.
    let starts: Vec<Option<f64>> = (0..4)
        .map(|u| first(u).map(|f| (f - t0) as f64 / 1e6))
        .collect();
    assert!(first(1).unwrap() - t0 >= 250 * MS, "{starts:?}");
    assert!(first(2).unwrap() - t0 >= 550 * MS, "{starts:?}");
    assert_eq!(first(3), None);
    // The slots hold whole users: 1, 2, 3 for a third of the time each.
    let target = l.step.target_users.unwrap();
    assert!((target - 2.0).abs() < 0.01, "mean target {target}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warmup_is_marked_and_left_out_of_the_headline() {
    let yaml = format!(
        "{MOCK}load:\n  pause: 0s\n  phases:\n    - users: [1]\n      requests: 3\n      warmup: true\n    - sweep: {{ rates: [20, 40] }}\n      duration: 500ms\n"
    );
    let (r, _, dir, _tmp) = run_yaml(&yaml, &[]).await;
    assert_eq!(r.levels.len(), 3);
    assert!(r.levels[0].step.warmup);
    assert_eq!(
        r.levels[0].requests, 3,
        "a request-count step sends exactly that many"
    );
    assert!(!r.levels[1].step.warmup);
    assert_eq!(r.levels[1].step.label, "20 req/s");
    assert_eq!(r.levels[2].step.label, "40 req/s");
    assert_eq!(r.levels[2].step.kind, "sweep");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("| 1 (warm-up) |"), "{md}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let measured: u64 = r.levels[1..].iter().map(|l| l.requests).sum();
    // The HTML escapes `/` as `&#x2f;`.
    assert!(
        html.contains(&format!("{measured}&#x2f;0")) || html.contains(&format!("{measured}/0")),
        "the headline counts the measured levels only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_cancels_what_is_still_running() {
    // Each reply takes 20 ms + 40 × 100 ms: far longer than the 300 ms step.
    let long = "target:\n  mock: { ttft_ms: 20, gap_ms: 100, output_tokens: 40 }\n  plugin: openai-chat\n  params: { model: mock }\ndataset: { path: prompts.txt }\noutput: { work_dir: . }\n";
    for drain in ["drain: cancel", "drain: wait\n  drain_timeout: 200ms"] {
        let yaml =
            format!("{long}load:\n  {drain}\n  phases:\n    - users: [2]\n      duration: 300ms\n");
        let (r, _, _, _tmp) = run_yaml(&yaml, &[]).await;
        let l = &r.levels[0];
        assert_eq!(l.requests, 2, "{drain}");
        assert_eq!(
            l.errors_by_class.get("cancelled").map(|e| e.count),
            Some(2),
            "{drain}: {:?}",
            l.errors_by_class
        );
        assert!(
            l.errors_by_class["cancelled"]
                .example
                .contains("load.drain"),
            "a drain is told apart from a stopped run"
        );
        assert!(!r.interrupted);
        assert_eq!(
            (l.errors, l.cancelled),
            (0, 2),
            "cancelled is not a server error"
        );
        assert_eq!(l.error_rate, 0.0);
    }
}

/// A chat server that answers every request with a numbered reply and
/// keeps the request bodies.
async fn recording_server(bodies: Arc<Mutex<Vec<Value>>>) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: axum::Json<Value>| {
            let bodies = bodies.clone();
            async move {
                let n = {
                    let mut b = bodies.lock().unwrap();
                    b.push(body.0);
                    b.len()
                };
                let text = format!("reply number {n}");
                let sse = format!(
                    "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\ndata: [DONE]\n\n"
                );
                ([("content-type", "text/event-stream")], sse)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_sends_the_real_reply_back_in_the_next_turn() {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let url = recording_server(bodies.clone()).await;
    let convo = "{\"system\": \"Be brief.\", \"turns\": [\"First question\", {\"user\": \"Follow-up\", \"think_s\": 0.2}]}\n";
    let yaml = format!(
        "target:\n  url: {url}\n  plugin: openai-chat\n  params: {{ model: m }}\ndataset: {{ format: conversations, path: convo.jsonl }}\noutput: {{ work_dir: . }}\nload:\n  phases:\n    - users: [1]\n      requests: 1\n"
    );
    let (r, reqs, _, _tmp) = run_yaml(&yaml, &[("convo.jsonl", convo)]).await;
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "one session of two turns");
    let second = &bodies[1]["messages"];
    let roles: Vec<&str> = second
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(
        second[2]["content"], "reply number 1",
        "turn 1's real reply"
    );
    assert_eq!(second[3]["content"], "Follow-up");
    // Turn 2 is due 200 ms of think time after turn 1's reply ended.
    let turn = |t: u64| {
        reqs.iter()
            .find(|q| q["turn"].as_u64().unwrap_or(0) == t)
            .unwrap()
    };
    assert_eq!(field(turn(1), "planned"), field(turn(0), "end") + 200 * MS);
    let l = &r.levels[0];
    assert_eq!(l.requests, 2);
    assert_eq!(l.by_turn.len(), 2);
    assert_eq!((l.by_turn[0].turn, l.by_turn[1].turn), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn think_times_are_drawn_for_turns_that_give_none() {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let url = recording_server(bodies.clone()).await;
    // Turn 2 gives no think time (drawn: fixed 150 ms); turn 3 gives 0.
    let convo = "{\"turns\": [\"one\", \"two\", {\"user\": \"three\", \"think_s\": 0}]}\n";
    let yaml = format!(
        "target:\n  url: {url}\n  plugin: openai-chat\n  params: {{ model: m }}\ndataset: {{ format: conversations, path: convo.jsonl }}\noutput: {{ work_dir: . }}\nload:\n  think_ms: {{ dist: fixed, mean: 150 }}\n  phases:\n    - users: [1]\n      requests: 1\n"
    );
    let (_, reqs, _, _tmp) = run_yaml(&yaml, &[("convo.jsonl", convo)]).await;
    assert_eq!(reqs.len(), 3);
    let turn = |t: u64| {
        reqs.iter()
            .find(|q| q["turn"].as_u64().unwrap_or(0) == t)
            .unwrap()
    };
    assert_eq!(field(turn(1), "planned"), field(turn(0), "end") + 150 * MS);
    assert_eq!(field(turn(2), "planned"), field(turn(1), "end"));
    let last = &bodies.lock().unwrap()[2]["messages"];
    assert_eq!(
        last.as_array().unwrap().len(),
        5,
        "three user turns and two replies"
    );
}

// Sweeps and SLO searches against the embedded mock's load model (decode
// slots and a per-token time that grows with the batch), so the answer is
// fixed by the server's configuration: with 4 slots, a 5th concurrent user
// always waits for a whole response before its first token, far past the
// SLO, while 4 users have 150 ms to spare.

/// Each response: 50 ms to the first token, then 10 tokens 20 ms apart
/// (+1 ms per other running response); at most 4 at once. A queued request
/// waits at least a whole response (≥ 230 ms) before its own 50 ms.
const SLOTS_SERVER: &str = "target:\n  mock: { ttft_ms: 50, gap_ms: 20, output_tokens: 10, max_batch: 4, gap_ms_per_running: 1 }\n  plugin: openai-chat\n  params: { model: mock }\ndataset: { path: prompts.txt }\noutput: { work_dir: . }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_search_finds_the_decode_slots() {
    let yaml = format!(
        "{SLOTS_SERVER}slo: {{ ttft: 200ms }}\nload:\n  pause: 0s\n  phases:\n    - search: {{ over: users, start: 1, max: 64 }}\n      duration: 1s\n"
    );
    let (r, _, dir, _tmp) = run_yaml(&yaml, &[]).await;
    assert_eq!(r.searches.len(), 1);
    let s = &r.searches[0];
    assert_eq!(s.over, "users");
    assert_eq!(s.found, Some(4.0), "probes: {:?}", s.probes);
    let values: Vec<f64> = s.probes.iter().map(|p| p.value).collect();
    assert_eq!(&values[..4], &[1.0, 2.0, 4.0, 8.0], "doubling first");
    assert!(
        values.contains(&5.0),
        "then bisection down to the neighbour"
    );
    assert_eq!(r.levels.len(), s.probes.len(), "one level per probe");
    for (l, p) in r.levels.iter().zip(&s.probes) {
        assert_eq!(l.step.kind, "search");
        assert_eq!(l.step.passed, Some(p.passed));
        assert_eq!(f64::from(l.users), p.value);
    }
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("SLO search (users)"), "{md}");
    assert!(
        md.contains("Highest value meeting the objectives: **4.00** users"),
        "{md}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_sweep_spreads_rates_up_to_the_measured_most() {
    let yaml = format!(
        "{SLOTS_SERVER}load:\n  pause: 0s\n  phases:\n    - sweep: {{ rates: auto, points: 3, saturate_users: 8 }}\n      duration: 1s\n"
    );
    let (r, _, dir, _tmp) = run_yaml(&yaml, &[]).await;
    assert_eq!(r.levels.len(), 4);
    assert_eq!(r.levels[0].step.kind, "saturate");
    assert_eq!(r.levels[0].users, 8);
    let most = r.levels[0].throughput.requests_per_s;
    // 4 slots, each response at least 50 + 9 × 20 ms: at most ~17.4 req/s.
    assert!(most > 0.0 && most <= 4.0 / 0.23 + 0.5, "most {most}");
    let rates: Vec<f64> = r.levels[1..]
        .iter()
        .map(|l| l.step.target_rate.unwrap())
        .collect();
    let want = [most / 3.0, most * 2.0 / 3.0, most];
    for (got, want) in rates.iter().zip(want) {
        assert!((got - want).abs() < 1e-9, "{rates:?} vs most {most}");
    }
    assert!(r.levels[1..].iter().all(|l| l.step.kind == "sweep"));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("chart-latency_throughput"),
        "the sweep is plotted"
    );
}
