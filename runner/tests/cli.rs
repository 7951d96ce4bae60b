//! The `runner` binary as a user meets it: exit codes, the three-mistakes
//! scenario reported at once, the original's flags, and the small commands.

use std::path::Path;
use std::process::{Command, Output};

fn runner(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .current_dir(cwd)
        .env("LLM_PERF_CACHE_DIR", cwd.join("cache"))
        .output()
        .expect("runner starts")
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scenario")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn three_mistakes_exit_2_with_every_location() {
    let tmp = tempfile::tempdir().unwrap();
    let file = fixture("three-mistakes.yaml");
    for cmd in ["validate", "run"] {
        let out = runner(&[cmd, &file], tmp.path());
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        for loc in [
            ":4:3: error: unknown key `timeout`",
            ":6:9: error: test set",
            ":9:13: error: invalid duration",
        ] {
            assert!(err.contains(loc), "{cmd}: stderr lacks {loc:?}:\n{err}");
        }
        assert_eq!(err.matches("help:").count(), 3, "{err}");
        // Nothing was run, so nothing was written.
        assert!(!tmp.path().join("output").exists());
    }
}

#[test]
fn original_flags_override_the_scenario() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("p.txt"), "hello\n你好\n").unwrap();
    std::fs::write(
        tmp.path().join("s.yaml"),
        "name: flags\ntarget:\n  mock: { ttft_ms: 5, gap_ms: 1, output_tokens: 4 }\ndataset: { path: p.txt }\nload: { levels: [8], duration: 30s, pause: 0s }\n",
    )
    .unwrap();
    let out = runner(
        &[
            "run",
            "s.yaml",
            "--test-runs",
            "1",
            "2",
            "--test-duration",
            "1",
            "--name",
            "renamed",
            "--desc",
            "from flags",
            "--work-dir",
            "wd",
            "--quiet",
            "--lang",
            "en",
        ],
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[users]"), "English live line:\n{stdout}");
    let runs: Vec<_> = std::fs::read_dir(tmp.path().join("wd/output"))
        .unwrap()
        .collect();
    assert_eq!(runs.len(), 1);
    let dir = runs[0].as_ref().unwrap().path();
    assert!(
        dir.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("renamed-")
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["description"], "from flags");
    let users: Vec<u64> = r["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["users"].as_u64().unwrap())
        .collect();
    assert_eq!(users, [1, 2]);
    for l in r["levels"].as_array().unwrap() {
        assert_eq!(l["duration_s"], 1.0);
    }
}

#[test]
fn flags_alone_need_a_url() {
    let tmp = tempfile::tempdir().unwrap();
    let out = runner(&["run", "--test-runs", "1"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("url"));
}

#[test]
fn schema_and_plugin_list() {
    let tmp = tempfile::tempdir().unwrap();
    let out = runner(&["schema"], tmp.path());
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema["properties"]["target"].is_object(), "{schema}");

    let out = runner(&["plugin", "list"], tmp.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.contains("openai-chat") && list.contains("0.1.0"),
        "{list}"
    );
    assert!(
        !list.contains("test-faults"),
        "test plugins are not built in:\n{list}"
    );
}

#[test]
fn calibrate_checks_its_flags_and_prints_json() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (&["calibrate", "--chunk-rate", "0"][..], "--chunk-rate"),
        (&["calibrate", "--users", "0"][..], "--users"),
        (&["calibrate", "--duration", "soon"][..], "--duration"),
    ] {
        let out = runner(args, tmp.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = runner(
        &[
            "calibrate",
            "--users",
            "2",
            "--chunk-rate",
            "100",
            "--duration",
            "300ms",
            "--json",
        ],
        tmp.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cal: runner::calibrate::Calibration =
        serde_json::from_slice(&out.stdout).expect("calibration JSON on stdout");
    assert_eq!((cal.streams_asked, cal.chunk_rate_per_stream), (2, 100.0));
    assert_eq!(cal.chunks_per_s_asked, 200.0);
    assert_eq!(cal.errors, 0);
    assert!(cal.ttft_added_ms.p50 >= 0.0, "{cal:?}");
}
