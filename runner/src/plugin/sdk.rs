//! The plugin SDK commands: `runner plugin new | check | list`.
//!
//! - [`scaffold`] (`plugin new NAME`) writes a copy of `plugins/template/`,
//!   embedded in the binary, under a new name: a guest crate that builds
//!   with `cargo build --release --target wasm32-wasip2` on the first try.
//! - [`check`] (`plugin check FILE.wasm`) loads a built component the way a
//!   run does, shows what it sends and what it finds in a sample stream, and
//!   lists every problem it saw; see the `check` submodule.
//! - [`cmd_list`] (`plugin list`) shows the built-in plugins and the
//!   `.wasm` files in the plugin folder ([`plugin_dir`]).

mod check;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::{Plugin, PluginEngine, PluginLimits, builtin, default_cache_dir};

pub use check::{CheckOptions, CheckReport, check, sample_inputs};

/// The name the template's files use; `plugin new` replaces it.
const TEMPLATE_NAME: &str = "plugin-template";

/// The files of `plugins/template/`, as `(relative path, text)`. Embedded so
/// that an installed `runner` scaffolds without the source tree.
pub const TEMPLATE_FILES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../plugins/template/Cargo.toml"),
    ),
    (
        "Cargo.lock",
        include_str!("../../../plugins/template/Cargo.lock"),
    ),
    (
        ".gitignore",
        include_str!("../../../plugins/template/.gitignore"),
    ),
    (
        "README.md",
        include_str!("../../../plugins/template/README.md"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../plugins/template/src/lib.rs"),
    ),
    (
        "wit/plugin.wit",
        include_str!("../../../plugins/template/wit/plugin.wit"),
    ),
    (
        "fixtures/stream.txt",
        include_str!("../../../plugins/template/fixtures/stream.txt"),
    ),
    (
        "fixtures/prompts.txt",
        include_str!("../../../plugins/template/fixtures/prompts.txt"),
    ),
    (
        "scenario.yaml",
        include_str!("../../../plugins/template/scenario.yaml"),
    ),
];

/// `runner plugin new`: scaffold a plugin crate from the template.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name: lowercase letters, digits and `-` (`my-api`).
    /// It names the crate, the folder and the built `.wasm`.
    pub name: String,
    /// The folder to create the crate in (default: the current folder).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `runner plugin check`: load a built plugin and exercise it.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The plugin component (`target/wasm32-wasip2/release/NAME.wasm`).
    pub file: PathBuf,
    /// A recorded response body to feed through the host's framing and the
    /// plugin's stream parser (the template has `fixtures/stream.txt`).
    #[arg(long, value_name = "STREAM_FILE")]
    pub fixture: Option<PathBuf>,
    /// The scenario's `params`, as a JSON object (`{"model":"m"}`).
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub params: String,
}

/// Why `plugin new` could not scaffold.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot be a cargo package name.
    #[error(
        "`{0}` is not a usable plugin name: use lowercase letters, digits and single `-` \
         between them, starting with a letter, at most 64 characters (e.g. `my-api`)"
    )]
    BadName(String),
    /// The folder is there already; nothing is overwritten.
    #[error("{} already exists: choose another name or --dir, or remove it first", .0.display())]
    Exists(PathBuf),
    /// Writing a file failed.
    #[error("cannot write {}: {}", .path.display(), .source)]
    Io {
        /// The file or folder being written.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
}

/// Whether `name` is a package name the template can take: `[a-z][a-z0-9]*`
/// words joined by single `-`, at most 64 characters, and not a name cargo
/// or rustc reserve.
pub fn valid_name(name: &str) -> bool {
    const RESERVED: &[&str] = &["test", "std", "core", "alloc", "proc-macro"];
    name.len() <= 64
        && !RESERVED.contains(&name)
        && name.split('-').all(|word| {
            word.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && word.bytes().next().is_some()
        })
        && name.starts_with(|c: char| c.is_ascii_lowercase())
}

/// Writes the template as a new crate `parent/name` and returns its folder.
/// Refuses a name cargo would not take and a folder that exists.
pub fn scaffold(name: &str, parent: &Path) -> Result<PathBuf, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    let root = parent.join(name);
    if root.exists() {
        return Err(ScaffoldError::Exists(root));
    }
    std::fs::create_dir_all(parent).map_err(|e| ScaffoldError::Io {
        path: parent.to_path_buf(),
        source: e,
    })?;
    // `create_dir` (not `_all`) fails if the folder appeared meanwhile, so
    // nothing of someone else's is ever overwritten.
    std::fs::create_dir(&root).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => ScaffoldError::Exists(root.clone()),
        _ => ScaffoldError::Io {
            path: root.clone(),
            source: e,
        },
    })?;
    let snake = name.replace('-', "_");
    let template_snake = TEMPLATE_NAME.replace('-', "_");
    for (rel, text) in TEMPLATE_FILES {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ScaffoldError::Io {
                path: dir.to_path_buf(),
                source: e,
            })?;
        }
        let text = text
            .replace(TEMPLATE_NAME, name)
            .replace(&template_snake, &snake);
        std::fs::write(&path, text).map_err(|e| ScaffoldError::Io {
            path: path.clone(),
            source: e,
        })?;
    }
    Ok(root)
}

/// `runner plugin new NAME [--dir D]`.
pub fn cmd_new(args: &NewArgs) -> ExitCode {
    let parent = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    match scaffold(&args.name, &parent) {
        Ok(root) => {
            let wasm = args.name.replace('-', "_");
            println!("created {}", root.display());
            println!();
            println!("next:");
            println!("  cd {}", root.display());
            println!("  rustup target add wasm32-wasip2   # once");
            println!("  cargo build --release --target wasm32-wasip2");
            println!(
                "  runner plugin check target/wasm32-wasip2/release/{wasm}.wasm --fixture fixtures/stream.txt"
            );
            println!("  runner run scenario.yaml          # against the embedded mock");
            ExitCode::SUCCESS
        }
        Err(e @ (ScaffoldError::BadName(_) | ScaffoldError::Exists(_))) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `runner plugin check FILE.wasm [--fixture F] [--params JSON]`: exit 0
/// when no problem was found, 1 when some were, 2 for unusable input.
pub fn cmd_check(args: &CheckArgs) -> ExitCode {
    let wasm = match std::fs::read(&args.file) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let fixture = match &args.fixture {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                eprintln!("error: cannot read the fixture {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    match serde_json::from_str::<serde_json::Value>(&args.params) {
        Ok(serde_json::Value::Object(_)) => {}
        Ok(_) => {
            eprintln!("error: --params must be a JSON object, like '{{\"model\":\"m\"}}'");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!(
                "error: --params is not JSON ({e}); give an object, like '{{\"model\":\"m\"}}'"
            );
            return ExitCode::from(2);
        }
    }
    let engine = match PluginEngine::new(default_cache_dir()) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let label = args
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin");
    let opts = CheckOptions {
        fixture,
        params_json: args.params.clone(),
    };
    let mut out = std::io::stdout().lock();
    match check(engine, label, &wasm, &opts, &mut out) {
        Ok(report) if report.problems.is_empty() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: writing the report: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The folder `plugin list` searches for `.wasm` plugins:
/// `$LLM_PERF_PLUGIN_DIR`, else `./plugins`.
pub fn plugin_dir() -> PathBuf {
    std::env::var_os("LLM_PERF_PLUGIN_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("plugins"), PathBuf::from)
}

/// The `.wasm` files directly in `dir`, sorted; none when it is absent.
pub fn found_plugins(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
        .collect();
    files.sort();
    files
}

/// `runner plugin list`: every built-in plugin, then every `.wasm` in
/// [`plugin_dir`], with name, version and contract version. A file that
/// does not load is reported with its reason, and the exit code is 1.
pub fn cmd_list() -> ExitCode {
    let engine = match PluginEngine::new(default_cache_dir()) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    println!("{:<20} {:<10} {:<6} description", "name", "version", "wit");
    let mut status = ExitCode::SUCCESS;
    // Prints one plugin's line; false when it does not load.
    let show = |label: &str, wasm: &[u8], origin: &str| match Plugin::load(
        engine.clone(),
        label,
        wasm,
        PluginLimits::default(),
    ) {
        Ok(p) => {
            let i = p.info();
            println!(
                "{:<20} {:<10} {:<6} {} ({origin})",
                i.name, i.version, i.wit_version, i.description
            );
            true
        }
        Err(e) => {
            eprintln!("{origin}: {e}");
            false
        }
    };
    for b in builtin::BUILTINS {
        if !show(b.name, b.wasm, "built-in") {
            status = ExitCode::FAILURE;
        }
    }
    for path in found_plugins(&plugin_dir()) {
        let label = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("plugin");
        match std::fs::read(&path) {
            Ok(wasm) => {
                if !show(label, &wasm, &path.display().to_string()) {
                    status = ExitCode::FAILURE;
                }
            }
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cargo_takes_are_valid_and_others_not() {
        for ok in ["demo", "my-api", "a1", "tgi-v2"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "", "Demo", "-a", "a-", "a--b", "1a", "my_api", "a b", "test", "std", "é",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(!valid_name(&"a".repeat(65)));
    }

    #[test]
    fn scaffold_renames_and_refuses_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let root = scaffold("my-api", tmp.path()).unwrap();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"my-api\""), "{manifest}");
        assert!(!manifest.contains(TEMPLATE_NAME));
        let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
        assert!(lock.contains("name = \"my-api\""));
        for (rel, _) in TEMPLATE_FILES {
            assert!(root.join(rel).is_file(), "{rel}");
        }
        // The folder now exists: a second scaffold leaves it alone.
        std::fs::write(root.join("src/lib.rs"), "mine").unwrap();
        assert!(matches!(
            scaffold("my-api", tmp.path()),
            Err(ScaffoldError::Exists(_))
        ));
        assert_eq!(
            std::fs::read_to_string(root.join("src/lib.rs")).unwrap(),
            "mine"
        );
        assert!(matches!(
            scaffold("My Api", tmp.path()),
            Err(ScaffoldError::BadName(_))
        ));
    }

    #[test]
    fn the_template_carries_the_runners_contract() {
        let (_, wit) = TEMPLATE_FILES
            .iter()
            .find(|(rel, _)| *rel == "wit/plugin.wit")
            .unwrap();
        assert!(wit.contains(&format!(
            "package llm-perf:plugin@{};",
            super::super::WIT_VERSION
        )));
    }

    #[test]
    fn found_plugins_lists_only_wasm_files_sorted() {
        let tmp = tempfile::tempdir().unwrap();
        for f in ["b.wasm", "a.wasm", "notes.txt"] {
            std::fs::write(tmp.path().join(f), b"x").unwrap();
        }
        std::fs::create_dir(tmp.path().join("dir.wasm")).unwrap();
        let found = found_plugins(tmp.path());
        let names: Vec<_> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["a.wasm", "b.wasm"]);
        assert!(found_plugins(&tmp.path().join("absent")).is_empty());
    }
}
