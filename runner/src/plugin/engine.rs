//! The wasmtime engine every plugin shares: component model on, epoch
//! interruption driven by one ticker thread, and the on-disk compile cache.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use wasmtime::{Cache, CacheConfig, Config, Engine};

/// How often the ticker advances the engine's epoch. A call's deadline is
/// counted in these ticks, so it is also the deadline's resolution.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// The shared engine and the thread that ticks its epoch.
pub struct PluginEngine {
    engine: Engine,
    stop: Arc<AtomicBool>,
    cache_dir: Option<PathBuf>,
}

impl PluginEngine {
    /// An engine with the compile cache in `cache_dir` (none: every start
    /// compiles again).
    pub fn new(cache_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // Memory keeps wasmtime's default 4 GiB reservation with guard
        // pages, so compiled code needs no explicit bounds checks on the
        // hot `feed` path. The reservation is address space only (10,000
        // warm instances fit in the 128 TiB of a 64-bit process);
        // `PluginLimits::memory_bytes` caps what an instance may really use.
        let cache_dir = cache_dir.filter(|d| d.is_absolute());
        if let Some(dir) = &cache_dir {
            let mut cache = CacheConfig::new();
            cache.with_directory(dir);
            match Cache::new(cache) {
                Ok(cache) => {
                    config.cache(Some(cache));
                }
                Err(e) => tracing::warn!("plugin compile cache off ({}): {e:#}", dir.display()),
            }
        }
        let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = engine.weak();
        let flag = stop.clone();
        thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    thread::sleep(EPOCH_TICK);
                    match ticker.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(PluginEngine {
            engine,
            stop,
            cache_dir,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Where compiled plugins are cached, if anywhere.
    pub fn cache_dir(&self) -> Option<&PathBuf> {
        self.cache_dir.as_ref()
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The default compile cache folder: `$LLM_PERF_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/llm-perf-benchmark/wasmtime`, else
/// `$HOME/.cache/llm-perf-benchmark/wasmtime`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env("LLM_PERF_CACHE_DIR") {
        return Some(dir);
    }
    let base = env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))?;
    Some(base.join("llm-perf-benchmark").join("wasmtime"))
}
