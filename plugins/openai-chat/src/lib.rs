//! `openai-chat`: the protocol plugin for OpenAI-compatible
//! `/v1/chat/completions` servers (vLLM, SGLang, llama.cpp, TGI, OpenAI, ...).
//!
//! The translation logic lives in plain Rust modules ([`request`],
//! [`stream`], [`response`]) that know nothing of the component model, so
//! `cargo test` runs it on the host target. This file is the edge: it
//! generates the bindings for `wit/plugin.wit`, converts between the
//! generated types and the plugin's own, and provides what `no_std` lacks
//! (allocator, `cabi_realloc`, panic handler).
//!
//! The host links no WASI, and any WASI call traps. So on wasm32 the crate
//! is `no_std` (with `alloc`): stdout, clocks, the environment, files and
//! `std`'s randomly seeded `HashMap` are not merely avoided but absent, and
//! the component imports nothing but `host`. Native builds (`cargo test`)
//! keep `std` for the test harness.

#![cfg_attr(all(target_arch = "wasm32", not(test)), no_std)]

extern crate alloc;

mod event;
mod request;
mod response;
mod stream;
mod wire;

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use event::Event;

wit_bindgen::generate!({
    path: "../../wit",
    world: "plugin",
});

use exports::llm_perf::plugin::protocol::{Guest, GuestStreamParser};
use llm_perf::plugin::types as wit;

/// The component's exports.
struct OpenAiChat;

impl Guest for OpenAiChat {
    type StreamParser = StreamParser;

    fn info() -> wit::PluginInfo {
        wit::PluginInfo {
            name: "openai-chat".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            wit_version: "0.1.0".to_owned(),
            description: "OpenAI-compatible /v1/chat/completions (vLLM, SGLang, llama.cpp, ...)"
                .to_owned(),
            framing: wit::Framing::Sse,
        }
    }

    fn build_request(input: wit::RequestInput) -> Result<wit::HttpRequest, String> {
        let prompt = match &input.prompt {
            wit::Prompt::Text(text) => request::Prompt::Text(text),
            wit::Prompt::Chat(messages) => request::Prompt::Chat(
                messages
                    .iter()
                    .map(|m| request::ChatMessage {
                        role: &m.role,
                        content: &m.content,
                    })
                    .collect(),
            ),
        };
        let built = request::build_request(&request::RequestInput {
            prompt,
            max_tokens: input.max_tokens,
            stream: input.stream,
            params_json: &input.params_json,
        })?;
        Ok(wit::HttpRequest {
            method: built.method.to_owned(),
            path: built.path.to_owned(),
            headers: built
                .headers
                .into_iter()
                .map(|(name, value)| wit::Header {
                    name: name.to_owned(),
                    value: value.to_owned(),
                })
                .collect(),
            body: built.body,
        })
    }

    fn parse_response(status: u16, body: Vec<u8>) -> Result<Vec<wit::Event>, String> {
        Ok(response::parse_response(status, &body)?
            .into_iter()
            .map(to_wit)
            .collect())
    }
}

/// The parser of one streamed response. OpenAI chunks are self-contained,
/// so it holds no state.
struct StreamParser;

impl GuestStreamParser for StreamParser {
    fn new() -> Self {
        StreamParser
    }

    fn feed(&self, frames: Vec<wit::Frame>) -> Result<Vec<wit::Event>, String> {
        let mut events = Vec::with_capacity(frames.len());
        for frame in &frames {
            stream::feed_frame(frame.event.as_deref(), &frame.data, &mut |e| {
                events.push(to_wit(e))
            })?;
        }
        Ok(events)
    }

    fn finish(&self) -> Result<Vec<wit::Event>, String> {
        Ok(Vec::new())
    }
}

/// Converts the plugin's event into the generated WIT type.
fn to_wit(event: Event) -> wit::Event {
    match event {
        Event::Text(s) => wit::Event::Text(s),
        Event::Reasoning(s) => wit::Event::Reasoning(s),
        Event::Usage { prompt, completion } => wit::Event::Usage(wit::Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
        }),
        Event::Finish(s) => wit::Event::Finish(s),
        Event::Error(s) => wit::Event::Error(s),
        Event::Done => wit::Event::Done,
    }
}

/// What `std` would otherwise provide on wasm32: an allocator and a panic
/// handler. The handler reports the panic through `host.log` (std's default
/// hook would write to stderr, which the host does not provide), then traps;
/// the host counts the trap as a plugin fault and drops the instance.
#[cfg(all(target_arch = "wasm32", not(test)))]
mod sandbox {
    use super::llm_perf::plugin::host::{Level, log};

    // `memcmp`, `memcpy` and the like: on this target `compiler_builtins`
    // leaves them to wasi-libc, which `std` would have linked. They are plain
    // code and import nothing.
    #[link(name = "c")]
    unsafe extern "C" {}

    #[global_allocator]
    static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

    /// The allocator the canonical ABI calls to place arguments (frames,
    /// bodies) in the guest's memory. `std` exports it on this target, and
    /// wit-bindgen leaves it to `std`, so a `no_std` guest must export it.
    ///
    /// # Safety
    /// Called by the component runtime with the canonical ABI's contract:
    /// `old_ptr`/`old_len`/`align` describe a block this allocator returned
    /// (or `old_len == 0`), and `align` is a power of two.
    #[unsafe(no_mangle)]
    unsafe extern "C" fn cabi_realloc(
        old_ptr: *mut u8,
        old_len: usize,
        align: usize,
        new_len: usize,
    ) -> *mut u8 {
        use alloc::alloc::{Layout, alloc, realloc};
        if new_len == 0 {
            // A zero-sized value needs no memory, only an aligned address.
            return align as *mut u8;
        }
        // SAFETY: the runtime passes a power-of-two `align` and the layout
        // of the block it got from this function, per the canonical ABI.
        let ptr = unsafe {
            if old_len == 0 {
                alloc(Layout::from_size_align_unchecked(new_len, align))
            } else {
                realloc(
                    old_ptr,
                    Layout::from_size_align_unchecked(old_len, align),
                    new_len,
                )
            }
        };
        if ptr.is_null() {
            // Out of memory under the host's cap: trap; there is no caller
            // to hand an error to.
            core::arch::wasm32::unreachable()
        }
        ptr
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo) -> ! {
        log(Level::Error, &alloc::format!("openai-chat {info}"));
        core::arch::wasm32::unreachable()
    }
}

export!(OpenAiChat);
