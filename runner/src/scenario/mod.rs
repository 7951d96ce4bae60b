//! Scenario files: raw YAML types, validation, and the validated [`Scenario`].
mod model;
pub use model::*;
