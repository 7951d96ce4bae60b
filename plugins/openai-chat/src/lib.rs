//! `openai-chat`: the protocol plugin for OpenAI-compatible
//! `/v1/chat/completions` servers (vLLM, SGLang, llama.cpp, TGI, OpenAI, ...).
//!
//! The translation logic lives in plain Rust modules ([`request`],
//! [`stream`], [`response`]) that know nothing of the component model, so
//! `cargo test` runs it on the host target. This file is the edge: it
//! generates the bindings for `wit/plugin.wit`, converts between the
//! generated types and the plugin's own. What `no_std` lacks (allocator,
//! `cabi_realloc`, panic handler) comes from the shared `guest-support` crate.
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

// The allocator and `cabi_realloc` come from `guest-support`; the panic
// handler needs this crate's `host.log` binding, so it is defined here.
guest_support::panic_handler!("openai-chat");

export!(OpenAiChat);
