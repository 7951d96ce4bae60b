//! plugin
pub mod builtin;
