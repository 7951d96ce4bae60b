//! A scenario's embedded mock, started on 127.0.0.1:0, with the run context
//! the executor sends through: the real `openai-chat` plugin, the scenario's
//! timeouts and test set. Shared by the mock's fault and load tests.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use runner::clock::RunClock;
use runner::dataset;
use runner::executor::{self, RunContext};
use runner::framing::DEFAULT_MAX_LINE;
use runner::metrics::InFlight;
use runner::mock::{self, MockServer};
use runner::plugin::{Plugin, PluginEngine, PluginLimits, builtin, default_cache_dir};
use runner::sample::Sample;
use runner::scenario::{self, Endpoint, Overrides};
use tokio_util::sync::CancellationToken;

/// Every test's bound on one request: far past any configured delay, so a
/// hang fails the test instead of stalling the suite.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A running mock and the context that sends to it.
pub struct Harness {
    pub ctx: Arc<RunContext>,
    pub server: MockServer,
    _dir: tempfile::TempDir,
}

/// The `openai-chat` plugin, compiled once for the whole test binary.
fn plugin() -> Arc<Plugin> {
    static PLUGIN: OnceLock<Arc<Plugin>> = OnceLock::new();
    PLUGIN
        .get_or_init(|| {
            let engine = Arc::new(PluginEngine::new(default_cache_dir()).expect("engine"));
            let wasm = builtin::find("openai-chat").expect("built in").wasm;
            Plugin::load(engine, "openai-chat", wasm, PluginLimits::default()).expect("loads")
        })
        .clone()
}

/// Starts the mock of a scenario whose `target` section is `target` (YAML
/// flow mappings for `mock` and `timeouts`, plus `stream`), with `prompts`
/// as its test set.
pub async fn harness(target: &str, prompts: &str) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("prompts.txt"), prompts).expect("write prompts");
    let yaml = format!(
        "name: mock-test\ntarget:\n  plugin: openai-chat\n  params: {{ model: mock }}\n{target}\ndataset: {{ path: prompts.txt }}\n"
    );
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, yaml).expect("write scenario");
    let sc = scenario::load(&path, &Overrides::default()).unwrap_or_else(|d| panic!("{d}"));
    let Endpoint::Mock(config) = &sc.target.endpoint else {
        panic!("the scenario's target is the mock");
    };
    let server = mock::start(config.clone(), ([127, 0, 0, 1], 0).into())
        .await
        .expect("the mock starts");
    let data = dataset::load(&sc.dataset).unwrap_or_else(|d| panic!("{d}"));
    let ctx = RunContext {
        clock: RunClock::start(),
        client: executor::http_client(sc.target.timeouts.connect).expect("client"),
        base_url: reqwest::Url::parse(&server.url()).expect("url"),
        headers: Default::default(),
        plugin: plugin(),
        framing: executor::framing_of(plugin().info().framing),
        max_line: DEFAULT_MAX_LINE,
        stream: sc.target.stream,
        params_json: serde_json::Value::Object(sc.target.params.clone()).to_string(),
        timeouts: sc.target.timeouts,
        dataset: Arc::new(data),
        in_flight: InFlight::new(),
        cancel: CancellationToken::new(),
        failure_backoff: Duration::ZERO,
        keep_text: false,
        sessions: false,
        think_ms: None,
        abort_reason: std::sync::Mutex::new(None),
    };
    Harness {
        ctx: Arc::new(ctx),
        server,
        _dir: dir,
    }
}

impl Harness {
    /// Sends dataset item `item` through the executor, bounded by
    /// [`TEST_TIMEOUT`].
    pub async fn send(&self, item: u32) -> Sample {
        let planned = self.ctx.clock.now();
        tokio::time::timeout(
            TEST_TIMEOUT,
            executor::request::execute_item(&self.ctx, item, planned),
        )
        .await
        .expect("the request ends in time: no hang")
    }
}
