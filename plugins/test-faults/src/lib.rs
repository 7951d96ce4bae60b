//! `test-faults`: a plugin for the runner's own tests. It speaks a minimal
//! OpenAI-compatible chat protocol and misbehaves when the scenario asks:
//! `params: { fault: KIND, at: build | feed }`, where KIND is
//!
//! - `panic`: panics (a trap after the panic hook logs it);
//! - `loop`: never returns (the host's epoch deadline must stop it);
//! - `alloc`: allocates without end (the host's memory cap must stop it);
//! - `file`: reads a file (no WASI is linked: the call traps);
//! - `env`: reads an environment variable (traps likewise);
//! - `reject`: returns an error (a protocol error, not a fault).
//!
//! `at: feed` (the default is `build`) misbehaves in the stream parser
//! instead. The fault `params` keys are removed from the request body.
//! It is never embedded in the runner; tests load it from the build folder.

use std::cell::RefCell;

wit_bindgen::generate!({
    path: "../../wit",
    world: "plugin",
});

use exports::llm_perf::plugin::protocol::{Guest, GuestStreamParser};
use llm_perf::plugin::host::{Level, log};
use llm_perf::plugin::types as wit;

/// std's default panic hook reads `RUST_BACKTRACE` (a WASI call, which
/// traps here); this one reports the panic through `host.log` instead.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| log(Level::Error, &info.to_string())));
    });
}

#[derive(Clone, Default)]
struct Fault {
    kind: String,
    at_feed: bool,
}

thread_local! {
    // The fault set by the last build-request on this instance: the host
    // builds a request and parses its stream on the same instance.
    static FAULT: RefCell<Fault> = RefCell::new(Fault::default());
}

fn misbehave(kind: &str) -> Result<(), String> {
    match kind {
        "panic" => panic!("test-faults asked to panic"),
        "loop" => {
            let mut x: u64 = 1;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        "alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "file" => {
            let bytes = std::fs::read("/etc/hostname").map_err(|e| e.to_string())?;
            Err(format!("read {} bytes from a file", bytes.len()))
        }
        "env" => {
            let v = std::env::var("HOME").map_err(|e| e.to_string())?;
            Err(format!("read HOME={v}"))
        }
        "reject" => Err("test-faults rejects this on purpose".to_string()),
        _ => Ok(()),
    }
}

struct FaultTest;

impl Guest for FaultTest {
    type StreamParser = Parser;

    fn info() -> wit::PluginInfo {
        wit::PluginInfo {
            name: "test-faults".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            wit_version: "0.1.0".into(),
            description: "misbehaves on request, for the runner's sandbox tests".into(),
            framing: wit::Framing::Sse,
        }
    }

    fn build_request(input: wit::RequestInput) -> Result<wit::HttpRequest, String> {
        install_panic_hook();
        let mut params: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&input.params_json).map_err(|e| e.to_string())?;
        let kind = params
            .remove("fault")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let at_feed = params
            .remove("at")
            .and_then(|v| v.as_str().map(|s| s == "feed"))
            == Some(true);
        FAULT.with(|f| {
            *f.borrow_mut() = Fault {
                kind: kind.clone(),
                at_feed,
            }
        });
        if !at_feed {
            misbehave(&kind)?;
        }
        let messages = match input.prompt {
            wit::Prompt::Text(t) => serde_json::json!([{ "role": "user", "content": t }]),
            wit::Prompt::Chat(m) => serde_json::Value::Array(
                m.into_iter()
                    .map(|m| serde_json::json!({ "role": m.role, "content": m.content }))
                    .collect(),
            ),
        };
        params.insert("messages".into(), messages);
        params.insert("stream".into(), input.stream.into());
        if let Some(n) = input.max_tokens {
            params.insert("max_tokens".into(), n.into());
        }
        Ok(wit::HttpRequest {
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            headers: vec![wit::Header {
                name: "content-type".into(),
                value: "application/json".into(),
            }],
            body: serde_json::Value::Object(params).to_string().into_bytes(),
        })
    }

    fn parse_response(_status: u16, body: Vec<u8>) -> Result<Vec<wit::Event>, String> {
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let text = v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default();
        Ok(vec![wit::Event::Text(text.to_owned())])
    }
}

struct Parser;

impl GuestStreamParser for Parser {
    fn new() -> Self {
        Parser
    }

    fn feed(&self, frames: Vec<wit::Frame>) -> Result<Vec<wit::Event>, String> {
        let fault = FAULT.with(|f| f.borrow().clone());
        if fault.at_feed {
            misbehave(&fault.kind)?;
        }
        let mut events = Vec::new();
        for f in frames {
            if f.data == "[DONE]" {
                events.push(wit::Event::Done);
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&f.data).map_err(|e| e.to_string())?;
            if let Some(t) = v["choices"][0]["delta"]["content"].as_str()
                && !t.is_empty()
            {
                events.push(wit::Event::Text(t.to_owned()));
            }
        }
        Ok(events)
    }

    fn finish(&self) -> Result<Vec<wit::Event>, String> {
        Ok(Vec::new())
    }
}

export!(FaultTest);
