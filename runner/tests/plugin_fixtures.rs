//! Golden fixtures: every built-in plugin's `plugins/<name>/fixtures/` holds
//! raw response bodies (`<case>.stream`) and the events they must give
//! (`<case>.events`, one JSON value per line). Each body goes through the
//! real host path, as the executor runs it: `framing::Framer` in network
//! reads of several sizes and split points (mid-UTF-8 included), then the
//! embedded `.wasm` through a pool lease's `feed` and `finish`. Every split
//! must give exactly the expected events. Whole (non-streamed) responses,
//! `<case>.response`, go through the plugin's `parse-response` likewise.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use runner::executor::framing_of;
use runner::framing::{DEFAULT_MAX_LINE, Framer};
use runner::plugin::{Event, Frame, Plugin, PluginEngine, PluginLimits, builtin};
use serde_json::{Value, json};

/// The cases every protocol's fixtures cover.
const CASES: &[&str] = &[
    "normal",
    "crlf",
    "utf8",
    "keepalive",
    "usage-last",
    "error",
    "empty",
];

fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins")
}

/// Every plugin folder that has fixtures, by name.
fn fixture_dirs() -> Vec<(String, PathBuf)> {
    let mut dirs = Vec::new();
    let entries = std::fs::read_dir(plugins_dir()).expect("plugins/ is readable");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let fixtures = path.join("fixtures");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 folder name")
            .to_string();
        // Only built-ins: `template/` carries fixtures for authors, in the
        // SDK's own format.
        if fixtures.is_dir() && builtin::find(&name).is_some() {
            dirs.push((name, fixtures));
        }
    }
    dirs.sort();
    dirs
}

fn load(name: &str) -> Arc<Plugin> {
    let builtin = builtin::find(name).unwrap_or_else(|| panic!("{name} is not a built-in"));
    let engine = Arc::new(PluginEngine::new(None).expect("an engine"));
    // A generous deadline: this test checks events, never speed, and a
    // loaded machine can stall one call past the default.
    let limits = PluginLimits {
        call_timeout: Duration::from_secs(10),
        ..PluginLimits::default()
    };
    Plugin::load(engine, name, builtin.wasm, limits)
        .unwrap_or_else(|e| panic!("{name} does not load: {e}"))
}

/// An event in the fixtures' notation.
fn notation(event: &Event) -> Value {
    match event {
        Event::Text(s) => json!({ "text": s }),
        Event::Reasoning(s) => json!({ "reasoning": s }),
        Event::Usage(u) => json!({ "usage": [u.prompt_tokens, u.completion_tokens] }),
        Event::Finish(s) => json!({ "finish": s }),
        Event::Error(s) => json!({ "error": s }),
        Event::Done => json!("done"),
    }
}

/// Feeds `body` in the given reads, as the executor does: one `feed` per
/// read that completes frames, then `finish`.
fn run(plugin: &Arc<Plugin>, reads: &[&[u8]]) -> Result<Vec<Value>, String> {
    let mut lease = plugin.checkout().map_err(|e| format!("{e:?}"))?;
    lease.start_stream().map_err(|e| format!("{e:?}"))?;
    let mut framer = Framer::new(framing_of(plugin.info().framing), DEFAULT_MAX_LINE);
    let mut wire = Vec::new();
    let mut events = Vec::new();
    let mut feed = |wire: &mut Vec<runner::framing::Frame>,
                    lease: &mut runner::plugin::Lease|
     -> Result<(), String> {
        if wire.is_empty() {
            return Ok(());
        }
        let frames: Vec<Frame> = wire
            .drain(..)
            .map(|f| Frame {
                event: f.event,
                data: f.data,
            })
            .collect();
        let got = lease.feed(&frames).map_err(|e| format!("{e:?}"))?;
        events.extend(got.iter().map(notation));
        Ok(())
    };
    for read in reads {
        framer.push(read, &mut wire).map_err(|e| e.to_string())?;
        feed(&mut wire, &mut lease)?;
    }
    framer.finish(&mut wire).map_err(|e| e.to_string())?;
    feed(&mut wire, &mut lease)?;
    let rest = lease.finish_stream().map_err(|e| format!("{e:?}"))?;
    events.extend(rest.iter().map(notation));
    Ok(events)
}

fn expected(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

#[test]
fn every_builtin_passes_its_fixtures_at_every_split() {
    let dirs = fixture_dirs();
    assert!(dirs.len() >= 6, "fixtures found for {dirs:?}");
    for (name, dir) in &dirs {
        let plugin = load(name);
        for case in CASES {
            let body_path = dir.join(format!("{case}.stream"));
            let body = std::fs::read(&body_path)
                .unwrap_or_else(|e| panic!("{name}: missing {case} fixture: {e}"));
            let want = expected(&dir.join(format!("{case}.events")));
            assert!(!want.is_empty(), "{name}/{case}: no expected events");
            let label = format!("{name}/{case}");
            let whole = run(&plugin, &[&body]).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(whole, want, "{label}: whole body");
            // Two reads, split at every byte: covers every frame boundary,
            // every CRLF pair and every UTF-8 sequence cut in two.
            for cut in 1..body.len() {
                let (a, b) = body.split_at(cut);
                let got = run(&plugin, &[a, b]).unwrap_or_else(|e| panic!("{label} @{cut}: {e}"));
                assert_eq!(got, want, "{label}: split at byte {cut}");
            }
            // Many small reads, several frames per read and none.
            for size in [1, 7, 64] {
                let reads: Vec<&[u8]> = body.chunks(size).collect();
                let got = run(&plugin, &reads).unwrap_or_else(|e| panic!("{label}/{size}: {e}"));
                assert_eq!(got, want, "{label}: reads of {size} bytes");
            }
        }
    }
}

/// The whole-response cases: `<case>.response` is the HTTP status on its
/// first line, then the body.
const WHOLE_CASES: &[&str] = &["whole-ok", "whole-error"];

#[test]
fn every_builtin_parses_its_whole_response_fixtures() {
    for (name, dir) in fixture_dirs() {
        let plugin = load(&name);
        for case in WHOLE_CASES {
            let label = format!("{name}/{case}");
            let raw = std::fs::read(dir.join(format!("{case}.response")))
                .unwrap_or_else(|e| panic!("{label}: missing fixture: {e}"));
            let split = raw.iter().position(|b| *b == b'\n').unwrap_or(raw.len());
            let status: u16 = std::str::from_utf8(&raw[..split])
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or_else(|| panic!("{label}: the first line must be the HTTP status"));
            let body = raw.get(split + 1..).unwrap_or_default();
            let mut lease = plugin.checkout().expect("an instance");
            let got: Vec<Value> = lease
                .parse_response(status, body)
                .unwrap_or_else(|e| panic!("{label}: {e:?}"))
                .iter()
                .map(notation)
                .collect();
            assert_eq!(
                got,
                expected(&dir.join(format!("{case}.events"))),
                "{label}"
            );
        }
    }
}

#[test]
fn utf8_fixtures_really_hold_multibyte_text() {
    for (name, dir) in fixture_dirs() {
        let body = std::fs::read(dir.join("utf8.stream")).expect("a utf8 fixture");
        assert!(
            body.iter().filter(|b| **b >= 0x80).count() >= 6,
            "{name}: the utf8 fixture has too few multi-byte characters to split"
        );
        let crlf = std::fs::read(dir.join("crlf.stream")).expect("a crlf fixture");
        assert!(
            crlf.windows(2).filter(|w| w == b"\r\n").count() >= 3,
            "{name}: the crlf fixture lost its CRLF line ends"
        );
    }
}

#[test]
fn every_builtin_has_fixtures() {
    let with: Vec<String> = fixture_dirs().into_iter().map(|(n, _)| n).collect();
    for builtin in builtin::BUILTINS {
        assert!(
            with.iter().any(|n| n == builtin.name),
            "{} has no fixtures folder",
            builtin.name
        );
    }
}
