//! The reports of one run, all rendered from `results.json`'s model:
//! `report.md` (with its charts as `chart-*.svg` beside it), `report.html`
//! (one self-contained file, charts inline) and `summary.csv`.

use std::path::{Path, PathBuf};

use minijinja::Value;
use serde::Serialize;

use super::charts::{self, Chart};
use super::headline;
use super::labels::{DEFINITIONS, Labels};
use super::render::{ReportError, Templates};
use super::rundir::redact;
use crate::results::{LevelResult, RunResults};

/// How much load a level applied, to find the lightest: its users, or its
/// request rate for open-loop steps.
fn load_of(l: &LevelResult) -> f64 {
    l.step
        .target_rate
        .or(l.step.target_users)
        .unwrap_or(f64::from(l.users))
}
use crate::scenario::Lang;

/// Which report files to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// `report.md` and its `chart-*.svg` files.
    pub md: bool,
    /// `report.html`.
    pub html: bool,
    /// `summary.csv`.
    pub csv: bool,
}

impl Formats {
    /// Every format.
    pub const ALL: Formats = Formats {
        md: true,
        html: true,
        csv: true,
    };

    /// Parses `md,html,csv` (any subset, any order).
    pub fn parse(list: &str) -> Result<Formats, String> {
        let mut f = Formats {
            md: false,
            html: false,
            csv: false,
        };
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "md" | "markdown" => f.md = true,
                "html" => f.html = true,
                "csv" => f.csv = true,
                other => {
                    return Err(format!(
                        "unknown report format `{other}`; use md, html, csv (comma-separated)"
                    ));
                }
            }
        }
        if f == (Formats {
            md: false,
            html: false,
            csv: false,
        }) {
            return Err("no report format given; use md, html, csv (comma-separated)".into());
        }
        Ok(f)
    }
}

/// How reports are rendered.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Which files.
    pub formats: Formats,
    /// Label language (English unless asked).
    pub lang: Lang,
    /// Folder whose templates replace the built-in ones of the same name.
    pub template_dir: Option<PathBuf>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            formats: Formats::ALL,
            lang: Lang::En,
            template_dir: None,
        }
    }
}

impl ReportOptions {
    /// Loads and parses the templates these options select, so a broken
    /// user template is reported before a run starts rather than after.
    pub fn check(&self) -> Result<(), ReportError> {
        let t = Templates::new(self.template_dir.as_deref())?;
        if self.formats.md {
            t.check("report.md.j2")?;
        }
        if self.formats.html {
            t.check("report.html.j2")?;
        }
        Ok(())
    }
}

/// A headline figure at the top of the HTML report.
#[derive(Debug, Serialize)]
struct Kpi {
    label: String,
    value: String,
    unit: &'static str,
    note: String,
}

fn kpis(r: &RunResults, t: &Labels) -> Vec<Kpi> {
    let mut out = Vec::new();
    // Warm-up steps are excluded from every headline figure.
    let measured: Vec<&LevelResult> = r.levels.iter().filter(|l| !l.step.warmup).collect();
    let at = |l: &LevelResult| match l.step.kind.as_str() {
        "" | "users" => t.get("kpi_at").replace("%s", &l.users.to_string()),
        _ => l.step.label.clone(),
    };
    let peak = |f: fn(&LevelResult) -> f64| {
        measured
            .iter()
            .copied()
            .max_by(|a, b| f(a).total_cmp(&f(b)))
            .map(|l| (f(l), l))
    };
    if let Some((v, u)) = peak(|l| l.throughput.chars_per_s) {
        out.push(Kpi {
            label: format!("{} (总吞吐)", t.get("kpi_peak_throughput")),
            value: format!("{v:.1}"),
            unit: "chars/s",
            note: at(u),
        });
    }
    if let Some((v, u)) = peak(|l| l.throughput.output_tokens_per_s)
        && v > 0.0
    {
        out.push(Kpi {
            label: t.get("kpi_peak_tokens").to_string(),
            value: format!("{v:.1}"),
            unit: "tok/s",
            note: at(u),
        });
    }
    if let Some(l) = measured
        .iter()
        .copied()
        .filter(|l| l.ttft_ms.is_some())
        .min_by(|a, b| load_of(a).total_cmp(&load_of(b)))
        && let Some(s) = l.ttft_ms
    {
        out.push(Kpi {
            label: t.get("kpi_best_ttft").to_string(),
            value: format!("{:.1}", s.p50),
            unit: "ms",
            note: at(l),
        });
    }
    let requests: u64 = measured.iter().map(|l| l.requests).sum();
    let errors: u64 = measured.iter().map(|l| l.errors).sum();
    let levels = t.get("kpi_over").replace("%s", &measured.len().to_string());
    out.push(Kpi {
        label: format!("{} (问答/错误)", t.get("kpi_requests")),
        value: format!("{requests}/{errors}"),
        unit: "",
        note: levels.clone(),
    });
    let rate = if requests > 0 {
        errors as f64 / requests as f64
    } else {
        0.0
    };
    out.push(Kpi {
        label: t.get("kpi_error_rate").to_string(),
        value: format!("{:.2}", rate * 100.0),
        unit: "%",
        note: levels,
    });
    out
}

/// Whether any level carries a goodput figure.
fn has_goodput(r: &RunResults) -> bool {
    serde_json::to_value(&r.levels)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .is_some_and(|ls| {
            ls.iter()
                .any(|l| l.get("goodput").is_some_and(|g| !g.is_null()))
        })
}

/// The template context: `r` (the results), `t` (labels), `charts`, `sha`
/// (scenario hash), `kpis`, `definitions`, `has_goodput`, `open_loop`
/// (whether any level is an open-loop step).
fn context(r: &RunResults, t: &Labels, charts: &[Chart]) -> Value {
    minijinja::context! {
        r => Value::from_serialize(r),
        t => Value::from_serialize(t),
        charts => Value::from_serialize(charts),
        sha => r.scenario.scenario_sha256.clone(),
        kpis => Value::from_serialize(kpis(r, t)),
        definitions => Value::from_serialize(DEFINITIONS),
        has_goodput => has_goodput(r),
        open_loop => r.levels.iter().any(|l| l.step.target_rate.is_some() || l.step.kind == "replay"),
    }
}

/// One rendered report, before it is written.
pub struct Rendered {
    /// `(file name, contents)` pairs, in writing order.
    pub files: Vec<(String, Vec<u8>)>,
}

/// Renders the selected reports of `r` in memory.
pub fn render(r: &RunResults, opts: &ReportOptions) -> Result<Rendered, ReportError> {
    let templates = Templates::new(opts.template_dir.as_deref())?;
    let t = Labels::new(opts.lang);
    let charts = if opts.formats.md || opts.formats.html {
        charts::charts(r, &t)
    } else {
        Vec::new()
    };
    let ctx = context(r, &t, &charts);
    let mut files = Vec::new();
    if opts.formats.md {
        for c in &charts {
            files.push((c.file.clone(), c.svg.clone().into_bytes()));
        }
        let md = templates.render("report.md.j2", ctx.clone())?;
        files.push(("report.md".into(), md.into_bytes()));
    }
    if opts.formats.html {
        let html = templates.render("report.html.j2", ctx)?;
        files.push(("report.html".into(), html.into_bytes()));
    }
    if opts.formats.csv {
        files.push((
            "summary.csv".into(),
            headline::summary_csv(&r.levels).into_bytes(),
        ));
    }
    Ok(Rendered { files })
}

/// Renders the Markdown report with the built-in template, English labels.
pub fn render_markdown(r: &RunResults) -> Result<String, ReportError> {
    let t = Labels::new(Lang::En);
    let charts = charts::charts(r, &t);
    Templates::new(None)?.render("report.md.j2", context(r, &t, &charts))
}

/// Renders and writes the selected reports into `dir`, each file atomically,
/// with every secret redacted. Returns the paths written.
pub fn write_reports(
    dir: &Path,
    r: &RunResults,
    secrets: &[String],
    opts: &ReportOptions,
) -> Result<Vec<PathBuf>, ReportError> {
    let rendered = render(r, opts)?;
    let mut written = Vec::new();
    for (name, bytes) in rendered.files {
        let path = dir.join(&name);
        let bytes = if secrets.iter().any(|s| !s.is_empty()) {
            redact(&String::from_utf8_lossy(&bytes), secrets).into_bytes()
        } else {
            bytes
        };
        replace_file(&path, &bytes).map_err(|source| ReportError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Writes through a temporary file and a rename, so a reader never sees half
/// a report. Unlike results.json there is no fsync: a report lost to a power
/// cut is re-rendered from results.json with `runner report`, and a dozen
/// fsyncs would dominate the time of a re-render.
fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// SHA-256 of a file's bytes, lowercase hex; `None` when it cannot be read.
pub fn file_sha256(path: &Path) -> Option<String> {
    use sha2::Digest;
    let bytes = std::fs::read(path).ok()?;
    Some(
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Reads a results.json written by `runner run`.
pub fn read_results(path: &Path) -> Result<RunResults, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ReportError::Results {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse() {
        assert_eq!(Formats::parse("md,html,csv"), Ok(Formats::ALL));
        assert_eq!(
            Formats::parse("csv"),
            Ok(Formats {
                md: false,
                html: false,
                csv: true
            })
        );
        assert!(Formats::parse("pdf").unwrap_err().contains("pdf"));
        assert!(Formats::parse("").is_err());
    }
}
