//! Start-up time: from spawning `runner run` to the first request reaching
//! the server, with the built-in `openai-chat` plugin and a 1-user level.
//!
//! - cold: an empty plugin compile cache, so Cranelift compiles the plugin;
//! - warm: the cache the previous run filled, so the compiled code is loaded.
//!
//! The server is the runner's own mock, started in this process on
//! 127.0.0.1 with port 0; its request counter is polled every 100 µs. Each
//! child is killed once its first request is seen (it is ours, by handle).
//!
//! Run: `cargo bench -p runner --bench startup` (add `-- ROUNDS` for more
//! rounds than 5).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use runner::mock::{self, MockConfig, MockServer};

/// How long one start may take before the round counts as failed.
const LIMIT: Duration = Duration::from_secs(30);

fn scenario(dir: &Path, url: &str) -> std::path::PathBuf {
    let testset = Path::new(env!("CARGO_MANIFEST_DIR")).join("../resources/testset.txt");
    let text = format!(
        "name: startup\ntarget:\n  url: {url}\n  plugin: openai-chat\n  params:\n    model: mock\n\
         dataset:\n  path: {}\nload:\n  levels: [1]\n  duration: 5s\n",
        testset.display()
    );
    let path = dir.join("startup.yaml");
    std::fs::write(&path, text).expect("write the scenario");
    path
}

/// Starts one `runner run` and returns the time until the mock has seen
/// one more request than `before`.
fn start_once(scenario: &Path, cache: &Path, work: &Path, server: &MockServer) -> Duration {
    let before = server.requests();
    let started = Instant::now();
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg("run")
        .arg(scenario)
        .arg("--quiet")
        .arg("--work-dir")
        .arg(work)
        .env("LLM_PERF_CACHE_DIR", cache)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("runner starts");
    let elapsed = loop {
        if server.requests() > before {
            break started.elapsed();
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no request within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_micros(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "{name:<5} start to first request: median {:7.1} ms, min {:7.1} ms, max {:7.1} ms ({} rounds)",
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a plain number sets the rounds.
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5)
        .max(1);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt
        .block_on(mock::start(
            MockConfig::default(),
            ([127, 0, 0, 1], 0).into(),
        ))
        .expect("mock starts");
    let tmp = tempfile::tempdir().expect("tempdir");
    let scenario = scenario(tmp.path(), &server.url());
    let work = tmp.path().join("work");

    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for round in 0..rounds {
        // A fresh, empty cache folder: the plugin is compiled.
        let cache = tmp.path().join(format!("cache-{round}"));
        cold.push(start_once(&scenario, &cache, &work, &server));
        // The same folder again: the compiled plugin is loaded from it.
        warm.push(start_once(&scenario, &cache, &work, &server));
    }
    summary("cold", cold);
    summary("warm", warm);
    rt.block_on(server.shutdown());
}
