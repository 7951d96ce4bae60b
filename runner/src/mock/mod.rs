//! The embedded mock LLM server.
mod config;
pub use config::MockConfig;
