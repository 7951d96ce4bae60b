//! The plugin's events: the type shared by every plugin in `plugins/`,
//! free of generated binding types so the translation logic can be
//! unit-tested on the host target. `lib.rs` converts them at the component
//! boundary.

pub use guest_support::event::{Event, preview};
