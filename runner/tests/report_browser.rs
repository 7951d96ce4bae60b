//! report.html in a real browser (Debian's chromium, headless): it renders
//! to a non-trivial screenshot, and markup in a description or a server's
//! error message stays text: the DOM the browser builds holds no injected
//! element. Skipped with a message when chromium is absent, except in CI
//! (`CI=true`), where it must run; `.ci/run` installs chromium.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runner::output::{self, Formats, ReportOptions};

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The browser, or `None` (with a message) when it may be skipped.
fn browser() -> Option<PathBuf> {
    match chromium() {
        Some(p) => Some(p),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("chromium is not installed, but CI=true requires the browser test (see .ci/run)")
        }
        None => {
            eprintln!(
                "SKIPPED: chromium not found on PATH; install it (apt-get install -y chromium) to run the browser test"
            );
            None
        }
    }
}

/// Runs chromium headless with `args` on `page`, killed after 90 s.
fn run_chromium(bin: &Path, profile: &Path, args: &[String], page: &Path) -> String {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait().expect("wait") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish in 90 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    reader.join().expect("reader")
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&bytes[16..20]), be(&bytes[20..24])))
}

fn write_report(dir: &Path) -> PathBuf {
    let r = output::read_results(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results/results.json"),
    )
    .expect("fixture parses");
    let opts = ReportOptions {
        formats: Formats::parse("html").unwrap(),
        ..ReportOptions::default()
    };
    output::write_reports(dir, &r, &[], &opts).expect("writes");
    dir.join("report.html")
}

#[test]
fn report_renders_in_chromium_and_markup_stays_text() {
    let Some(bin) = browser() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let page = write_report(tmp.path());

    // Screenshots: a laptop and a phone width. A blank page of this size
    // compresses to a few KB; the report is far more.
    for (name, size, min_bytes) in [
        ("laptop.png", "1280,2400", 60_000),
        ("phone.png", "390,2400", 30_000),
    ] {
        let png = tmp.path().join(name);
        run_chromium(
            &bin,
            &tmp.path().join(format!("profile-{name}")),
            &[
                format!("--screenshot={}", png.display()),
                format!("--window-size={size}"),
            ],
            &page,
        );
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{name} not written: {e}"));
        let (w, h) = png_size(&bytes).expect("a PNG");
        assert!(w >= 390 && h >= 2000, "{name}: {w}x{h}");
        assert!(
            bytes.len() > min_bytes,
            "{name} is only {} bytes: blank page?",
            bytes.len()
        );
        if let Some(keep) = std::env::var_os("REPORT_SCREENSHOTS") {
            std::fs::create_dir_all(&keep).unwrap();
            std::fs::copy(&png, Path::new(&keep).join(name)).unwrap();
        }
    }

    // The DOM after parsing (and any script, had one run).
    let dom = run_chromium(
        &bin,
        &tmp.path().join("profile-dom"),
        &["--dump-dom".to_string()],
        &page,
    );
    assert!(
        dom.contains("<table"),
        "no DOM dumped: {}",
        &dom[..dom.len().min(300)]
    );
    assert!(!dom.contains("<script"), "a script element was injected");
    assert!(!dom.contains("<img"), "an img element was injected");
    assert!(!dom.contains("<b>bold"), "a b element was injected");
    assert!(!dom.contains("<body data-pwned"), "a script ran");
    // The markup is there as text.
    assert!(dom.contains("&lt;script&gt;document.body.setAttribute"));
    assert!(dom.contains("&lt;img src=x onerror="));
    // Every chart is inline SVG.
    assert_eq!(dom.matches("<svg").count(), 8);
}
