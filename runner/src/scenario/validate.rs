//! The semantic pass: raw types (plus the command-line overrides) into the
//! validated [`Scenario`]. Every check runs and reports; a value that fails
//! falls back to its default only so that the remaining checks can run, and
//! any report makes the whole result an error.

use std::env::VarError;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::diagnostic::{Diagnostic, Diagnostics};
use super::duration;
use super::raw::{DurationText, LangChoice, LiveStyleChoice, ScenarioFile};
use super::target;
use super::tree::{Located, Pos};
use super::{Lang, Live, LiveStyle, Output, Overrides, Scenario, Slo};

/// Where the raw scenario came from and how to resolve what it names.
pub struct Context<'a> {
    /// The scenario file, for positions and `Scenario::source`; `None` when
    /// the scenario is built from flags alone.
    pub file: Option<&'a Path>,
    /// The folder that relative paths in the file are resolved against.
    pub base: &'a Path,
    /// Looks up environment variables for `${env:NAME}`.
    pub env: &'a dyn Fn(&str) -> Result<String, VarError>,
}

/// Where a value came from: a flag, or a position in the file.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    /// A command-line flag.
    Flag(&'static str),
    /// A position in the scenario file.
    At(Pos),
}

/// Collects diagnostics for one scenario.
pub struct Report<'a> {
    /// The scenario file, if any.
    pub file: Option<&'a Path>,
    /// What was found so far.
    pub diagnostics: Diagnostics,
}

impl Report<'_> {
    /// A problem at a position in the scenario file.
    pub fn at(&mut self, pos: Pos, message: impl Into<String>, help: impl Into<String>) {
        let diagnostic = match self.file {
            Some(file) => Diagnostic::at(file, pos.line, pos.col, message),
            // Without a file there are no positions; name the input instead.
            None => Diagnostic::flag("scenario", message),
        };
        self.diagnostics.push(diagnostic.with_help(help));
    }

    /// A problem with the file as a whole, or with `flag` when there is no file.
    pub fn whole(&mut self, flag: &str, message: impl Into<String>, help: impl Into<String>) {
        let diagnostic = match self.file {
            Some(file) => Diagnostic::in_file(file, message),
            None => Diagnostic::flag(flag, message),
        };
        self.diagnostics.push(diagnostic.with_help(help));
    }

    /// A problem with a value from `place`.
    pub fn place(&mut self, place: &Place, message: impl Into<String>, help: impl Into<String>) {
        match place {
            Place::Flag(flag) => self.flag(flag, message, help),
            Place::At(pos) => self.at(*pos, message, help),
        }
    }

    /// A problem with a flag's value.
    pub fn flag(&mut self, flag: &str, message: impl Into<String>, help: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::flag(flag, message).with_help(help));
    }
}

/// The default levels: the original tool's ramp. Start at 1, then
/// `n = max(n + 3, ceil(1.2 n))` while `n < 1024`: 1, 4, 7, ..., 818, 982.
pub fn default_levels() -> Vec<u32> {
    let mut levels = Vec::new();
    let mut n: u32 = 1;
    while n < 1024 {
        levels.push(n);
        // ceil(1.2 n) in integers: ceil(6n / 5).
        n = (n + 3).max((6 * n).div_ceil(5));
    }
    levels
}

const DEFAULT_NAME: &str = "benchmark";
const DEFAULT_LIVE_INTERVAL: Duration = Duration::from_secs(30);

/// Validates a raw scenario with its overrides applied.
pub fn validate(
    raw: ScenarioFile,
    overrides: &Overrides,
    cx: &Context<'_>,
    report: &mut Report<'_>,
) -> Scenario {
    let name = match &overrides.name {
        Some(name) => check_name(name)
            .map_err(|(m, h)| report.flag("--name", m, h))
            .ok(),
        None => raw.name.and_then(|name| {
            check_name(&name.value)
                .map_err(|(m, h)| report.at(name.pos, m, h))
                .ok()
        }),
    }
    .unwrap_or_else(|| DEFAULT_NAME.to_string());
    let description = overrides
        .description
        .clone()
        .or(raw.description)
        .unwrap_or_default();
    let target = target::validate(raw.target, overrides.url.as_deref(), cx, report);
    let dataset = super::dataset::validate(raw.dataset, overrides, cx, report);
    let load = super::load_section::load(
        raw.load.unwrap_or_default(),
        overrides,
        cx,
        target.timeouts.total,
        report,
    );
    let output = output(
        raw.output.unwrap_or_default().work_dir,
        overrides,
        cx,
        report,
    );
    let slo = slo(raw.slo, report);
    if !slo.any()
        && load
            .phases
            .iter()
            .any(|p| matches!(p.kind, super::PhaseKind::Search(_)))
    {
        report.whole(
            "slo",
            "a `search` phase needs objectives to search against, and `slo` sets none",
            "add e.g. `slo: { ttft: 2s, tpot: 50ms }` to the scenario",
        );
    }
    let live_raw = raw.live.unwrap_or_default();
    let live = Live {
        interval: duration_at(
            report,
            live_raw.interval,
            "live.interval",
            DEFAULT_LIVE_INTERVAL,
            false,
        ),
        lang: overrides.lang.unwrap_or(match live_raw.lang {
            Some(LangChoice::En) => Lang::En,
            Some(LangChoice::Zh) | None => Lang::Zh,
        }),
        style: match live_raw.style {
            Some(LiveStyleChoice::Original) => LiveStyle::Original,
            Some(LiveStyleChoice::Modern) => LiveStyle::Modern,
            Some(LiveStyleChoice::Both) | None => LiveStyle::Both,
        },
    };
    Scenario {
        name,
        description,
        source: cx.file.map(Path::to_path_buf),
        target,
        dataset,
        load,
        output,
        live,
        slo,
        calibrate: raw.calibrate.unwrap_or(false),
    }
}

/// A run name becomes a folder name: one path component, printable.
fn check_name(name: &str) -> Result<String, (String, String)> {
    let bad = name.trim().is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control);
    if bad {
        Err((
            format!("`{name}` cannot be a run name"),
            "the name becomes a folder name: use letters, digits, `-` and `_`, without `/`"
                .to_string(),
        ))
    } else {
        Ok(name.to_string())
    }
}

/// Parses an optional duration; a bad or (when not allowed) zero one is
/// reported and replaced by the default.
pub fn duration_at(
    report: &mut Report<'_>,
    value: Option<Located<DurationText>>,
    key: &str,
    default: Duration,
    allow_zero: bool,
) -> Duration {
    let Some(value) = value else {
        return default;
    };
    match duration::parse(&value.value.0) {
        Ok(d) if d.is_zero() && !allow_zero => {
            report.at(
                value.pos,
                format!("`{key}` must be more than 0"),
                format!("a zero `{key}` would measure nothing; write e.g. `10s`"),
            );
            default
        }
        Ok(d) => d,
        Err(message) => {
            report.at(value.pos, format!("{message} for `{key}`"), duration::HELP);
            default
        }
    }
}

/// The objectives of `slo:`; each must be more than zero.
fn slo(raw: Option<super::raw::SloSection>, report: &mut Report<'_>) -> Slo {
    let Some(raw) = raw else {
        return Slo::default();
    };
    let mut one = |v: Option<Located<DurationText>>, key: &str| {
        v.map(|v| duration_at(report, Some(v), key, Duration::ZERO, false))
            .filter(|d| !d.is_zero())
    };
    Slo {
        ttft: one(raw.ttft, "slo.ttft"),
        tpot: one(raw.tpot, "slo.tpot"),
        itl: one(raw.itl, "slo.itl"),
        e2e: one(raw.e2e, "slo.e2e"),
    }
}

fn output(
    raw: Option<Located<String>>,
    overrides: &Overrides,
    cx: &Context<'_>,
    report: &mut Report<'_>,
) -> Output {
    let not_dir = |p: &Path| p.exists() && !p.is_dir();
    let help = "results go in a folder under WORK_DIR/output/: name a folder, or one that does not exist yet";
    let work_dir = if let Some(dir) = &overrides.work_dir {
        if not_dir(dir) {
            report.flag(
                "--work-dir",
                format!("`{}` is not a folder", dir.display()),
                help,
            );
        }
        dir.clone()
    } else if let Some(dir) = raw {
        let path = cx.base.join(&dir.value);
        if not_dir(&path) {
            report.at(
                dir.pos,
                format!("`{}` is not a folder", path.display()),
                help,
            );
        }
        path
    } else {
        PathBuf::from(".")
    };
    Output { work_dir }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ramp_matches_the_original() {
        let want = [
            1, 4, 7, 10, 13, 16, 20, 24, 29, 35, 42, 51, 62, 75, 90, 108, 130, 156, 188, 226, 272,
            327, 393, 472, 567, 681, 818, 982,
        ];
        assert_eq!(default_levels(), want);
    }

    #[test]
    fn run_names() {
        assert!(check_name("qwen-72b_run1").is_ok());
        for bad in ["", " ", ".", "..", "a/b", "a\\b", "a\nb"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
