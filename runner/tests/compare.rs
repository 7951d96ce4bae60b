//! `runner compare` through the real binary: a passing gate exits 0, a
//! failing gate exits 1 and names the level, runs with different levels
//! are matched by users, and an unparseable gate is a clear error (exit 2).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use runner::output;
use runner::results::RunResults;

fn fixture() -> RunResults {
    output::read_results(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results/results.json"),
    )
    .expect("fixture parses")
}

fn save(dir: &Path, name: &str, r: &RunResults) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(r).unwrap()).unwrap();
    p
}

fn compare(base: &Path, new: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg("compare")
        .arg(base)
        .arg(new)
        .args(extra)
        .output()
        .expect("runner runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The fixture with TTFT 20% slower and throughput 3% lower at 16 users.
fn slower() -> RunResults {
    let mut r = fixture();
    r.name = "slower".into();
    let l = &mut r.levels[2];
    let mut t = l.ttft_ms.unwrap();
    t.p50 *= 1.2;
    t.p99 *= 1.2;
    l.ttft_ms = Some(t);
    l.throughput.output_tokens_per_s *= 0.97;
    r
}

#[test]
fn passing_gate_exits_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let base = save(tmp.path(), "base.json", &fixture());
    let new = save(tmp.path(), "new.json", &slower());
    let out = compare(
        &base,
        &new,
        &[
            "--fail-if",
            "ttft.p99>+25%",
            "--fail-if",
            "output_throughput<-5%",
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("gate ttft.p99>+25%: pass"), "{stderr}");
    // Markdown on stdout, with arrows; TTFT rose (worse: bold).
    assert!(
        stdout.contains("# Comparison: fixture → slower"),
        "{stdout}"
    );
    assert!(stdout.contains("**▲ +20.0%**"), "{stdout}");
    assert!(stdout.contains("▼ -3.0%"), "{stdout}");
    assert!(
        stdout.contains("`name`"),
        "the scenario diff lists the name: {stdout}"
    );
}

#[test]
fn failing_gate_exits_one_and_names_the_level() {
    let tmp = tempfile::tempdir().unwrap();
    let base = save(tmp.path(), "base.json", &fixture());
    let new = save(tmp.path(), "new.json", &slower());
    let out_dir = tmp.path().join("cmp");
    let out = compare(
        &base,
        &new,
        &[
            "--fail-if",
            "ttft.p99>+10%",
            "--fail-if",
            "error_rate>+0.01",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("gate ttft.p99>+10%: FAIL (16 users: +20.00%"),
        "{stderr}"
    );
    assert!(stderr.contains("gate error_rate>+0.01: pass"), "{stderr}");
    let md = std::fs::read_to_string(out_dir.join("compare.md")).unwrap();
    assert!(md.contains("## Gates: FAIL"), "{md}");
    let html = std::fs::read_to_string(out_dir.join("compare.html")).unwrap();
    assert!(html.contains("class=\"worse\">▲ +20.0%"), "{html}");
    assert!(!html.contains("<script"));
}

#[test]
fn different_levels_are_matched_by_users() {
    let tmp = tempfile::tempdir().unwrap();
    let base = save(tmp.path(), "base.json", &fixture());
    let mut other = slower();
    // New run: 1 and 16 users as before, 4 dropped, 32 added.
    let mut extra = other.levels[2].clone();
    extra.users = 32;
    other.levels.remove(1);
    other.levels.push(extra);
    let new = save(tmp.path(), "new.json", &other);
    let out = compare(&base, &new, &["--fail-if", "ttft.p99>+10%"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // 16 users is matched with 16 users (not with the level at the same
    // position), so the gate sees the +20% and fails.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("16 users: +20.00%"), "{stderr}");
    assert!(
        stderr.contains("only in base: [4], only in new: [32]"),
        "{stderr}"
    );
    assert!(stdout.contains("### 并发 1") && stdout.contains("### 并发 16"));
    assert!(!stdout.contains("### 并发 4") && !stdout.contains("### 并发 32"));
    assert!(stdout.contains("Levels only in base: 4."), "{stdout}");

    // No level in common: the gate cannot hold.
    let mut disjoint = fixture();
    for l in &mut disjoint.levels {
        l.users += 100;
    }
    let new = save(tmp.path(), "disjoint.json", &disjoint);
    let out = compare(&base, &new, &["--fail-if", "ttft.p99>+10%"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no level with the same users in both runs"));
    // Without gates the comparison itself succeeds.
    let out = compare(&base, &new, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("No level has the same users in both runs."));
}

#[test]
fn unparseable_gates_are_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let base = save(tmp.path(), "base.json", &fixture());
    let out = compare(
        &base,
        &base,
        &[
            "--fail-if",
            "ttft_p99>+10%",
            "--fail-if",
            "output_throughput<-five%",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // Both problems at once, each with the fix.
    assert!(
        stderr.contains(
            "--fail-if `ttft_p99>+10%`: unknown metric `ttft_p99` (did you mean `ttft.p99`?)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("`-five%` is not a number"), "{stderr}");
    assert!(stderr.contains("expected METRIC OP CHANGE"), "{stderr}");
    assert!(out.stdout.is_empty());

    // A file that is not a results.json: exit 2 with the file named.
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, "{\"levels\": 3}").unwrap();
    let out = compare(&base, &junk, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("junk.json: not a results.json"));
}

#[test]
fn report_rerenders_from_results_json() {
    let tmp = tempfile::tempdir().unwrap();
    let results = save(tmp.path(), "results.json", &fixture());
    let out = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args([
            "report",
            results.to_str().unwrap(),
            "--format",
            "md,csv",
            "--lang",
            "zh",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(tmp.path().join("report.md")).unwrap();
    assert!(md.contains("## 各并发档位"));
    assert!(tmp.path().join("summary.csv").is_file());
    assert!(tmp.path().join("chart-throughput.svg").is_file());
    assert!(!tmp.path().join("report.html").exists());
    let out = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["report", results.to_str().unwrap(), "--format", "pdf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown report format `pdf`"));
}
