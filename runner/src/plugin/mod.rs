//! The plugin host: loads protocol plugins (WASM components speaking
//! `wit/plugin.wit`) into a sandbox and lends their instances to requests.
//!
//! - [`bindings`] is the one `bindgen!`;
//! - [`engine`] holds the shared wasmtime engine, its epoch ticker and the
//!   compile cache;
//! - [`pool`] compiles a plugin once, keeps warm instances, and runs every
//!   call under a deadline and a memory cap, keeping traps (faults) apart
//!   from returned errors;
//! - [`sdk`] holds the commands for plugin authors (`runner plugin new |
//!   check | list`).

pub mod bindings;
pub mod builtin;
pub mod engine;
pub mod pool;
pub mod sdk;

pub use bindings::{
    ChatMessage, Event, Frame, Framing, HttpRequest, PluginInfo, Prompt, RequestInput,
};
pub use engine::{PluginEngine, default_cache_dir};
pub use pool::{CallError, Lease, LoadError, Plugin, PluginLimits, WIT_VERSION};
