//! The embedded mock server end to end, over real loopback sockets on port 0.
//! Delays are a few ms at most; these tests check content and structure,
//! never speed (the exact timing is tested on a paused clock in the crate).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use runner::mock::{MockConfig, MockServer, start};
use serde_json::{Value, json};

/// Every test's bound on waiting for the server.
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

fn client() -> reqwest::Client {
    // No proxy: the tests talk to 127.0.0.1 only, whatever the environment says.
    reqwest::Client::builder()
        .no_proxy()
        .timeout(TEST_TIMEOUT)
        .build()
        .expect("client")
}

/// POSTs `body` to `path` and returns the status, content type and text.
async fn post(server: &MockServer, path: &str, body: &str) -> (u16, String, String) {
    let resp = client()
        .post(format!("{}{path}", server.url()))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, resp.text().await.expect("body read"))
}

/// The `data:` payloads of an SSE body, in order.
fn sse_data(body: &str) -> Vec<String> {
    assert!(body.ends_with("\n\n"), "an SSE body ends with a blank line");
    body.split_terminator("\n\n")
        .map(|event| {
            event
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {event:?}"))
                .to_owned()
        })
        .collect()
}

/// Splits an SSE body into its JSON chunks, checking `[DONE]` comes last.
fn chunks(body: &str) -> Vec<Value> {
    let mut data = sse_data(body);
    assert_eq!(
        data.pop().as_deref(),
        Some("[DONE]"),
        "[DONE] is the last event"
    );
    assert!(!data.contains(&"[DONE]".to_owned()), "[DONE] only once");
    data.iter()
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("chunk {d}: {e}")))
        .collect()
}

fn chat_body(max_tokens: Option<u32>, stream: bool, usage: bool) -> String {
    let mut body = json!({
        "model": "demo-model",
        "messages": [{"role": "user", "content": "介绍一下上海 in a few words"}],
        "stream": stream,
    });
    if let Some(m) = max_tokens {
        body["max_tokens"] = json!(m);
    }
    if usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body.to_string()
}

fn content_of(chunk: &Value) -> &str {
    chunk["choices"][0]["delta"]["content"]
        .as_str()
        .unwrap_or_default()
}

fn has_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[tokio::test]
async fn streaming_chat_sends_openai_chunks() {
    let server = serve(fast(Some(64))).await;
    let (status, content_type, body) = tokio::time::timeout(
        TEST_TIMEOUT,
        post(
            &server,
            "/v1/chat/completions",
            &chat_body(Some(40), true, false),
        ),
    )
    .await
    .expect("in time");
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/event-stream");
    let chunks = chunks(&body);

    let first = &chunks[0];
    assert_eq!(
        first["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let id = first["id"].as_str().expect("id");
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "demo-model");
        assert_eq!(chunk["id"], id);
        assert!(chunk["created"].is_u64());
        assert!(chunk.get("usage").is_none(), "no usage unless asked");
    }
    let content: Vec<&str> = chunks
        .iter()
        .map(content_of)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        content.len(),
        40,
        "min(output_tokens 64, max_tokens 40) tokens"
    );
    assert_eq!(chunks.len(), 41, "the role chunk, then one chunk per token");
    assert!(has_chinese(&content.concat()), "{}", content.concat());

    let finishes: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, [&json!("length")]);
    assert_eq!(
        chunks.last().expect("chunks")["choices"][0]["finish_reason"],
        "length"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn output_length_follows_config_and_max_tokens() {
    // (config output_tokens, request max_tokens, tokens, finish_reason)
    let cases = [
        (Some(5), Some(100), 5, "stop"),
        (Some(6), None, 6, "stop"),
        (None, Some(9), 9, "length"),
        (None, None, 128, "stop"),
        (Some(7), Some(7), 7, "length"),
    ];
    for (output_tokens, max_tokens, want, finish) in cases {
        let server = serve(fast(output_tokens)).await;
        let (status, _, body) = post(
            &server,
            "/v1/chat/completions",
            &chat_body(max_tokens, true, false),
        )
        .await;
        assert_eq!(status, 200);
        let chunks = chunks(&body);
        let tokens = chunks.iter().filter(|c| !content_of(c).is_empty()).count();
        assert_eq!(tokens, want, "{output_tokens:?} / {max_tokens:?}");
        let last = chunks.last().expect("chunks");
        assert_eq!(last["choices"][0]["finish_reason"], finish);
        server.shutdown().await;
    }
}

#[tokio::test]
async fn max_completion_tokens_is_read() {
    let server = serve(fast(None)).await;
    let body = json!({"messages": [{"role": "user", "content": "hi"}], "stream": true,
                      "max_completion_tokens": 3});
    let (_, _, text) = post(&server, "/v1/chat/completions", &body.to_string()).await;
    let tokens = chunks(&text)
        .iter()
        .filter(|c| !content_of(c).is_empty())
        .count();
    assert_eq!(tokens, 3);
    server.shutdown().await;
}

#[tokio::test]
async fn usage_chunk_comes_only_when_asked() {
    let server = serve(fast(Some(12))).await;
    let (_, _, body) = post(
        &server,
        "/v1/chat/completions",
        &chat_body(None, true, true),
    )
    .await;
    let chunks = chunks(&body);
    let usage = chunks.last().expect("chunks");
    assert_eq!(usage["choices"], json!([]));
    let prompt = "介绍一下上海 in a few words".chars().count().div_ceil(2);
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": prompt, "completion_tokens": 12, "total_tokens": prompt + 12})
    );
    assert_eq!(
        chunks.iter().filter(|c| c.get("usage").is_some()).count(),
        1
    );
    let before = &chunks[chunks.len() - 2];
    assert_eq!(before["choices"][0]["finish_reason"], "stop");

    let (_, _, body) = post(
        &server,
        "/v1/chat/completions",
        &chat_body(None, true, false),
    )
    .await;
    let plain = self::chunks(&body);
    assert!(plain.iter().all(|c| c.get("usage").is_none()));
    assert!(
        plain
            .iter()
            .all(|c| c["choices"].as_array().is_some_and(|a| a.len() == 1))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn non_streaming_chat_returns_one_body() {
    let server = serve(fast(Some(30))).await;
    let (status, content_type, body) = post(
        &server,
        "/v1/chat/completions",
        &chat_body(Some(20), false, false),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    let v: Value = serde_json::from_str(&body).expect("json body");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "demo-model");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    let content = v["choices"][0]["message"]["content"]
        .as_str()
        .expect("content");
    assert!(!content.is_empty());
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 20);
    let prompt = v["usage"]["prompt_tokens"].as_u64().expect("prompt tokens");
    assert!(prompt >= 1);
    assert_eq!(v["usage"]["total_tokens"], prompt + 20);
    server.shutdown().await;
}

#[tokio::test]
async fn completions_stream_and_body_use_text() {
    let server = serve(fast(Some(8))).await;
    let stream = json!({"model": "m", "prompt": "Once upon a time", "stream": true,
                        "stream_options": {"include_usage": true}});
    let (status, _, body) = post(&server, "/v1/completions", &stream.to_string()).await;
    assert_eq!(status, 200);
    let chunks = chunks(&body);
    assert_eq!(
        chunks.len(),
        9,
        "8 tokens and the usage chunk, no role chunk"
    );
    for chunk in &chunks[..8] {
        assert_eq!(chunk["object"], "text_completion");
        assert!(
            !chunk["choices"][0]["text"]
                .as_str()
                .expect("text")
                .is_empty()
        );
        assert!(chunk["choices"][0].get("delta").is_none());
    }
    assert_eq!(chunks[7]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[8]["usage"]["prompt_tokens"], 8, "16 chars / 2");

    let whole = json!({"prompt": ["ab", "c"], "max_tokens": 4});
    let (status, _, body) = post(&server, "/v1/completions", &whole.to_string()).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).expect("json body");
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["model"], "mock-model");
    assert!(!v["choices"][0]["text"].as_str().expect("text").is_empty());
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let server = serve(fast(Some(4))).await;
    let cases = [
        ("/v1/chat/completions", "{not json", None),
        ("/v1/chat/completions", r#"{"model":"m"}"#, Some("messages")),
        (
            "/v1/chat/completions",
            r#"{"messages":[{"content":"x"}],"max_tokens":-1}"#,
            Some("max_tokens"),
        ),
        (
            "/v1/completions",
            r#"{"messages":[{"content":"x"}]}"#,
            Some("prompt"),
        ),
        ("/v1/completions", "", None),
    ];
    for (path, body, param) in cases {
        let (status, content_type, text) = post(&server, path, body).await;
        assert_eq!(status, 400, "{path} {body}");
        assert_eq!(content_type, "application/json");
        let v: Value = serde_json::from_str(&text).expect("json error");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(!v["error"]["message"].as_str().expect("message").is_empty());
        assert_eq!(v["error"]["param"].as_str(), param, "{body}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn models_health_and_unknown_paths() {
    let server = serve(fast(None)).await;
    let c = client();
    let models = c
        .get(format!("{}/v1/models", server.url()))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    let models: Value = serde_json::from_str(&models).expect("json");
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "mock-model");
    let health = c
        .get(format!("{}/health", server.url()))
        .send()
        .await
        .expect("sent");
    assert_eq!(health.status().as_u16(), 200);
    let missing = c
        .get(format!("{}/v2/nothing", server.url()))
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status().as_u16(), 404);
    let v: Value = serde_json::from_str(&missing.text().await.expect("body")).expect("json");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("message")
            .contains("/v1/chat/completions")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn same_seed_same_text_in_both_modes() {
    async fn first_text(seed: u64, stream: bool) -> String {
        let server = serve(MockConfig {
            seed,
            ..fast(Some(25))
        })
        .await;
        let (_, _, body) = post(
            &server,
            "/v1/chat/completions",
            &chat_body(None, stream, false),
        )
        .await;
        server.shutdown().await;
        if stream {
            chunks(&body).iter().map(content_of).collect()
        } else {
            let v: Value = serde_json::from_str(&body).expect("json");
            v["choices"][0]["message"]["content"]
                .as_str()
                .expect("content")
                .to_owned()
        }
    }
    let a = first_text(5, true).await;
    assert_eq!(a, first_text(5, true).await);
    assert_eq!(
        a,
        first_text(5, false).await,
        "the body is the stream's text"
    );
    assert_ne!(a, first_text(6, true).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_streams_complete() {
    const STREAMS: usize = 500;
    const TOKENS: usize = 16;
    let config = MockConfig {
        ttft_ms: 5.0,
        gap_ms: 2.0,
        output_tokens: Some(TOKENS as u32),
        jitter_ms: 1.0,
        seed: 3,
        ..MockConfig::default()
    };
    let server = serve(config).await;
    let url = format!("{}/v1/chat/completions", server.url());
    let c = client();
    let body = chat_body(None, true, true);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..STREAMS {
        let (c, url, body) = (c.clone(), url.clone(), body.clone());
        tasks.spawn(async move {
            let resp = c.post(&url).body(body).send().await.expect("sent");
            assert_eq!(resp.status().as_u16(), 200);
            resp.text().await.expect("body")
        });
    }
    let mut ids = HashSet::new();
    let all = async {
        while let Some(done) = tasks.join_next().await {
            let chunks = chunks(&done.expect("task"));
            let tokens = chunks.iter().filter(|c| !content_of(c).is_empty()).count();
            assert_eq!(tokens, TOKENS);
            let usage = chunks.last().expect("chunks");
            assert_eq!(usage["usage"]["completion_tokens"], TOKENS);
            ids.insert(chunks[0]["id"].as_str().expect("id").to_owned());
        }
    };
    tokio::time::timeout(TEST_TIMEOUT, all)
        .await
        .expect("all streams end in time");
    assert_eq!(ids.len(), STREAMS, "one response per request");
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_cuts_in_flight_streams_and_closes_the_port() {
    let config = MockConfig {
        ttft_ms: 0.0,
        gap_ms: 600_000.0,
        ..fast(Some(10))
    };
    let server = serve(config).await;
    let url = server.url();
    let mut resp = client()
        .post(format!("{url}/v1/chat/completions"))
        .body(chat_body(None, true, false))
        .send()
        .await
        .expect("sent");
    let first = tokio::time::timeout(TEST_TIMEOUT, resp.chunk())
        .await
        .expect("first token in time")
        .expect("read")
        .expect("a chunk");
    assert!(String::from_utf8_lossy(&first).contains("\"role\":\"assistant\""));

    let stopping = tokio::spawn(server.shutdown());
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(TEST_TIMEOUT, async {
        loop {
            match resp.chunk().await {
                Ok(Some(bytes)) => rest.extend_from_slice(&bytes),
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    })
    .await
    .expect("the stream ends soon after shutdown");
    assert!(ended.is_err(), "a cut stream is an error, not a clean end");
    assert!(!String::from_utf8_lossy(&rest).contains("[DONE]"));
    tokio::time::timeout(TEST_TIMEOUT, stopping)
        .await
        .expect("shutdown returns")
        .expect("shutdown task");
    let after = client().get(format!("{url}/health")).send().await;
    assert!(after.is_err_and(|e| e.is_connect()), "the port is closed");
}

#[tokio::test]
async fn shutdown_answers_waiting_bodies_with_503() {
    let config = MockConfig {
        ttft_ms: 600_000.0,
        ..fast(Some(2))
    };
    let server = serve(config).await;
    let url = format!("{}/v1/chat/completions", server.url());
    let waiting = tokio::spawn(async move {
        let resp = client()
            .post(url)
            .body(chat_body(None, false, false))
            .send()
            .await;
        resp.map(|r| r.status().as_u16())
    });
    // Stop only once the request is inside the handler, waiting on its due time.
    let mut polls = 0;
    while server.requests() == 0 {
        polls += 1;
        assert!(polls < 6000, "the request never reached the server");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::timeout(TEST_TIMEOUT, server.shutdown())
        .await
        .expect("shutdown returns");
    let status = tokio::time::timeout(TEST_TIMEOUT, waiting)
        .await
        .expect("answered in time")
        .expect("task")
        .expect("a response, not a dropped connection");
    assert_eq!(status, 503);
}

#[tokio::test]
async fn bad_configs_are_refused_before_binding() {
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let bad = [
        MockConfig {
            ttft_ms: -1.0,
            ..MockConfig::default()
        },
        MockConfig {
            gap_ms: f64::INFINITY,
            ..MockConfig::default()
        },
        MockConfig {
            output_tokens: Some(0),
            ..MockConfig::default()
        },
    ];
    for config in bad {
        let err = start(config.clone(), any_port).await.expect_err("refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{config:?}");
        assert!(err.to_string().contains("mock"), "{err}");
    }
}
