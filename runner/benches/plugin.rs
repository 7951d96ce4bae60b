//! What a protocol plugin costs on the hot path, beside a native Rust parse
//! of the same bytes, in one run so the ratios compare like with like:
//!
//! - `feed`: the built-in `openai-chat` parsing one ~170-byte SSE data frame,
//!   and the 4 frames of one network read in one call; natively, serde_json
//!   into a small struct (the same fields the plugin reads);
//! - `build-request`: one chat request with params merged in; natively, the
//!   same body built with serde_json;
//! - `checkout`: an instance out of the warm pool, its stream parser
//!   created, and both returned (what every request pays besides its calls);
//! - `threads`: the same single-frame `feed` on 1 and on 2 threads, each
//!   with its own instance, as elements per second (2 threads should give
//!   about twice the throughput of 1 when the cores are free).
//!
//! Run: `cargo bench -p runner --bench plugin -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;

use runner::plugin::{Frame, Plugin, PluginEngine, PluginLimits, Prompt, RequestInput, builtin};

/// One OpenAI chat-completions chunk as vLLM streams it (~170 bytes).
fn chunk(word: &str) -> String {
    format!(
        r#"{{"id":"chatcmpl-9f1c2a7b","object":"chat.completion.chunk","created":1732780800,"model":"qwen2.5-7b","choices":[{{"index":0,"delta":{{"content":"{word}"}},"finish_reason":null}}]}}"#
    )
}

fn frames(n: usize) -> Vec<Frame> {
    let words = [" the", " quick", " brown", " fox"];
    (0..n)
        .map(|i| Frame {
            event: None,
            data: chunk(words[i % words.len()]),
        })
        .collect()
}

/// The native twin of the plugin's parse: the fields it reads, no more.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    completion_tokens: Option<u32>,
}

/// Parses frames natively into owned events, as the plugin does.
fn native_feed(frames: &[Frame]) -> Vec<String> {
    let mut out = Vec::with_capacity(frames.len());
    for f in frames {
        if f.data == "[DONE]" {
            continue;
        }
        let Ok(c) = serde_json::from_str::<Chunk>(&f.data) else {
            continue;
        };
        if let Some(choice) = c.choices.into_iter().next() {
            if let Some(d) = choice.delta {
                out.extend(d.reasoning_content);
                out.extend(d.content);
            }
            out.extend(choice.finish_reason);
        }
        if let Some(n) = c.usage.and_then(|u| u.completion_tokens) {
            out.push(n.to_string());
        }
    }
    out
}

const PARAMS: &str = r#"{"model":"qwen2.5-7b","temperature":0.7}"#;

fn input() -> RequestInput {
    RequestInput {
        prompt: Prompt::Text(
            "Explain, in three sentences, why the sky is blue during the day and red at sunset."
                .into(),
        ),
        max_tokens: Some(256),
        stream: true,
        params_json: PARAMS.into(),
    }
}

/// The native twin of `build-request`: the same body from the same input.
fn native_build(input: &RequestInput) -> Vec<u8> {
    let Prompt::Text(text) = &input.prompt else {
        return Vec::new();
    };
    let mut body = serde_json::Map::new();
    body.insert(
        "messages".into(),
        serde_json::json!([{"role": "user", "content": text}]),
    );
    body.insert("stream".into(), input.stream.into());
    if let Some(n) = input.max_tokens {
        body.insert("max_tokens".into(), n.into());
    }
    body.insert(
        "stream_options".into(),
        serde_json::json!({"include_usage": true}),
    );
    if let Ok(serde_json::Value::Object(params)) = serde_json::from_str(&input.params_json) {
        body.extend(params);
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

fn plugin() -> Arc<Plugin> {
    let engine = Arc::new(PluginEngine::new(runner::plugin::default_cache_dir()).expect("engine"));
    let wasm = builtin::find("openai-chat")
        .expect("openai-chat is built in")
        .wasm;
    let plugin = Plugin::load(engine, "openai-chat", wasm, PluginLimits::default()).expect("load");
    plugin.prewarm(8).expect("prewarm");
    plugin
}

fn bench_feed(c: &mut Criterion) {
    let plugin = plugin();
    let one = frames(1);
    let four = frames(4);
    eprintln!("one frame: {} bytes of data", one[0].data.len());
    let mut lease = plugin.checkout().expect("checkout");
    lease.start_stream().expect("parser");
    // A sanity check that the benchmark measures real parsing.
    let events = lease.feed(&four).expect("feed");
    assert_eq!(events.len(), 4);
    assert_eq!(native_feed(&four).len(), 4);

    let mut g = c.benchmark_group("feed");
    g.throughput(Throughput::Elements(1));
    g.bench_function("wasm/1 frame", |b| {
        b.iter(|| black_box(lease.feed(black_box(&one)).expect("feed")))
    });
    g.bench_function("native/1 frame", |b| {
        b.iter(|| black_box(native_feed(black_box(&one))))
    });
    g.throughput(Throughput::Elements(4));
    g.bench_function("wasm/4 frames one read", |b| {
        b.iter(|| black_box(lease.feed(black_box(&four)).expect("feed")))
    });
    g.bench_function("native/4 frames one read", |b| {
        b.iter(|| black_box(native_feed(black_box(&four))))
    });
    g.finish();

    let input = input();
    let mut g = c.benchmark_group("build-request");
    g.bench_function("wasm", |b| {
        b.iter(|| black_box(lease.build_request(black_box(&input)).expect("build")))
    });
    g.bench_function("native", |b| {
        b.iter(|| black_box(native_build(black_box(&input))))
    });
    g.finish();
    drop(lease);

    let mut g = c.benchmark_group("pool");
    g.bench_function("checkout+parser+return", |b| {
        b.iter(|| {
            let mut lease = plugin.checkout().expect("checkout");
            lease.start_stream().expect("parser");
            drop(black_box(lease));
        })
    });
    g.finish();
}

/// `iters` single-frame feeds on each of `threads` threads, each with its
/// own instance, started together; returns the wall time of the slowest.
fn feed_on_threads(plugin: &Arc<Plugin>, threads: usize, iters: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let one = frames(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let barrier = barrier.clone();
                let one = one.clone();
                let mut lease = plugin.checkout().expect("checkout");
                lease.start_stream().expect("parser");
                s.spawn(move || {
                    barrier.wait();
                    for _ in 0..iters {
                        black_box(lease.feed(black_box(&one)).expect("feed"));
                    }
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        for h in handles {
            h.join().expect("worker");
        }
        started.elapsed()
    })
}

fn bench_threads(c: &mut Criterion) {
    let plugin = plugin();
    let mut g = c.benchmark_group("threads");
    for threads in [1usize, 2] {
        g.throughput(Throughput::Elements(threads as u64));
        g.bench_function(format!("feed 1 frame x {threads} threads"), |b| {
            b.iter_custom(|iters| feed_on_threads(&plugin, threads, iters))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_feed, bench_threads);
criterion_main!(benches);
