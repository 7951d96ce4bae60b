//! The protocol plugins built into the runner.
//!
//! `build.rs` compiles every member of the `plugins/` workspace for
//! wasm32-wasip2 and writes the table below into `OUT_DIR`; the bytes are
//! embedded with `include_bytes!`. A scenario names a built-in
//! (`target.plugin: openai-chat`) or a path to a `.wasm`. Only names and
//! bytes live here: a plugin's version and framing come from its `info()`.

/// One embedded plugin component.
#[derive(Debug)]
pub struct Builtin {
    /// The name a scenario uses: the plugin's package name (`openai-chat`).
    pub name: &'static str,
    /// The component's bytes, as `cargo build --target wasm32-wasip2` made them.
    pub wasm: &'static [u8],
}

/// Every built-in plugin, sorted by name.
pub static BUILTINS: &[Builtin] = include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The `.wasm` of a plugin built from `plugins/` for the runner's own tests
/// (`test-faults`): built by the build script with the built-ins, never
/// embedded.
#[doc(hidden)]
pub fn test_plugin(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("RUNNER_PLUGIN_BUILD_DIR"))
        .join(format!("{}.wasm", name.replace('-', "_")))
}

/// The built-in plugin called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_a_wasm_binary() {
        assert!(!BUILTINS.is_empty());
        for builtin in BUILTINS {
            assert!(
                builtin.wasm.starts_with(b"\0asm"),
                "{} is not wasm",
                builtin.name
            );
        }
    }

    #[test]
    fn names_are_unique_and_sorted() {
        let names: Vec<_> = BUILTINS.iter().map(|b| b.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn find_knows_openai_chat_and_nothing_else() {
        let found = find("openai-chat").map(|b| b.name);
        assert_eq!(found, Some("openai-chat"));
        assert!(find("openai_chat").is_none());
        assert!(find("").is_none());
    }
}
