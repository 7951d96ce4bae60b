//! Builds the built-in protocol plugins and embeds them in the runner.
//!
//! `plugins/` is its own cargo workspace of wasm32-wasip2 components. This
//! script builds it in release with a nested cargo, in its own target dir
//! inside the outer one (`<target>/wasm-plugins`, shared by every profile of
//! the outer build), copies each `.wasm` into `OUT_DIR`, and writes
//! `OUT_DIR/builtins.rs`: the table that `src/plugin/builtin.rs` includes.
//!
//! The nested cargo gets none of the outer build's settings: the `CARGO_*`
//! variables that describe the outer build, `RUSTFLAGS`, `RUSTC` and its
//! wrappers are removed, so neither a host `--target`, coverage flags nor
//! clippy's wrapper leak into the guests. User-level cargo settings (home,
//! registries, network, terminal) are kept.

use std::env;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The guests' target; `rust-toolchain.toml` lists it.
const WASM_TARGET: &str = "wasm32-wasip2";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: building the built-in plugins failed\n{message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(var("OUT_DIR")?);
    let root = manifest_dir
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", manifest_dir.display()))?;
    let plugins = root.join("plugins");
    let wit = root.join("wit");

    watch(&plugins)?;
    println!("cargo:rerun-if-changed={}", wit.display());

    let target_dir = nested_target_dir(&out_dir);
    let wasm_files = build_plugins(&plugins, &target_dir)?;
    if wasm_files.is_empty() {
        return Err(format!(
            "the build of {} produced no .wasm file: each plugin must be a `cdylib` member",
            plugins.display()
        ));
    }

    let mut plugins_by_name = Vec::new();
    for source in wasm_files {
        plugins_by_name.push((builtin_name(&source)?, source));
    }
    plugins_by_name.sort();
    if let Some(pair) = plugins_by_name.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!(
            "two plugins are both called {}: {} and {}",
            pair[0].0,
            pair[0].1.display(),
            pair[1].1.display()
        ));
    }

    let mut table = String::from("&[\n");
    for (name, source) in &plugins_by_name {
        // `test-*` members are plugins for the runner's own tests: built
        // with the others, never embedded. Tests find them through
        // `builtin::test_plugin`.
        if name.starts_with("test-") {
            continue;
        }
        let embedded = out_dir.join(format!("{name}.wasm"));
        fs::copy(source, &embedded).map_err(|e| {
            format!(
                "cannot copy {} to {}: {e}",
                source.display(),
                embedded.display()
            )
        })?;
        let path = embedded
            .to_str()
            .ok_or_else(|| format!("OUT_DIR path is not UTF-8: {}", embedded.display()))?;
        // `{:?}` writes a Rust string literal, escapes included.
        let _ = writeln!(
            table,
            "    Builtin {{ name: {name:?}, wasm: include_bytes!({path:?}) }},"
        );
    }
    table.push_str("]\n");
    let release = target_dir.join(WASM_TARGET).join("release");
    println!(
        "cargo:rustc-env=RUNNER_PLUGIN_BUILD_DIR={}",
        release.display()
    );
    let table_path = out_dir.join("builtins.rs");
    fs::write(&table_path, table)
        .map_err(|e| format!("cannot write {}: {e}", table_path.display()))?;
    Ok(())
}

/// An environment variable that cargo sets for build scripts.
fn var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|e| format!("${name} is not usable ({e}); is this run by cargo?"))
}

/// Tells cargo to rerun this script when the plugins' sources change: the
/// workspace's own files and every member folder (cargo scans a folder
/// recursively), but not a `target/` left by building `plugins/` by hand,
/// nor the docs.
fn watch(plugins: &Path) -> Result<(), String> {
    let entries =
        fs::read_dir(plugins).map_err(|e| format!("cannot read {}: {e}", plugins.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", plugins.display()))?;
        let name = entry.file_name();
        if name == OsStr::new("target") || name.to_string_lossy().ends_with(".md") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", entry.path().display());
    }
    Ok(())
}

/// `<outer target>/wasm-plugins`, found from `OUT_DIR`
/// (`<target>[/<triple>]/<profile>/build/runner-<hash>/out`), so dev and
/// release builds of the runner share one plugin build. Falls back to a
/// folder inside `OUT_DIR` if the layout is not the usual one.
fn nested_target_dir(out_dir: &Path) -> PathBuf {
    let build = out_dir.ancestors().nth(2);
    match (build, out_dir.ancestors().nth(4)) {
        (Some(build), Some(target)) if build.file_name() == Some(OsStr::new("build")) => {
            target.join("wasm-plugins")
        }
        _ => out_dir.join("wasm-plugins"),
    }
}

/// Runs the nested `cargo build` and returns the `.wasm` files it produced,
/// read from cargo's JSON messages so a plugin removed from the workspace
/// is not embedded from a stale artifact.
fn build_plugins(plugins: &Path, target_dir: &Path) -> Result<Vec<PathBuf>, String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .current_dir(plugins)
        .args(["build", "--release", "--locked", "--target", WASM_TARGET])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    if let Ok(jobs) = env::var("NUM_JOBS") {
        command.args(["-j", &jobs]);
    }
    for (key, _) in env::vars_os() {
        if let Some(key) = key.to_str()
            && leaks_outer_build(key)
        {
            command.env_remove(key);
        }
    }

    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        // With `json-render-diagnostics` cargo writes the compiler's errors,
        // rendered as usual, to stderr.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("may not be installed") {
            format!("the {WASM_TARGET} target is missing; run: rustup target add {WASM_TARGET}")
        } else {
            format!(
                "to rebuild the plugins alone, run in {}: cargo build --release --target {WASM_TARGET} \
                 (and if the target is missing: rustup target add {WASM_TARGET})",
                plugins.display()
            )
        };
        return Err(format!(
            "`cargo build --release --target {WASM_TARGET}` of {} failed ({}):\n{stderr}\nhint: {hint}",
            plugins.display(),
            output.status,
        ));
    }
    let mut wasm = wasm_artifacts(&stdout)?;
    // Cargo may name one artifact in several messages.
    wasm.sort();
    wasm.dedup();
    Ok(wasm)
}

/// Whether an inherited variable configures the outer build rather than the
/// user's cargo, and so must not reach the nested one.
fn leaks_outer_build(key: &str) -> bool {
    const KEEP: &[&str] = &[
        "CARGO_HOME",
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRIES_",
        "CARGO_REGISTRY_",
        "CARGO_TERM_",
    ];
    const CLEAR: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "MAKEFLAGS",
        "MFLAGS",
    ];
    if let Some(rest) = key.strip_prefix("CARGO") {
        let keep = KEEP.iter().any(|k| key.starts_with(k));
        // `CARGO` itself (the outer cargo's path) and every `CARGO_*` else.
        (rest.is_empty() || rest.starts_with('_')) && !keep
    } else {
        CLEAR.contains(&key)
    }
}

/// The `.wasm` files named by the `compiler-artifact` messages.
fn wasm_artifacts(stdout: &str) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for line in stdout.lines().filter(|l| l.starts_with('{')) {
        let message: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("cannot read a cargo message ({e}): {line}"))?;
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let names = message["filenames"].as_array().into_iter().flatten();
        files.extend(
            names
                .filter_map(|f| f.as_str())
                .filter(|f| f.ends_with(".wasm"))
                .map(PathBuf::from),
        );
    }
    Ok(files)
}

/// A plugin's built-in name: its package name, from the artifact's file name
/// (`openai_chat.wasm` is package `openai-chat`).
fn builtin_name(wasm: &Path) -> Result<String, String> {
    let stem = wasm
        .file_stem()
        .and_then(OsStr::to_str)
        .ok_or_else(|| format!("odd artifact name: {}", wasm.display()))?;
    Ok(stem.replace('_', "-"))
}
