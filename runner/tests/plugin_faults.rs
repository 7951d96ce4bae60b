//! The sandbox holds: a plugin that panics, loops, hoards memory, or reaches
//! for a file or the environment traps, the call is reported as a plugin
//! fault with its reason, the poisoned instance is replaced, and a run
//! counts such requests as `plugin_fault` and goes on.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use runner::plugin::{
    CallError, Plugin, PluginEngine, PluginLimits, Prompt, RequestInput, builtin,
};
use runner::results::RunResults;
use runner::run::{self, RunOptions};
use runner::scenario::{self, Overrides};

fn faults_plugin() -> Arc<Plugin> {
    let wasm =
        std::fs::read(builtin::test_plugin("test-faults")).expect("test-faults.wasm was built");
    let engine = Arc::new(PluginEngine::new(None).unwrap());
    let limits = PluginLimits {
        call_timeout: Duration::from_millis(50),
        memory_bytes: 16 << 20,
    };
    Plugin::load(engine, "test-faults", &wasm, limits).unwrap()
}

fn input(params: &str) -> RequestInput {
    RequestInput {
        prompt: Prompt::Text("hello".into()),
        max_tokens: Some(8),
        stream: true,
        params_json: params.into(),
    }
}

#[test]
fn each_fault_is_contained_and_the_instance_replaced() {
    let plugin = faults_plugin();
    let cases = [
        ("panic", "unreachable"),
        ("loop", "deadline of 50 ms"),
        ("alloc", "memory"),
        ("file", "unknown import"),
        ("env", "unknown import"),
    ];
    for (kind, reason) in cases {
        let before = plugin.instantiated();
        let mut lease = plugin.checkout().unwrap();
        let err = lease
            .build_request(&input(&format!(r#"{{"fault":"{kind}"}}"#)))
            .expect_err(kind);
        match err {
            CallError::Fault(msg) => assert!(
                msg.to_lowercase().contains(reason),
                "{kind}: fault message {msg:?} lacks {reason:?}"
            ),
            other => panic!("{kind}: expected a fault, got {other:?}"),
        }
        // The poisoned instance is dropped, not pooled: the next checkout
        // works on a fresh one.
        drop(lease);
        let mut next = plugin.checkout().unwrap();
        next.build_request(&input("{}"))
            .expect("a fresh instance works");
        assert!(
            plugin.instantiated() > before || plugin.idle() > 0,
            "{kind}"
        );
    }
    assert_eq!(plugin.faults(), cases.len() as u64);
}

#[test]
fn a_returned_error_is_not_a_fault() {
    let plugin = faults_plugin();
    let mut lease = plugin.checkout().unwrap();
    let err = lease
        .build_request(&input(r#"{"fault":"reject"}"#))
        .unwrap_err();
    assert!(
        matches!(err, CallError::Rejected(ref m) if m.contains("on purpose")),
        "{err:?}"
    );
    // The instance is healthy and goes on serving.
    lease.build_request(&input("{}")).unwrap();
    assert_eq!(plugin.faults(), 0);
}

fn run_with_fault(dir: &Path, params: &str) -> RunResults {
    run_with_fault_for(dir, params, "400ms", "40ms")
}

fn run_with_fault_for(dir: &Path, params: &str, duration: &str, backoff: &str) -> RunResults {
    std::fs::write(dir.join("prompts.txt"), "hello\n").unwrap();
    let wasm = builtin::test_plugin("test-faults");
    let yaml = format!(
        r#"
name: faults
target:
  mock: {{ ttft_ms: 5, gap_ms: 1, output_tokens: 4 }}
  plugin: {wasm}
  params: {params}
dataset: {{ path: prompts.txt }}
load: {{ levels: [2, 4], duration: {duration}, pause: 0s, failure_backoff: {backoff} }}
output: {{ work_dir: . }}
"#,
        wasm = wasm.display(),
    );
    let path = dir.join("faults.yaml");
    std::fs::write(&path, yaml).unwrap();
    let sc = scenario::load(&path, &Overrides::default()).unwrap_or_else(|d| panic!("{d}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let opts = RunOptions {
        hide_progress: true,
        ..Default::default()
    };
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), run::run(sc, opts))
            .await
            .expect("the run ends in time")
            .expect("the run completes despite the faults")
            .results
    })
}

#[test]
fn a_run_counts_plugin_faults_and_goes_on() {
    for params in [r#"{ fault: panic, at: feed }"#, r#"{ fault: loop }"#] {
        let tmp = tempfile::tempdir().unwrap();
        let r = run_with_fault(tmp.path(), params);
        let l = &r.levels[0];
        assert!(l.requests >= 2, "{params}: {l:?}");
        assert_eq!(l.ok, 0, "{params}");
        let faults = &l.errors_by_class["plugin_fault"];
        assert_eq!(
            faults.count, l.requests,
            "{params}: {:?}",
            l.errors_by_class
        );
        assert!(!faults.example.is_empty());
    }
}

#[test]
fn a_plugin_that_faults_on_every_request_stops_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    // A 60 s level that can only fault: the run stops long before its end,
    // says why, and still writes its results.
    let r = run_with_fault_for(tmp.path(), r#"{ fault: panic, at: feed }"#, "60s", "0s");
    assert!(r.interrupted);
    let reason = r.stop_reason.clone().unwrap_or_default();
    assert!(
        reason.contains("plugin faulted on 100 requests in a row"),
        "{reason}"
    );
    assert_eq!(r.levels.len(), 1, "the second level never starts");
    let l = &r.levels[0];
    assert_eq!(l.ok, 0);
    assert!(l.errors_by_class["plugin_fault"].count >= 100);
}
