//! A loaded plugin and its pool of warm instances.
//!
//! The component is compiled once and pre-instantiated (`InstancePre`).
//! Instances are made ahead of need ([`Plugin::prewarm`]) and each request
//! checks one out for its whole life ([`Lease`]): the stream parser lives in
//! that instance's store. A call that traps poisons its instance: the lease
//! drops it instead of returning it, and the pool makes a fresh one later.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker, ResourceAny};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder, Trap};

use super::bindings::{self, Event, Frame, HttpRequest, Level, PluginInfo, RequestInput};
use super::engine::{EPOCH_TICK, PluginEngine};

/// The WIT contract version this host speaks.
pub const WIT_VERSION: &str = "0.1.0";

/// Per-call sandbox limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimits {
    /// The longest one call may run before it is interrupted.
    pub call_timeout: Duration,
    /// The most linear memory one instance may hold, in bytes.
    pub memory_bytes: usize,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            call_timeout: Duration::from_millis(50),
            memory_bytes: 64 << 20,
        }
    }
}

/// What a plugin call can fail with. A trap and a returned error are kept
/// apart: the first is a bug or sandbox violation in the plugin, the second
/// is the plugin's verdict on its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin trapped (panic, deadline, memory cap, forbidden import).
    #[error("plugin fault: {0}")]
    Fault(String),
    /// The plugin returned an error.
    #[error("{0}")]
    Rejected(String),
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not a component this host can compile.
    #[error("plugin `{name}` is not a valid component: {reason}")]
    Compile { name: String, reason: String },
    /// Linking or the first instantiation failed.
    #[error("plugin `{name}` could not be instantiated: {reason}")]
    Instantiate { name: String, reason: String },
    /// The plugin was built against another contract version.
    #[error(
        "plugin `{name}` was built against WIT {found}, this runner speaks {WIT_VERSION}; rebuild the plugin against wit/ of this runner"
    )]
    Version { name: String, found: String },
}

/// The store data of one instance.
pub struct HostState {
    limits: StoreLimits,
    plugin: Arc<str>,
}

impl bindings::llm_perf::plugin::types::Host for HostState {}

impl bindings::llm_perf::plugin::host::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

struct Instance {
    store: Store<HostState>,
    bindings: bindings::Plugin,
}

/// A compiled plugin with its warm pool.
pub struct Plugin {
    info: PluginInfo,
    label: Arc<str>,
    engine: Arc<PluginEngine>,
    pre: bindings::PluginPre<HostState>,
    limits: PluginLimits,
    deadline_ticks: u64,
    pool: Mutex<Vec<Instance>>,
    instantiated: AtomicU64,
    faults: AtomicU64,
}

impl Plugin {
    /// Compiles `wasm` (through the engine's cache), links it with `host.log`
    /// as its only import (anything else traps when called), and checks its
    /// contract version.
    pub fn load(
        engine: Arc<PluginEngine>,
        label: &str,
        wasm: &[u8],
        limits: PluginLimits,
    ) -> Result<Arc<Plugin>, LoadError> {
        let compile = |reason: String| LoadError::Compile {
            name: label.to_string(),
            reason,
        };
        let inst = |reason: String| LoadError::Instantiate {
            name: label.to_string(),
            reason,
        };
        let component =
            Component::new(engine.engine(), wasm).map_err(|e| compile(format!("{e:#}")))?;
        let mut linker = Linker::<HostState>::new(engine.engine());
        bindings::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| inst(format!("{e:#}")))?;
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| inst(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| inst(format!("{e:#}")))?;
        let pre = bindings::PluginPre::new(pre).map_err(|e| inst(format!("{e:#}")))?;
        let tick = EPOCH_TICK.as_nanos().max(1);
        // One extra tick: the deadline counts ticks from an arbitrary phase.
        let deadline_ticks = (limits.call_timeout.as_nanos().div_ceil(tick) + 1) as u64;
        let mut plugin = Plugin {
            info: PluginInfo {
                name: label.to_string(),
                version: String::new(),
                wit_version: String::new(),
                description: String::new(),
                framing: bindings::Framing::Sse,
            },
            label: Arc::from(label),
            engine,
            pre,
            limits,
            deadline_ticks,
            pool: Mutex::new(Vec::new()),
            instantiated: AtomicU64::new(0),
            faults: AtomicU64::new(0),
        };
        let mut first = plugin.instantiate().map_err(inst)?;
        first.store.set_epoch_deadline(plugin.deadline_ticks);
        let info = first
            .bindings
            .llm_perf_plugin_protocol()
            .call_info(&mut first.store)
            .map_err(|e| inst(format!("info() trapped: {}", describe_trap(&e, &limits))))?;
        if !compatible(&info.wit_version) {
            return Err(LoadError::Version {
                name: label.to_string(),
                found: info.wit_version,
            });
        }
        plugin.info = info;
        plugin.lock_pool().push(first);
        Ok(Arc::new(plugin))
    }

    /// What the plugin says about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The sandbox limits in force.
    pub fn limits(&self) -> PluginLimits {
        self.limits
    }

    /// How many instances were ever made (warm-up included).
    pub fn instantiated(&self) -> u64 {
        self.instantiated.load(Ordering::Relaxed)
    }

    /// How many calls trapped.
    pub fn faults(&self) -> u64 {
        self.faults.load(Ordering::Relaxed)
    }

    /// Instances idle in the pool.
    pub fn idle(&self) -> usize {
        self.lock_pool().len()
    }

    /// Makes instances until `n` are idle, so the hot path never
    /// instantiates. Returns how many were made.
    pub fn prewarm(&self, n: usize) -> Result<usize, String> {
        let missing = n.saturating_sub(self.idle());
        let mut made = Vec::with_capacity(missing);
        for _ in 0..missing {
            made.push(self.instantiate()?);
        }
        self.lock_pool().extend(made);
        Ok(missing)
    }

    /// Checks an instance out of the pool (making one only when the pool is
    /// empty, which `prewarm` avoids).
    pub fn checkout(self: &Arc<Self>) -> Result<Lease, CallError> {
        let pooled = self.lock_pool().pop();
        let instance = match pooled {
            Some(i) => i,
            None => self.instantiate().map_err(CallError::Fault)?,
        };
        Ok(Lease {
            plugin: self.clone(),
            instance: Some(instance),
            parser: None,
        })
    }

    fn lock_pool(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        // A panic while holding this lock cannot leave the Vec half-updated.
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn instantiate(&self) -> Result<Instance, String> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(
            self.engine.engine(),
            HostState {
                limits,
                plugin: self.label.clone(),
            },
        );
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.deadline_ticks);
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| describe_trap(&e, &self.limits))?;
        self.instantiated.fetch_add(1, Ordering::Relaxed);
        Ok(Instance { store, bindings })
    }
}

/// A contract version this host accepts: the same major and minor (0.1.x).
fn compatible(found: &str) -> bool {
    let mm = |v: &str| {
        let mut it = v.trim().split('.');
        (it.next().map(str::to_owned), it.next().map(str::to_owned))
    };
    mm(found) == mm(WIT_VERSION)
}

/// A one-line reason for a trap: what stopped the call, and where in the
/// plugin it was when the backtrace names a function.
fn describe_trap(e: &wasmtime::Error, limits: &PluginLimits) -> String {
    let mut reason = match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => format!(
            "call exceeded its deadline of {} ms",
            limits.call_timeout.as_millis()
        ),
        Some(Trap::UnreachableCodeReached) => {
            "wasm `unreachable` executed (a panic or abort in the plugin)".to_string()
        }
        Some(trap) => trap.to_string(),
        None => {
            let root = e.root_cause().to_string();
            if root.contains("unknown import") {
                format!("{root}: plugins get no WASI (files, environment, clocks, network)")
            } else if root.contains("memory") || root.contains("grow") {
                format!("{root} (memory cap {} MiB)", limits.memory_bytes >> 20)
            } else {
                root
            }
        }
    };
    if let Some(bt) = e.downcast_ref::<wasmtime::WasmBacktrace>()
        && let Some(name) = bt.frames().iter().find_map(|f| f.func_name())
    {
        reason.push_str(&format!(" [in {name}]"));
    }
    reason
}

/// One instance checked out for one request. Dropping it returns the
/// instance to the pool, unless a call trapped.
pub struct Lease {
    plugin: Arc<Plugin>,
    instance: Option<Instance>,
    parser: Option<ResourceAny>,
}

impl Lease {
    /// Builds the HTTP request for `input`.
    pub fn build_request(&mut self, input: &RequestInput) -> Result<HttpRequest, CallError> {
        self.call(|i| {
            i.bindings
                .llm_perf_plugin_protocol()
                .call_build_request(&mut i.store, input)
        })
    }

    /// Starts parsing a new streamed response (ending any previous one).
    pub fn start_stream(&mut self) -> Result<(), CallError> {
        self.drop_parser()?;
        let parser = self.call(|i| {
            i.bindings
                .llm_perf_plugin_protocol()
                .stream_parser()
                .call_constructor(&mut i.store)
                .map(Ok)
        })?;
        self.parser = Some(parser);
        Ok(())
    }

    /// Feeds the frames of one network read to the stream parser.
    pub fn feed(&mut self, frames: &[Frame]) -> Result<Vec<Event>, CallError> {
        let parser = self.parser_handle()?;
        self.call(|i| {
            i.bindings
                .llm_perf_plugin_protocol()
                .stream_parser()
                .call_feed(&mut i.store, parser, frames)
        })
    }

    /// Ends the stream: returns the events the parser still held and frees it.
    pub fn finish_stream(&mut self) -> Result<Vec<Event>, CallError> {
        let parser = self.parser_handle()?;
        let events = self.call(|i| {
            i.bindings
                .llm_perf_plugin_protocol()
                .stream_parser()
                .call_finish(&mut i.store, parser)
        });
        self.drop_parser()?;
        events
    }

    /// Parses a whole non-streamed response.
    pub fn parse_response(&mut self, status: u16, body: &[u8]) -> Result<Vec<Event>, CallError> {
        self.call(|i| {
            i.bindings
                .llm_perf_plugin_protocol()
                .call_parse_response(&mut i.store, status, body)
        })
    }

    fn parser_handle(&self) -> Result<ResourceAny, CallError> {
        self.parser
            .ok_or_else(|| CallError::Fault("no stream parser: start_stream was not called".into()))
    }

    fn drop_parser(&mut self) -> Result<(), CallError> {
        match self.parser.take() {
            Some(parser) => self.call(|i| parser.resource_drop(&mut i.store).map(Ok)),
            None => Ok(()),
        }
    }

    /// Runs one guest call under a fresh epoch deadline. A trap poisons the
    /// instance: it is dropped, never returned to the pool.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut Instance) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<T, CallError> {
        let Some(instance) = self.instance.as_mut() else {
            return Err(CallError::Fault(
                "instance was lost to an earlier fault".into(),
            ));
        };
        instance
            .store
            .set_epoch_deadline(self.plugin.deadline_ticks);
        match f(instance) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(msg)) => Err(CallError::Rejected(msg)),
            Err(e) => {
                self.instance = None;
                self.parser = None;
                self.plugin.faults.fetch_add(1, Ordering::Relaxed);
                Err(CallError::Fault(describe_trap(&e, &self.plugin.limits)))
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.drop_parser().is_err() {
            return;
        }
        if let Some(instance) = self.instance.take() {
            self.plugin.lock_pool().push(instance);
        }
    }
}
