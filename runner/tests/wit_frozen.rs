//! The plugin contract is frozen once released: `wit/since_vX.Y.Z/` holds
//! the contract of version X.Y.Z as shipped, and while `wit/plugin.wit`
//! still carries that version it must not differ from the frozen copy (a
//! change needs a new version, and the host's `WIT_VERSION` with it). The
//! plugin template carries its own copy, which must match too.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runner/ has a parent")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The version in a WIT file's `package llm-perf:plugin@X.Y.Z;` line.
fn package_version(wit: &str) -> Option<&str> {
    wit.lines()
        .find_map(|l| l.trim().strip_prefix("package llm-perf:plugin@"))
        .and_then(|rest| rest.strip_suffix(';'))
}

#[test]
fn package_version_is_read_from_the_package_line() {
    assert_eq!(
        package_version("/// doc\npackage llm-perf:plugin@1.2.3;\n"),
        Some("1.2.3")
    );
    assert_eq!(package_version("package other:thing@1.0.0;"), None);
}

#[test]
fn the_current_contract_matches_its_frozen_copy() {
    let current = read(&repo().join("wit/plugin.wit"));
    let version = package_version(&current).expect("wit/plugin.wit has a package line");
    assert_eq!(
        version,
        runner::plugin::WIT_VERSION,
        "the host's WIT_VERSION must follow wit/plugin.wit's package version"
    );
    let frozen = repo().join(format!("wit/since_v{version}/plugin.wit"));
    // 0.1.0 is released, so its frozen copy must exist; a later version is
    // frozen when it is released, and from then on this test holds it.
    if version == "0.1.0" || frozen.exists() {
        assert!(
            read(&frozen) == current,
            "wit/plugin.wit differs from {} while its package version is still {version}: \
             a released contract cannot change; bump the version for a new one",
            frozen.display()
        );
    }
}

#[test]
fn every_frozen_copy_is_named_after_its_version() {
    let mut seen = 0;
    for entry in std::fs::read_dir(repo().join("wit")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(folder_version) = name.strip_prefix("since_v") else {
            continue;
        };
        let text = read(&entry.path().join("plugin.wit"));
        assert_eq!(package_version(&text), Some(folder_version), "{name}");
        seen += 1;
    }
    assert!(seen >= 1, "no wit/since_v*/ folder");
}

#[test]
fn the_template_carries_the_current_contract() {
    let current = read(&repo().join("wit/plugin.wit"));
    let template = read(&repo().join("plugins/template/wit/plugin.wit"));
    assert!(
        template == current,
        "plugins/template/wit/plugin.wit differs from wit/plugin.wit: copy it over"
    );
}
