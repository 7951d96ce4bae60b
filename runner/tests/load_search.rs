//! Sweeps and SLO searches end to end against the embedded mock's load
//! model (decode slots and a per-token time that grows with the batch), so
//! the answer is fixed by the server's configuration: with 4 slots, a 5th
//! concurrent user always waits for a whole response before its first
//! token, far past the SLO, while 4 users have 150 ms to spare.

use std::time::Duration;

use runner::results::RunResults;
use runner::run::{self, RunOptions};
use runner::scenario::{self, Overrides};

async fn run_yaml(yaml: &str) -> (RunResults, std::path::PathBuf, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("prompts.txt"),
        "你好\nWrite a haiku about autumn.\n",
    )
    .unwrap();
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
    (out.results, out.dir, tmp)
}

/// Each response: 50 ms to the first token, then 10 tokens 20 ms apart
/// (+1 ms per other running response); at most 4 at once. A queued request
/// waits at least a whole response (≥ 230 ms) before its own 50 ms.
const SERVER: &str = "target:\n  mock: { ttft_ms: 50, gap_ms: 20, output_tokens: 10, max_batch: 4, gap_ms_per_running: 1 }\n  plugin: openai-chat\n  params: { model: mock }\ndataset: { path: prompts.txt }\noutput: { work_dir: . }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_search_finds_the_decode_slots() {
    let yaml = format!(
        "{SERVER}slo: {{ ttft: 200ms }}\nload:\n  pause: 0s\n  phases:\n    - search: {{ over: users, start: 1, max: 64 }}\n      duration: 1s\n"
    );
    let (r, dir, _tmp) = run_yaml(&yaml).await;
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
        "{SERVER}load:\n  pause: 0s\n  phases:\n    - sweep: {{ rates: auto, points: 3, saturate_users: 8 }}\n      duration: 1s\n"
    );
    let (r, dir, _tmp) = run_yaml(&yaml).await;
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
