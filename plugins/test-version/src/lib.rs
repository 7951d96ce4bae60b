//! `test-version`: a plugin for the runner's own tests that claims, in its
//! `info()`, to be built against WIT 9.9.0. The runner must refuse to load
//! it with a clear version error, before any request is built. Its other
//! exports work, so a refusal can only come from the version check.
//! It is never embedded in the runner; tests load it from the build folder.

wit_bindgen::generate!({
    path: "../../wit",
    world: "plugin",
});

use exports::llm_perf::plugin::protocol::{Guest, GuestStreamParser};
use llm_perf::plugin::types as wit;

/// The contract version this plugin pretends to speak.
const CLAIMED_WIT_VERSION: &str = "9.9.0";

struct VersionTest;

impl Guest for VersionTest {
    type StreamParser = Parser;

    fn info() -> wit::PluginInfo {
        wit::PluginInfo {
            name: "test-version".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            wit_version: CLAIMED_WIT_VERSION.into(),
            description: "claims another WIT version, for the runner's version check".into(),
            framing: wit::Framing::Sse,
        }
    }

    fn build_request(_input: wit::RequestInput) -> Result<wit::HttpRequest, String> {
        Ok(wit::HttpRequest {
            method: "POST".into(),
            path: "/".into(),
            headers: Vec::new(),
            body: Vec::new(),
        })
    }

    fn parse_response(_status: u16, _body: Vec<u8>) -> Result<Vec<wit::Event>, String> {
        Ok(Vec::new())
    }
}

struct Parser;

impl GuestStreamParser for Parser {
    fn new() -> Self {
        Parser
    }

    fn feed(&self, frames: Vec<wit::Frame>) -> Result<Vec<wit::Event>, String> {
        Ok(frames
            .into_iter()
            .map(|f| wit::Event::Text(f.data))
            .collect())
    }

    fn finish(&self) -> Result<Vec<wit::Event>, String> {
        Ok(Vec::new())
    }
}

export!(VersionTest);
