//! The original's flag `--test-set resources/...` end to end: the binary
//! runs from the repository root against the embedded mock on 127.0.0.1,
//! detects each shipped set's format, and every request succeeds.

use std::path::Path;
use std::process::Command;

fn run_with_test_set(test_set: &str) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("s.yaml");
    std::fs::write(
        &scenario,
        "name: sets\ntarget:\n  mock: { ttft_ms: 5, gap_ms: 1, output_tokens: 4 }\ndataset: { path: unused.txt }\nload: { levels: [8], duration: 30s, pause: 0s }\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("unused.txt"), "replaced by --test-set\n").unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let work = tmp.path().join("wd");
    let out = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["run"])
        .arg(&scenario)
        .args([
            "--test-set",
            test_set,
            "--test-runs",
            "2",
            "--test-duration",
            "1",
        ])
        .arg("--work-dir")
        .arg(&work)
        .arg("--quiet")
        .current_dir(&root)
        .env("LLM_PERF_CACHE_DIR", tmp.path().join("cache"))
        .output()
        .expect("runner starts");
    assert!(
        out.status.success(),
        "{test_set}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let run = std::fs::read_dir(work.join("output"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap()
}

#[test]
fn shipped_sets_run_through_the_original_flag() {
    for (set, format, at_least) in [
        ("resources/testset.txt", "lines", 200),
        ("resources/ceval-sample.txt", "ceval", 20),
        ("resources/conversations-sample.jsonl", "conversations", 15),
    ] {
        let r = run_with_test_set(set);
        assert_eq!(r["scenario"]["dataset"], set, "{r}");
        assert_eq!(r["scenario"]["dataset_format"], format);
        assert!(r["scenario"]["dataset_items"].as_u64().unwrap() >= at_least);
        let level = &r["levels"][0];
        assert!(level["ok"].as_u64().unwrap() > 0, "{level}");
        assert_eq!(level["errors"], 0, "{level}");
    }
}
