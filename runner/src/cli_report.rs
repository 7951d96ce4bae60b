//! `runner report` (re-render a run's reports from its results.json) and
//! `runner compare` (diff two runs, with regression gates for CI). Exit
//! codes: 0 ok (gates held), 1 a gate failed or a file could not be
//! written, 2 bad input (an unreadable results.json, an unparseable gate,
//! an unknown format, a broken template).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::output::{
    self, Formats, Gate, ReportError, ReportOptions, Templates, compare, render_comparison,
};
use crate::scenario::Lang;

/// Label language of a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ReportLang {
    /// English labels (the original's column names still appear).
    #[default]
    En,
    /// Chinese labels.
    Zh,
}

impl From<ReportLang> for Lang {
    fn from(l: ReportLang) -> Lang {
        match l {
            ReportLang::En => Lang::En,
            ReportLang::Zh => Lang::Zh,
        }
    }
}

/// `runner report RESULTS.json [--format md,html,csv] [--out DIR]`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The results.json of a run.
    pub results: PathBuf,
    /// Which reports: md, html, csv (comma-separated).
    #[arg(long, default_value = "md,html,csv")]
    pub format: String,
    /// Folder to write into (default: the folder of RESULTS.json).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Label language.
    #[arg(long, value_enum, default_value_t = ReportLang::En)]
    pub lang: ReportLang,
    /// Templates here replace the built-in ones of the same name
    /// (report.md.j2, report.html.j2, report.css).
    #[arg(long, value_name = "DIR")]
    pub template_dir: Option<PathBuf>,
}

/// `runner compare BASE.json NEW.json [--fail-if GATE ...]`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// results.json of the base run.
    pub base: PathBuf,
    /// results.json of the new run.
    pub new: PathBuf,
    /// Fail (exit 1) when a change trips this gate, e.g. 'ttft.p99>+10%',
    /// 'output_throughput<-5%', 'error_rate>+0.01'. Repeatable.
    #[arg(long = "fail-if", value_name = "GATE")]
    pub fail_if: Vec<String>,
    /// Write compare.md / compare.html here; without it the Markdown goes
    /// to standard output.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Which reports with --out: md, html (comma-separated).
    #[arg(long, default_value = "md,html")]
    pub format: String,
    /// Label language.
    #[arg(long, value_enum, default_value_t = ReportLang::En)]
    pub lang: ReportLang,
    /// Templates here replace the built-in ones of the same name
    /// (compare.md.j2, compare.html.j2, report.css).
    #[arg(long, value_name = "DIR")]
    pub template_dir: Option<PathBuf>,
}

/// Report options for `runner run`: `--lang` when given (English
/// otherwise) and `--template-dir`, with the templates parsed up front so
/// a broken one stops the run before any request is sent.
pub fn run_report_options(
    template_dir: Option<PathBuf>,
    lang: Option<Lang>,
) -> Result<ReportOptions, ReportError> {
    let opts = ReportOptions {
        lang: lang.unwrap_or(Lang::En),
        template_dir,
        ..ReportOptions::default()
    };
    opts.check()?;
    Ok(opts)
}

fn bad_input(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn report_exit(e: &ReportError) -> ExitCode {
    eprintln!("error: {e}");
    match e {
        ReportError::Io { .. } => ExitCode::FAILURE,
        ReportError::Template(_) | ReportError::Results { .. } => ExitCode::from(2),
    }
}

/// Runs `runner report`.
pub fn cmd_report(args: ReportArgs) -> ExitCode {
    let formats = match Formats::parse(&args.format) {
        Ok(f) => f,
        Err(e) => return bad_input(format!("--format: {e}")),
    };
    let results = match output::read_results(&args.results) {
        Ok(r) => r,
        Err(e) => return report_exit(&e),
    };
    let dir = args.out.clone().unwrap_or_else(|| {
        args.results
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    });
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: creating {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let opts = ReportOptions {
        formats,
        lang: args.lang.into(),
        template_dir: args.template_dir,
    };
    match output::write_reports(&dir, &results, &[], &opts) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => report_exit(&e),
    }
}

/// Runs `runner compare`.
pub fn cmd_compare(args: CompareArgs) -> ExitCode {
    let mut gates = Vec::new();
    let mut bad = Vec::new();
    for g in &args.fail_if {
        match Gate::parse(g) {
            Ok(g) => gates.push(g),
            Err(e) => bad.push(e.to_string()),
        }
    }
    if !bad.is_empty() {
        return bad_input(bad.join("\nerror: "));
    }
    let formats = match Formats::parse(&args.format) {
        Ok(f) if f.csv => return bad_input("--format: compare writes md and html only"),
        Ok(f) => f,
        Err(e) => return bad_input(format!("--format: {e}")),
    };
    let (base, new) = match (
        output::read_results(&args.base),
        output::read_results(&args.new),
    ) {
        (Ok(b), Ok(n)) => (b, n),
        (Err(e), _) | (_, Err(e)) => return report_exit(&e),
    };
    let templates = match Templates::new(args.template_dir.as_deref()) {
        Ok(t) => t,
        Err(e) => return report_exit(&e),
    };
    let c = compare(base, new, &gates);
    let lang: Lang = args.lang.into();
    match &args.out {
        None => match render_comparison(&c, "compare.md.j2", lang, &templates) {
            Ok(md) => print!("{md}"),
            Err(e) => return report_exit(&e),
        },
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("error: creating {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
            let wanted = [
                (formats.md, "compare.md.j2", "compare.md"),
                (formats.html, "compare.html.j2", "compare.html"),
            ];
            for (_, template, file) in wanted.iter().filter(|w| w.0) {
                let text = match render_comparison(&c, template, lang, &templates) {
                    Ok(t) => t,
                    Err(e) => return report_exit(&e),
                };
                let path = dir.join(file);
                if let Err(e) = output::write_atomic(&path, text.as_bytes()) {
                    eprintln!("error: writing {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                println!("{}", path.display());
            }
        }
    }
    if !c.only_in_base.is_empty() || !c.only_in_new.is_empty() {
        eprintln!(
            "note: levels compared by users; only in base: [{}], only in new: [{}]",
            join(&c.only_in_base),
            join(&c.only_in_new)
        );
    }
    for g in &c.gates {
        eprintln!(
            "gate {}: {} ({})",
            g.gate,
            if g.passed { "pass" } else { "FAIL" },
            g.detail
        );
    }
    if c.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn join(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}
