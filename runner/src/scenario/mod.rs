//! Scenario files: YAML in, a validated [`Scenario`] or every problem out.
//!
//! # Design: three passes over one tree, all errors at once
//!
//! serde stops at its first error, and an unknown key or a wrong type would
//! then hide every other mistake. So the file is read in passes that each
//! collect everything they find:
//!
//! 1. **Parse** (`yaml.rs`, the only module that knows the YAML crate): text to
//!    a `tree::Node` tree where every key and value carries its line and
//!    column. A syntax error stops here, with its position.
//! 2. **Structure** (`structure.rs`): walk the tree beside the JSON Schema that
//!    schemars generates from the raw types (`raw.rs`). Every unknown key (with
//!    the nearest valid key and the full list), every wrong type and every
//!    unknown enum value is reported, and the walk returns a *pruned* copy of
//!    the tree holding only what fits. Nothing in the walk names a scenario
//!    key: the schema is the single description of the format, the same one
//!    shipped as `resources/scenario.schema.json` for editors.
//! 3. **Typed pass and semantics**: the raw types are deserialized from the
//!    pruned tree (`tree::NodeDeserializer`; fields that need a position are
//!    `tree::Located`), so they cannot fail on what the walk reported, and
//!    the semantic checks (`validate.rs`, `target.rs`) still run on everything
//!    else: durations, levels, files, URLs, `${env:NAME}`. The command-line
//!    [`Overrides`] are applied here, before the checks, so their values are
//!    checked too and reported as `--flag: error: ...`.
//!
//! Positions come from serde-saphyr's `Spanned` inside `yaml.rs` only. The raw
//! types use our own `Located<T>`, filled in by the tree deserializer, for two
//! reasons: the typed pass must read the *pruned tree* (deserializing the text
//! again would trip over the very keys already reported, e.g. inside the
//! `deny_unknown_fields` `MockConfig`), and the raw types then never name the
//! YAML crate.
//!
//! If the typed pass fails anyway (the walk and the deserializer disagree),
//! the structural problems are reported, or the serde error with its position
//! when there are none.
//!
//! Every problem becomes a [`Diagnostic`]: `FILE:LINE:COL: error: ...` and a
//! `help:` line with the fix.

mod dataset;
mod dataset_model;
mod diagnostic;
mod duration;
mod interpolate;
mod load_section;
mod model;
mod phase;
mod raw;
mod raw_dataset;
mod raw_load;
mod structure;
mod suggest;
mod target;
mod tree;
mod validate;
mod yaml;

use std::path::Path;

pub use dataset_model::*;
pub use diagnostic::{Diagnostic, Diagnostics, Origin};
/// Durations as scenarios write them (`500ms`, `2s`), for flags that take one.
pub use duration::{HELP as DURATION_HELP, parse as parse_duration};
pub use model::*;
pub use phase::*;
pub use validate::default_levels;

use raw::ScenarioFile;
use tree::Pos;
use validate::{Context, Report};

/// Reads and validates a scenario file, with the command-line overrides
/// applied. Relative paths in the file resolve against the file's folder.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Scenario, Diagnostics> {
    match std::fs::read_to_string(path) {
        Ok(text) => from_str(&text, path, overrides),
        Err(error) => Err(
            Diagnostic::in_file(path, format!("cannot read the scenario: {error}"))
                .with_help("check the path of the scenario file")
                .into(),
        ),
    }
}

/// Validates scenario text as if it had been read from `source` (used for
/// positions in messages and as the folder relative paths start from).
pub fn from_str(text: &str, source: &Path, overrides: &Overrides) -> Result<Scenario, Diagnostics> {
    let base = source.parent().unwrap_or(Path::new(""));
    let env = |name: &str| std::env::var(name);
    let cx = Context {
        file: Some(source),
        base,
        env: &env,
    };
    let mut report = Report {
        file: Some(source),
        diagnostics: Diagnostics::default(),
    };
    let scenario = read(text, overrides, &cx, &mut report);
    finish(report.diagnostics, scenario)
}

/// Builds a scenario from flags alone, as the original tool ran
/// (`--url` and `--test-set` are then required). Relative paths resolve
/// against the current directory.
pub fn from_overrides(overrides: &Overrides) -> Result<Scenario, Diagnostics> {
    let env = |name: &str| std::env::var(name);
    let cx = Context {
        file: None,
        base: Path::new(""),
        env: &env,
    };
    let mut report = Report {
        file: None,
        diagnostics: Diagnostics::default(),
    };
    let scenario = validate::validate(ScenarioFile::default(), overrides, &cx, &mut report);
    finish(report.diagnostics, Some(scenario))
}

/// The JSON Schema of the scenario file (pretty, with a final newline), as
/// committed in `resources/scenario.schema.json`.
pub fn json_schema() -> String {
    let schema = schema_value();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

fn schema_value() -> serde_json::Value {
    serde_json::Value::from(schemars::schema_for!(ScenarioFile))
}

/// Parse, structure, typed pass, semantics. `None` when a pass could not
/// produce anything for the next one; the report then holds why.
fn read(
    text: &str,
    overrides: &Overrides,
    cx: &Context<'_>,
    report: &mut Report<'_>,
) -> Option<Scenario> {
    let tree = match yaml::parse(text) {
        Ok(tree) => tree,
        Err(error) => {
            report.at(
                error.pos.unwrap_or(Pos { line: 1, col: 1 }),
                error.message,
                error.help,
            );
            return None;
        }
    };
    let (pruned, problems) = structure::check(&schema_value(), &tree);
    for problem in problems {
        report.at(
            problem.pos,
            problem.message,
            problem.help.unwrap_or_default(),
        );
    }
    let raw: ScenarioFile = match tree::from_node(&pruned?) {
        Ok(raw) => raw,
        Err(error) => {
            if report.diagnostics.is_empty() {
                report.at(
                    error.pos.unwrap_or(Pos { line: 1, col: 1 }),
                    error.message,
                    "fix this value; see resources/scenario.schema.json for the format",
                );
            }
            return None;
        }
    };
    Some(validate::validate(raw, overrides, cx, report))
}

/// Orders the problems as a reader meets them (file positions top to bottom,
/// then whole-file ones, then flags) and decides the result.
fn finish(
    mut diagnostics: Diagnostics,
    scenario: Option<Scenario>,
) -> Result<Scenario, Diagnostics> {
    diagnostics.0.sort_by_key(|d| match &d.origin {
        Origin::File {
            line: Some(line),
            col,
            ..
        } => (0, *line, col.unwrap_or(0)),
        Origin::File { line: None, .. } => (1, 0, 0),
        Origin::Flag(_) => (2, 0, 0),
    });
    match scenario {
        Some(scenario) if diagnostics.is_empty() => Ok(scenario),
        None if diagnostics.is_empty() => Err(Diagnostic::flag(
            "scenario",
            "the scenario could not be read",
        )
        .with_help("check that the file is a YAML mapping of `key: value` entries")
        .into()),
        _ => Err(diagnostics),
    }
}
