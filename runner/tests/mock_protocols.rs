//! The mock's native APIs (TGI, Ollama, Anthropic) over real loopback
//! sockets on port 0, and the built-in plugins run end to end against them
//! through `run::run`. Delays are a few ms; speed is never asserted.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use runner::mock::{MockConfig, MockServer, start};
use runner::results::RunResults;
use runner::run::{self, RunOptions};
use runner::scenario::{self, Overrides};
use serde_json::{Value, json};

/// Every test's bound on waiting for the server or a run.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

fn fast(output_tokens: Option<u32>) -> MockConfig {
    MockConfig {
        ttft_ms: 2.0,
        gap_ms: 1.0,
        output_tokens,
        jitter_ms: 0.0,
        seed: 42,
        ..MockConfig::default()
    }
}

async fn serve(config: MockConfig) -> MockServer {
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    start(config, any_port).await.expect("mock server starts")
}

/// POSTs `body` to `path`: status, content type and text.
async fn post(server: &MockServer, path: &str, body: Value) -> (u16, String, String) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(TEST_TIMEOUT)
        .build()
        .expect("client");
    let resp = client
        .post(format!("{}{path}", server.url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the mock answers");
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, kind, resp.text().await.expect("a body"))
}

/// The `data:` payloads of an SSE body, with their `event:` names.
fn sse_events(body: &str) -> Vec<(Option<String>, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = None;
            let mut data = String::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            let value = serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {data}"));
            (name, value)
        })
        .collect()
}

#[tokio::test]
async fn tgi_streams_tokens_then_details() {
    let server = serve(fast(None)).await;
    let body =
        json!({"inputs": "Hello there", "parameters": {"max_new_tokens": 5, "details": true}});
    let (status, kind, text) = post(&server, "/generate_stream", body.clone()).await;
    assert_eq!((status, kind.as_str()), (200, "text/event-stream"));
    let events = sse_events(&text);
    assert_eq!(events.len(), 6, "{text}");
    let tokens: String = events[..5]
        .iter()
        .map(|(_, v)| v["token"]["text"].as_str().expect("token text").to_string())
        .collect();
    assert!(!tokens.is_empty());
    assert!(events[..5].iter().all(|(_, v)| v["details"].is_null()));
    let last = &events[5].1;
    assert_eq!(last["token"]["special"], true);
    assert_eq!(last["details"]["finish_reason"], "length");
    assert_eq!(last["details"]["generated_tokens"], 5);
    assert_eq!(last["details"]["input_length"], 6);

    let (status, _, text) = post(&server, "/generate", body).await;
    assert_eq!(status, 200);
    let whole: Value = serde_json::from_str(&text).expect("JSON");
    assert!(
        !whole["generated_text"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(whole["details"]["generated_tokens"], 5);
    let (status, _, _) = post(&server, "/generate", json!({"parameters": {}})).await;
    assert_eq!(status, 400, "inputs is required");
    server.shutdown().await;
}

#[tokio::test]
async fn ollama_streams_ndjson_by_default() {
    let server = serve(fast(Some(4))).await;
    let body = json!({"model": "llama3", "messages": [{"role": "user", "content": "Hi"}]});
    let (status, kind, text) = post(&server, "/api/chat", body).await;
    assert_eq!((status, kind.as_str()), (200, "application/x-ndjson"));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 5, "{text}");
    for line in &lines[..4] {
        assert_eq!(line["done"], false);
        assert_eq!(line["model"], "llama3");
        assert!(
            !line["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        );
    }
    let last = &lines[4];
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["eval_count"], 4);
    assert_eq!(last["prompt_eval_count"], 1);

    let body = json!({"prompt": "Why?", "stream": false, "options": {"num_predict": 2}});
    let (status, _, text) = post(&server, "/api/generate", body).await;
    assert_eq!(status, 200);
    let whole: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(whole["done_reason"], "length");
    assert_eq!(whole["eval_count"], 2);
    assert!(!whole["response"].as_str().unwrap_or_default().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn anthropic_sends_typed_events_and_requires_max_tokens() {
    let server = serve(fast(None)).await;
    let body = json!({"model": "claude", "max_tokens": 3, "stream": true,
                      "system": "Be brief.", "messages": [{"role": "user", "content": "Hi"}]});
    let (status, _, text) = post(&server, "/v1/messages", body).await;
    assert_eq!(status, 200);
    let events = sse_events(&text);
    let names: Vec<&str> = events
        .iter()
        .map(|(n, _)| n.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for (name, data) in &events {
        assert_eq!(
            data["type"].as_str(),
            name.as_deref(),
            "type repeats the event name"
        );
    }
    assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 6);
    assert_eq!(events[6].1["delta"]["stop_reason"], "max_tokens");
    assert_eq!(events[6].1["usage"]["output_tokens"], 3);

    let body = json!({"max_tokens": 2, "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]});
    let (status, _, text) = post(&server, "/v1/messages", body).await;
    assert_eq!(status, 200);
    let whole: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(whole["type"], "message");
    assert_eq!(whole["usage"]["output_tokens"], 2);
    assert_eq!(whole["stop_reason"], "max_tokens");

    let (status, _, text) = post(&server, "/v1/messages", json!({"messages": []})).await;
    assert_eq!(status, 400);
    assert!(text.contains("max_tokens"), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn sglang_generate_sends_cumulative_text() {
    let server = serve(fast(None)).await;
    let body = json!({"text": "Hello", "sampling_params": {"max_new_tokens": 4}, "stream": true});
    let (status, kind, text) = post(&server, "/generate", body).await;
    assert_eq!((status, kind.as_str()), (200, "text/event-stream"));
    let (events, done): (Vec<&str>, Vec<&str>) = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .partition(|e| *e != "data: [DONE]");
    assert_eq!(done, ["data: [DONE]"], "{text}");
    let chunks: Vec<Value> = events
        .iter()
        .map(|e| {
            let data = e.strip_prefix("data: ").expect("a data line");
            serde_json::from_str(data).unwrap_or_else(|err| panic!("{err}: {data}"))
        })
        .collect();
    assert_eq!(chunks.len(), 4);
    for pair in chunks.windows(2) {
        let (a, b) = (pair[0]["text"].as_str(), pair[1]["text"].as_str());
        let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
        assert!(
            b.starts_with(a) && b.len() > a.len(),
            "not cumulative: {a:?} then {b:?}"
        );
    }
    assert!(chunks[2]["meta_info"]["finish_reason"].is_null());
    assert_eq!(chunks[3]["meta_info"]["finish_reason"]["type"], "length");
    assert_eq!(chunks[3]["meta_info"]["completion_tokens"], 4);
    assert_eq!(chunks[3]["meta_info"]["prompt_tokens"], 3);

    // The same path still answers TGI's `inputs`.
    let (status, _, text) = post(&server, "/generate", json!({"inputs": "Hi"})).await;
    assert_eq!(status, 200);
    assert!(text.contains("generated_text"), "{text}");
    server.shutdown().await;
}

/// Runs a one-level scenario with `plugin` against the embedded mock.
async fn run_plugin(dir: &Path, plugin: &str, stream: bool) -> RunResults {
    std::fs::write(
        dir.join("prompts.txt"),
        "你好，介绍一下你自己。\nWrite a haiku.\n",
    )
    .expect("prompts");
    let yaml = format!(
        r#"
name: {plugin}
target:
  mock: {{ ttft_ms: 5, gap_ms: 1, output_tokens: 12 }}
  plugin: {plugin}
  stream: {stream}
  params: {{ model: mock }}
dataset: {{ path: prompts.txt }}
load: {{ levels: [2], duration: 400ms, pause: 0s }}
output: {{ work_dir: . }}
"#
    );
    let path = dir.join(format!("{plugin}.yaml"));
    std::fs::write(&path, yaml).expect("scenario");
    let sc = scenario::load(&path, &Overrides::default()).unwrap_or_else(|d| panic!("{d}"));
    let options = RunOptions {
        hide_progress: true,
        cache_dir: Some(dir.join("cache")),
        ..Default::default()
    };
    let out = tokio::time::timeout(TEST_TIMEOUT, run::run(sc, options))
        .await
        .expect("the run ends in time")
        .unwrap_or_else(|e| panic!("{plugin}: {e:#}"));
    out.results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_plugins_run_against_the_mock() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for plugin in [
        "tgi",
        "ollama",
        "anthropic-messages",
        "sglang",
        "openai-completions",
    ] {
        for stream in [true, false] {
            let dir = tmp.path().join(format!("{plugin}-{stream}"));
            std::fs::create_dir_all(&dir).expect("dir");
            let r = run_plugin(&dir, plugin, stream).await;
            let l = &r.levels[0];
            let label = format!("{plugin} stream={stream}");
            assert!(l.requests >= 2, "{label}: {l:?}");
            assert_eq!(l.errors, 0, "{label}: {:?}", l.errors_by_class);
            assert!(l.throughput.chars_per_s > 0.0, "{label}: no content");
            // Every one of these APIs reports token counts.
            assert_eq!(l.token_source, "usage", "{label}");
            let tokens = l.output_tokens.expect("output tokens");
            assert_eq!((tokens.min, tokens.max), (12.0, 12.0), "{label}");
        }
    }
}
