//! The one place that turns `wit/plugin.wit` into Rust. Everything else in
//! the host uses these types through `super`.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
});

pub use exports::llm_perf::plugin::protocol::Guest as Protocol;
pub use llm_perf::plugin::host::Level;
pub use llm_perf::plugin::types::{
    ChatMessage, Event, Frame, Framing, Header, HttpRequest, PluginInfo, Prompt, RequestInput,
    Usage,
};
