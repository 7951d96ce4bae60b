//! `runner plugin check`: load a plugin as a run would and exercise every
//! export on sample input, printing what it does and listing what is wrong.
//!
//! The checks, in order:
//! 1. the bytes are a component whose imports and exports fit the contract;
//! 2. it loads: links, instantiates, and its `info()` names a WIT version
//!    this runner speaks;
//! 3. `build-request` on sample prompts (text and chat, streamed and not)
//!    gives a request the HTTP client can send (method, path, headers, and a
//!    body that parses when it claims to be JSON);
//! 4. the fixture, framed by the host's real [`Framer`], gives the same
//!    events whether it arrives in one read or in 7-byte reads, with at
//!    least one non-empty `text` and a `finish`;
//! 5. `parse-response` copes with an HTTP error body.
//!
//! A trap anywhere (a plugin fault) and an `err` returned from
//! `build-request` or the stream parser are problems.

use std::io::Write;
use std::sync::Arc;

use wasmtime::component::Component;

use crate::executor::framing_of;
use crate::framing::{DEFAULT_MAX_LINE, Framer};
use crate::plugin::{
    CallError, ChatMessage, Event, Frame, Framing, Lease, Plugin, PluginEngine, PluginLimits,
    Prompt, RequestInput, WIT_VERSION,
};

/// The contract's interface names, without their `@version`.
const PROTOCOL: &str = "llm-perf:plugin/protocol";
/// The contract's own imports (`host`, `types`) start with this.
const CONTRACT: &str = "llm-perf:plugin/";

/// The read size of the split pass: small and odd, so reads end inside
/// frames, line ends and UTF-8 sequences.
const SPLIT_READ: usize = 7;

/// What to check beyond the plugin itself.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// A recorded response body to feed, as the server sent it.
    pub fixture: Option<Vec<u8>>,
    /// The scenario's `params` as a JSON object.
    pub params_json: String,
}

/// What the check found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Everything that would go wrong in a run; empty when the plugin passed.
    pub problems: Vec<String>,
    /// Remarks that are not failures (WASI imports, an error event in the
    /// fixture, a skipped step).
    pub notes: Vec<String>,
}

/// The sample inputs `check` builds requests for: a text prompt and a chat,
/// streamed, and the text prompt not streamed.
pub fn sample_inputs(params_json: &str) -> Vec<(&'static str, RequestInput)> {
    let text = Prompt::Text("Hello! Tell me about Hangzhou in two sentences.".into());
    let chat = Prompt::Chat(vec![
        ChatMessage {
            role: "system".into(),
            content: "You are a concise assistant.".into(),
        },
        ChatMessage {
            role: "user".into(),
            content: "1 + 1 = ?".into(),
        },
    ]);
    let input = |prompt: Prompt, stream: bool| RequestInput {
        prompt,
        max_tokens: Some(64),
        stream,
        params_json: params_json.to_string(),
    };
    vec![
        ("text prompt, streamed", input(text.clone(), true)),
        ("chat messages, streamed", input(chat, true)),
        ("text prompt, not streamed", input(text, false)),
    ]
}

/// Loads `wasm` on `engine` and runs every check, writing what it sees to
/// `out`. Only a failure to write is an `Err`; everything the plugin does
/// wrong is in the report's `problems`.
pub fn check(
    engine: Arc<PluginEngine>,
    label: &str,
    wasm: &[u8],
    opts: &CheckOptions,
    out: &mut dyn Write,
) -> std::io::Result<CheckReport> {
    let mut report = CheckReport::default();
    let loaded = load(&engine, label, wasm, out, &mut report)?;
    if let Some(plugin) = loaded {
        requests(&plugin, &opts.params_json, out, &mut report)?;
        match &opts.fixture {
            Some(body) => stream(&plugin, body, out, &mut report)?,
            None => report
                .notes
                .push("no --fixture given: the stream parser was not checked".into()),
        }
        error_response(&plugin, out, &mut report)?;
    }
    writeln!(out)?;
    for note in &report.notes {
        writeln!(out, "note: {note}")?;
    }
    if report.problems.is_empty() {
        writeln!(out, "ok: no problems found")?;
    } else {
        writeln!(out, "{} problem(s):", report.problems.len())?;
        for p in &report.problems {
            writeln!(out, "  - {p}")?;
        }
    }
    Ok(report)
}

/// Steps 1 and 2: the component's shape, then a real load.
fn load(
    engine: &Arc<PluginEngine>,
    label: &str,
    wasm: &[u8],
    out: &mut dyn Write,
    report: &mut CheckReport,
) -> std::io::Result<Option<Arc<Plugin>>> {
    let component = match Component::new(engine.engine(), wasm) {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(format!(
                "not a WASM component ({e:#}); build it with `cargo build --release --target wasm32-wasip2`"
            ));
            return Ok(None);
        }
    };
    let ty = component.component_type();
    let want = format!("@{WIT_VERSION}");
    let exports: Vec<String> = ty
        .exports(engine.engine())
        .map(|(n, _)| n.to_string())
        .collect();
    match exports.iter().find(|n| n.starts_with(PROTOCOL)) {
        None => report.problems.push(format!(
            "the component does not export {PROTOCOL} (exports: {}); build it from the `plugin` world of wit/plugin.wit",
            list_or_none(&exports)
        )),
        Some(name) if !name.ends_with(&want) => report.problems.push(format!(
            "the component exports {name}, this runner speaks {PROTOCOL}{want}; copy this runner's wit/plugin.wit and rebuild"
        )),
        Some(_) => {}
    }
    let mut wasi = Vec::new();
    for (name, _) in ty.imports(engine.engine()) {
        if name.starts_with(CONTRACT) {
            continue;
        }
        wasi.push(name.to_string());
    }
    writeln!(out, "component: {} bytes", wasm.len())?;
    writeln!(out, "  exports: {}", list_or_none(&exports))?;
    if !wasi.is_empty() {
        writeln!(
            out,
            "  other imports (they trap if called): {}",
            wasi.join(", ")
        )?;
        report.notes.push(
            "the plugin imports WASI interfaces (std links them); the runner defines them as traps, \
             so never print, read the environment, files or clocks"
                .into(),
        );
    }
    let plugin = match Plugin::load(engine.clone(), label, wasm, PluginLimits::default()) {
        Ok(p) => p,
        Err(e) => {
            report.problems.push(e.to_string());
            return Ok(None);
        }
    };
    let i = plugin.info();
    writeln!(out)?;
    writeln!(out, "info()")?;
    writeln!(out, "  name:        {}", i.name)?;
    writeln!(out, "  version:     {}", i.version)?;
    writeln!(
        out,
        "  wit-version: {} (runner: {WIT_VERSION})",
        i.wit_version
    )?;
    writeln!(out, "  framing:     {}", framing_of(i.framing))?;
    writeln!(out, "  description: {}", i.description)?;
    if i.name.trim().is_empty() {
        report.problems.push("info() gives an empty name".into());
    }
    if i.version.trim().is_empty() {
        report.problems.push("info() gives an empty version".into());
    }
    Ok(Some(plugin))
}

/// Step 3: `build-request` on each sample input.
fn requests(
    plugin: &Arc<Plugin>,
    params_json: &str,
    out: &mut dyn Write,
    report: &mut CheckReport,
) -> std::io::Result<()> {
    for (what, input) in sample_inputs(params_json) {
        writeln!(out)?;
        writeln!(out, "build-request: {what}")?;
        let built = match plugin.checkout() {
            Ok(mut lease) => lease.build_request(&input),
            Err(e) => Err(e),
        };
        let req = match built {
            Ok(r) => r,
            Err(CallError::Rejected(msg)) => {
                writeln!(out, "  rejected: {msg}")?;
                report.problems.push(format!(
                    "build-request rejected the {what} ({msg}); if the plugin needs params, pass them with --params"
                ));
                continue;
            }
            Err(CallError::Fault(msg)) => {
                writeln!(out, "  trapped: {msg}")?;
                report
                    .problems
                    .push(format!("build-request trapped on the {what}: {msg}"));
                continue;
            }
        };
        writeln!(out, "  {} {}", req.method, req.path)?;
        let mut json = false;
        for h in &req.headers {
            writeln!(out, "  {}: {}", h.name, h.value)?;
            if reqwest::header::HeaderName::from_bytes(h.name.as_bytes()).is_err()
                || reqwest::header::HeaderValue::from_str(&h.value).is_err()
            {
                report.problems.push(format!(
                    "{what}: header `{}: {}` is not a valid HTTP header",
                    h.name, h.value
                ));
            }
            json |= h.name.eq_ignore_ascii_case("content-type") && h.value.contains("json");
        }
        if reqwest::Method::from_bytes(req.method.as_bytes()).is_err() || req.method.is_empty() {
            report
                .problems
                .push(format!("{what}: `{}` is not an HTTP method", req.method));
        }
        if !req.path.starts_with('/') {
            report.problems.push(format!(
                "{what}: the path `{}` must start with `/` (it is joined to the target URL)",
                req.path
            ));
        }
        match std::str::from_utf8(&req.body) {
            Ok(text) => {
                let shown = match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_else(|_| text.to_string()),
                    Err(e) => {
                        if json {
                            report.problems.push(format!(
                                "{what}: the body is sent as JSON but does not parse: {e}"
                            ));
                        }
                        text.to_string()
                    }
                };
                writeln!(out)?;
                for line in shown.lines() {
                    writeln!(out, "  {line}")?;
                }
            }
            Err(_) => writeln!(out, "  <{} bytes of binary body>", req.body.len())?,
        }
    }
    Ok(())
}

/// Step 4: the fixture through the host's framing and the stream parser,
/// once in a single read and once in small reads.
fn stream(
    plugin: &Arc<Plugin>,
    body: &[u8],
    out: &mut dyn Write,
    report: &mut CheckReport,
) -> std::io::Result<()> {
    let framing = plugin.info().framing;
    writeln!(out)?;
    writeln!(
        out,
        "stream: {} bytes of fixture, {} framing, in one read",
        body.len(),
        framing_of(framing)
    )?;
    let whole = match run_stream(plugin, framing, body, body.len().max(1)) {
        Ok(events) => events,
        Err(problem) => {
            writeln!(out, "  {problem}")?;
            report.problems.push(problem);
            return Ok(());
        }
    };
    for e in &whole {
        writeln!(out, "  {}", describe(e))?;
    }
    let split = run_stream(plugin, framing, body, SPLIT_READ);
    match split {
        Ok(events) => {
            let a: Vec<String> = whole.iter().map(describe).collect();
            let b: Vec<String> = events.iter().map(describe).collect();
            if a != b {
                report.problems.push(format!(
                    "the events differ when the same body arrives in {SPLIT_READ}-byte reads \
                     ({} events against {}): the parser must keep its state across feed calls",
                    b.len(),
                    a.len()
                ));
            }
        }
        Err(problem) => report
            .problems
            .push(format!("in {SPLIT_READ}-byte reads: {problem}")),
    }
    let texts: Vec<&str> = whole
        .iter()
        .filter_map(|e| match e {
            Event::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    if texts.is_empty() {
        report.problems.push(
            "the fixture gave no text event: a run would count every such request as `empty`"
                .into(),
        );
    }
    if texts.iter().any(|t| t.is_empty()) {
        report
            .problems
            .push("an empty text event: it would count as a token; emit nothing instead".into());
    }
    if !whole.iter().any(|e| matches!(e, Event::Finish(_))) {
        report.problems.push(
            "the fixture gave no finish event: the finish reason (stop, length) would be unknown"
                .into(),
        );
    }
    if whole.iter().any(|e| matches!(e, Event::Error(_))) {
        report
            .notes
            .push("the fixture gave an error event (a run counts it as `stream_error`)".into());
    }
    Ok(())
}

/// Feeds `body` in reads of `read` bytes, as the executor does: one `feed`
/// per read that completed frames, then `finish`. A problem is an `Err`.
fn run_stream(
    plugin: &Arc<Plugin>,
    framing: Framing,
    body: &[u8],
    read: usize,
) -> Result<Vec<Event>, String> {
    let mut lease: Lease = plugin.checkout().map_err(|e| e.to_string())?;
    lease
        .start_stream()
        .map_err(|e| call_problem("the stream-parser constructor", e))?;
    let mut framer = Framer::new(framing_of(framing), DEFAULT_MAX_LINE);
    let mut wire = Vec::new();
    let mut events = Vec::new();
    let mut chunks = body.chunks(read.max(1)).peekable();
    loop {
        let chunk = chunks.next();
        let pushed = match chunk {
            Some(c) => framer.push(c, &mut wire),
            None => framer.finish(&mut wire),
        };
        pushed.map_err(|e| format!("the host's framing refused the fixture: {e}"))?;
        if !wire.is_empty() {
            let frames: Vec<Frame> = wire
                .drain(..)
                .map(|f| Frame {
                    event: f.event,
                    data: f.data,
                })
                .collect();
            events.extend(lease.feed(&frames).map_err(|e| call_problem("feed", e))?);
        }
        if chunk.is_none() {
            break;
        }
    }
    events.extend(
        lease
            .finish_stream()
            .map_err(|e| call_problem("finish", e))?,
    );
    Ok(events)
}

/// Step 5: `parse-response` on an HTTP 500 with a plain-text body must not
/// trap (an `err` or an `error` event are both fine).
fn error_response(
    plugin: &Arc<Plugin>,
    out: &mut dyn Write,
    report: &mut CheckReport,
) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "parse-response: HTTP 500, body `internal error`")?;
    let result = plugin
        .checkout()
        .and_then(|mut lease| lease.parse_response(500, b"internal error"));
    match result {
        Ok(events) => {
            for e in &events {
                writeln!(out, "  {}", describe(e))?;
            }
        }
        Err(CallError::Rejected(msg)) => writeln!(out, "  rejected: {msg}")?,
        Err(CallError::Fault(msg)) => {
            writeln!(out, "  trapped: {msg}")?;
            report
                .problems
                .push(format!("parse-response trapped on an HTTP 500 body: {msg}"));
        }
    }
    Ok(())
}

fn call_problem(call: &str, e: CallError) -> String {
    match e {
        CallError::Fault(msg) => format!("{call} trapped: {msg}"),
        CallError::Rejected(msg) => format!(
            "{call} rejected the stream ({msg}): a run would count the request as `protocol`"
        ),
    }
}

/// One event as `check` prints it.
fn describe(e: &Event) -> String {
    let opt = |v: Option<u32>| v.map_or("-".to_string(), |n| n.to_string());
    match e {
        Event::Text(t) => format!("text {t:?}"),
        Event::Reasoning(t) => format!("reasoning {t:?}"),
        Event::Usage(u) => format!(
            "usage prompt={} completion={}",
            opt(u.prompt_tokens),
            opt(u.completion_tokens)
        ),
        Event::Finish(r) => format!("finish {r:?}"),
        Event::Error(m) => format!("error {m:?}"),
        Event::Done => "done".to_string(),
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}
