//! `guest-support`: what every protocol plugin in `plugins/` shares.
//!
//! - the `no_std` glue of the wasm32 build (a global allocator, the
//!   `cabi_realloc` export, wasi-libc's memory routines) in a private module,
//!   linked into any guest that depends on this crate;
//! - [`panic_handler!`], which logs a panic through the guest's own
//!   `host.log` binding before trapping;
//! - [`Event`] and the plain-Rust contract ([`Protocol`], [`StreamParse`]),
//!   so a plugin's logic is tested natively with `cargo test`;
//! - [`export_plugin!`], which generates the WIT bindings in the guest and
//!   implements the component's exports over a [`Protocol`];
//! - JSON helpers ([`json`]) and the `params` merge ([`params`]).
//!
//! The host links no WASI, and any WASI call traps. On wasm32 this crate and
//! its guests are `no_std` (with `alloc`), so stdout, clocks, the environment,
//! files and `std`'s randomly seeded `HashMap` are absent, and a component
//! imports nothing but `host`. It is an rlib: it makes no `.wasm`, so the
//! runner's build script embeds nothing for it.

#![cfg_attr(all(target_arch = "wasm32", not(test)), no_std)]

#[doc(hidden)]
pub extern crate alloc;

pub mod event;
pub mod json;
pub mod params;
pub mod protocol;
#[cfg(all(target_arch = "wasm32", not(test)))]
mod sandbox;

pub use event::{Event, preview};
pub use protocol::{
    ChatMessage, Framing, HttpRequest, Info, Prompt, Protocol, RequestInput, StreamParse,
};

/// Defines the wasm32 `#[panic_handler]` of a `no_std` guest: it logs the
/// panic through `host.log` (std's default hook would write to stderr, which
/// the host does not provide), then traps; the host counts the trap as a
/// plugin fault and drops the instance.
///
/// Invoke it at the crate root, after `wit_bindgen::generate!`, with the
/// plugin's name: `guest_support::panic_handler!("openai-chat");`.
// `crate::` on purpose: the bindings are generated in the calling crate.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! panic_handler {
    ($name:expr) => {
        #[cfg(all(target_arch = "wasm32", not(test)))]
        #[panic_handler]
        fn __guest_panic(info: &core::panic::PanicInfo) -> ! {
            crate::llm_perf::plugin::host::log(
                crate::llm_perf::plugin::host::Level::Error,
                &$crate::alloc::format!("{} {info}", $name),
            );
            core::arch::wasm32::unreachable()
        }
    };
}

/// Makes the crate a protocol plugin component: generates the bindings of
/// `wit/plugin.wit` (the path is relative to the guest's `Cargo.toml`, which
/// sits in `plugins/<name>/`), implements the exports over the given
/// [`Protocol`] type, defines the panic handler and exports the component.
///
/// The guest crate needs `extern crate alloc;` and `wit-bindgen` among its
/// dependencies (the generated code names it).
#[macro_export]
macro_rules! export_plugin {
    ($protocol:ty) => {
        wit_bindgen::generate!({
            path: "../../wit",
            world: "plugin",
        });

        /// The component's exports, over the plain-Rust protocol.
        struct __GuestPlugin;

        impl exports::llm_perf::plugin::protocol::Guest for __GuestPlugin {
            type StreamParser = __GuestStreamParser;

            fn info() -> llm_perf::plugin::types::PluginInfo {
                use $crate::alloc::borrow::ToOwned;
                let info = <$protocol as $crate::Protocol>::INFO;
                llm_perf::plugin::types::PluginInfo {
                    name: info.name.to_owned(),
                    version: info.version.to_owned(),
                    wit_version: "0.1.0".to_owned(),
                    description: info.description.to_owned(),
                    framing: match info.framing {
                        $crate::Framing::Sse => llm_perf::plugin::types::Framing::Sse,
                        $crate::Framing::Ndjson => llm_perf::plugin::types::Framing::Ndjson,
                        $crate::Framing::Raw => llm_perf::plugin::types::Framing::Raw,
                    },
                }
            }

            fn build_request(
                input: llm_perf::plugin::types::RequestInput,
            ) -> Result<llm_perf::plugin::types::HttpRequest, $crate::alloc::string::String> {
                use $crate::alloc::borrow::ToOwned;
                use llm_perf::plugin::types as wit;
                let prompt = match &input.prompt {
                    wit::Prompt::Text(text) => $crate::Prompt::Text(text),
                    wit::Prompt::Chat(messages) => $crate::Prompt::Chat(
                        messages
                            .iter()
                            .map(|m| $crate::ChatMessage {
                                role: &m.role,
                                content: &m.content,
                            })
                            .collect(),
                    ),
                };
                let built = <$protocol as $crate::Protocol>::build_request(&$crate::RequestInput {
                    prompt,
                    max_tokens: input.max_tokens,
                    stream: input.stream,
                    params_json: &input.params_json,
                })?;
                Ok(wit::HttpRequest {
                    method: built.method.to_owned(),
                    path: built.path,
                    headers: built
                        .headers
                        .into_iter()
                        .map(|(name, value)| wit::Header {
                            name: name.to_owned(),
                            value,
                        })
                        .collect(),
                    body: built.body,
                })
            }

            fn parse_response(
                status: u16,
                body: $crate::alloc::vec::Vec<u8>,
            ) -> Result<
                $crate::alloc::vec::Vec<llm_perf::plugin::types::Event>,
                $crate::alloc::string::String,
            > {
                Ok(<$protocol as $crate::Protocol>::parse_response(status, &body)?
                    .into_iter()
                    .map(__guest_to_wit)
                    .collect())
            }
        }

        /// One streamed response's parser; the host calls it from one
        /// thread at a time, so a `RefCell` suffices.
        struct __GuestStreamParser(
            core::cell::RefCell<<$protocol as $crate::Protocol>::Parser>,
        );

        impl exports::llm_perf::plugin::protocol::GuestStreamParser for __GuestStreamParser {
            fn new() -> Self {
                __GuestStreamParser(core::cell::RefCell::new(Default::default()))
            }

            fn feed(
                &self,
                frames: $crate::alloc::vec::Vec<llm_perf::plugin::types::Frame>,
            ) -> Result<
                $crate::alloc::vec::Vec<llm_perf::plugin::types::Event>,
                $crate::alloc::string::String,
            > {
                use $crate::StreamParse as _;
                let mut parser = self.0.borrow_mut();
                let mut events = $crate::alloc::vec::Vec::with_capacity(frames.len());
                for frame in &frames {
                    parser.feed(frame.event.as_deref(), &frame.data, &mut events)?;
                }
                Ok(events.into_iter().map(__guest_to_wit).collect())
            }

            fn finish(
                &self,
            ) -> Result<
                $crate::alloc::vec::Vec<llm_perf::plugin::types::Event>,
                $crate::alloc::string::String,
            > {
                use $crate::StreamParse as _;
                let mut events = $crate::alloc::vec::Vec::new();
                self.0.borrow_mut().finish(&mut events)?;
                Ok(events.into_iter().map(__guest_to_wit).collect())
            }
        }

        /// Converts a plugin event into the generated WIT type.
        fn __guest_to_wit(event: $crate::Event) -> llm_perf::plugin::types::Event {
            use llm_perf::plugin::types as wit;
            match event {
                $crate::Event::Text(s) => wit::Event::Text(s),
                $crate::Event::Reasoning(s) => wit::Event::Reasoning(s),
                $crate::Event::Usage { prompt, completion } => wit::Event::Usage(wit::Usage {
                    prompt_tokens: prompt,
                    completion_tokens: completion,
                }),
                $crate::Event::Finish(s) => wit::Event::Finish(s),
                $crate::Event::Error(s) => wit::Event::Error(s),
                $crate::Event::Done => wit::Event::Done,
            }
        }

        $crate::panic_handler!(<$protocol as $crate::Protocol>::INFO.name);

        export!(__GuestPlugin);
    };
}
