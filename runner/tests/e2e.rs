//! End to end: a small scenario runs through the real WASM plugin against the
//! embedded mock on 127.0.0.1, and the files it writes hold the right counts
//! and timings. Timings are checked against the mock's configured delays as
//! lower bounds only (a response can't come sooner than the server sends it);
//! speed is never asserted.

use std::path::Path;

use runner::results::RunResults;
use runner::run::{self, RunOptions};
use runner::scenario::{self, Overrides};

const PROMPTS: &str = "你好，请介绍一下你自己。\n32|Summarise the plot of Hamlet in two sentences.\nWrite a haiku about autumn.\n";

fn scenario_in(dir: &Path, yaml: &str) -> scenario::Scenario {
    std::fs::write(dir.join("prompts.txt"), PROMPTS).unwrap();
    let path = dir.join("e2e.yaml");
    std::fs::write(&path, yaml).unwrap();
    scenario::load(&path, &Overrides::default()).unwrap_or_else(|d| panic!("{d}"))
}

fn options(dir: &Path) -> RunOptions {
    RunOptions {
        hide_progress: true,
        cache_dir: Some(dir.join("cache")),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_scenario_through_the_real_plugin() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario_in(
        tmp.path(),
        r#"
name: e2e
target:
  mock: { ttft_ms: 50, gap_ms: 5, output_tokens: 16 }
  plugin: openai-chat
  params: { model: mock }
dataset: { path: prompts.txt }
load: { levels: [1, 4], duration: 1s, pause: 0s }
output: { work_dir: . }
live: { interval: 1s }
"#,
    );
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        run::run(sc, options(tmp.path())),
    )
    .await
    .expect("the run ends in time")
    .expect("the run succeeds");
    assert!(out.dir.starts_with(tmp.path().join("output")));

    let text = std::fs::read_to_string(out.dir.join("results.json")).unwrap();
    // Real output matches the committed, documented schema.
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../resources/results.schema.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let problems: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "results.json does not match its schema: {problems:#?}"
    );
    let r: RunResults = serde_json::from_str(&text).unwrap();
    assert_eq!(r.levels.len(), 2);
    assert!(!r.interrupted);
    assert_eq!(r.scenario.plugin, "openai-chat");
    let mut total = 0;
    for (l, users) in r.levels.iter().zip([1u32, 4]) {
        assert_eq!(l.users, users);
        assert!(l.requests >= u64::from(users), "{l:?}");
        assert_eq!(l.errors, 0, "{:?}", l.errors_by_class);
        assert_eq!(l.ok, l.requests);
        total += l.requests;
        // The mock sends exactly 16 tokens, one per chunk, and reports usage.
        assert_eq!(l.token_source, "usage");
        let tokens = l.output_tokens.unwrap();
        assert_eq!((tokens.min, tokens.max), (16.0, 16.0));
        assert_eq!(l.itl_ms.unwrap().count, 15 * l.ok);
        // No response comes sooner than the mock's delays.
        let ttft = l.ttft_ms.unwrap();
        assert!(ttft.min >= 49.9, "TTFT {ttft:?}");
        // (TPOT has no such bound: a late first token read shortens
        // t_N − t_1. The last token, though, leaves the mock no sooner than
        // 15 gaps after the first, which bounds E2E below.)
        assert!(l.tpot_ms.unwrap().p50 > 0.0);
        let e2e = l.e2e_ms.unwrap();
        assert!(e2e.min >= 50.0 + 15.0 * 5.0 - 0.5, "E2E {e2e:?}");
        // Users never exceed their number, and the window is the level's.
        assert!(l.concurrency.max <= u64::from(users));
        assert!(l.concurrency.mean > 0.0);
        // Ramp-in and the steady window make up the 1 s load window; the
        // steady window starts once every user had a response (≥ 125 ms).
        let p = l.phases;
        assert!((p.ramp_in_s + p.steady_s - 1.0).abs() < 0.05, "{p:?}");
        assert!(p.ramp_in_s >= 0.124, "{p:?}");
        assert_eq!(l.throughput.window_s, p.steady_s);
        assert!(l.throughput.chars_per_s > 0.0);
    }
    let lines = std::fs::read_to_string(out.dir.join("requests.jsonl")).unwrap();
    assert_eq!(lines.lines().count() as u64, total);
    let first: runner::sample::Sample =
        serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(first.planned <= first.sent && first.sent < first.end);
    assert_eq!(first.content.len(), 16);

    let md = std::fs::read_to_string(out.dir.join("report.md")).unwrap();
    for needle in [
        "# e2e",
        "并发",
        "问答/错误",
        "| 4 |",
        "## Definitions",
        "openai-chat",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_classified_not_fatal() {
    // Nothing listens on this port once the listener is dropped.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario_in(
        tmp.path(),
        &format!(
            r#"
name: refused
target: {{ url: "http://127.0.0.1:{port}" }}
dataset: {{ path: prompts.txt }}
load: {{ levels: [2], duration: 300ms, failure_backoff: 100ms }}
output: {{ work_dir: . }}
"#
        ),
    );
    let out = run::run(sc, options(tmp.path())).await.unwrap();
    let l = &out.results.levels[0];
    assert!(l.requests >= 2);
    assert_eq!(l.ok, 0);
    assert_eq!(l.errors_by_class["connect"].count, l.requests);
    assert!((l.error_rate - 1.0).abs() < 1e-12);
}

/// A word-level tokenizer.json: whitespace-split words (and runs of
/// punctuation), each one token.
const WORD_TOKENIZER: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[{"id":0,"content":"[UNK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0,"the":1},"unk_token":"[UNK]"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenizer_counts_and_calibration_reach_the_results() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("words.json"), WORD_TOKENIZER).unwrap();
    let sc = scenario_in(
        tmp.path(),
        r#"
name: tokens
target:
  mock: { ttft_ms: 20, gap_ms: 5, output_tokens: 12 }
  params: { model: mock }
dataset: { path: prompts.txt, tokenizer: words.json }
load: { levels: [2], duration: 500ms, pause: 0s }
output: { work_dir: . }
live: { interval: 1s, style: both }
calibrate: true
"#,
    );
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(90),
        run::run(sc, options(tmp.path())),
    )
    .await
    .expect("the run ends in time")
    .expect("the run succeeds");
    let l = &out.results.levels[0];
    assert_eq!(l.errors, 0, "{:?}", l.errors_by_class);
    // Usage is present, so it stays the headline source.
    assert_eq!(l.token_source, "usage");
    let tokens = l.tokens.expect("token sources");
    // Recount from requests.jsonl: every request carries its tokenizer count.
    let lines = std::fs::read_to_string(out.dir.join("requests.jsonl")).unwrap();
    let samples: Vec<runner::sample::Sample> = lines
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(samples.len() as u64, l.requests);
    let mut tokenizer_total = 0;
    let mut mismatches = 0;
    for s in &samples {
        let t = s.tokenizer_tokens.expect("a tokenizer count per request");
        assert!(t > 0);
        assert!(s.text.is_none(), "reply text is never written out");
        tokenizer_total += u64::from(t);
        let u = s.usage.and_then(|u| u.completion_tokens).unwrap();
        assert_eq!(u, 12);
        mismatches += u64::from(runner::metrics::tokens::mismatch(u, t));
    }
    assert!(!lines.contains("\"text\""));
    let tok = tokens.tokenizer.unwrap();
    assert_eq!((tok.requests, tok.total), (l.ok, tokenizer_total));
    assert_eq!(tokens.usage.unwrap().total, 12 * l.ok);
    assert_eq!(tokens.chunks.total, 12 * l.ok);
    assert_eq!(tokens.usage_tokenizer_mismatches, mismatches);
    assert_eq!(
        l.flags
            .iter()
            .any(|f| f.starts_with("token counts disagree")),
        mismatches > 0,
        "{:?}",
        l.flags
    );
    // The calibration ran at the level's 2 users and the mock's 200 chunks/s.
    let cal = out.results.calibration.as_ref().expect("calibration");
    assert_eq!((cal.streams_asked, cal.streams_max), (2, 2));
    assert_eq!(cal.chunk_rate_per_stream, 200.0);
    assert!(cal.ttft_added_ms.p50 >= 0.0, "{cal:?}");
    let md = std::fs::read_to_string(out.dir.join("report.md")).unwrap();
    assert!(md.contains("| Calibration budget | ceiling ≈ "), "{md}");
    assert!(
        md.contains(&format!(
            "Output of successful requests by source (usage and tokenizer count tokens; chunks are content events, not tokens): usage {} (mean 12.0, {} requests) · tokenizer {tokenizer_total} ",
            12 * l.ok,
            l.ok
        )),
        "{md}"
    );
}
