//! The template engine: minijinja with the built-in templates from
//! `resources/templates/`, each replaceable by a file of the same name in a
//! user's `--template-dir`. Undefined variables are errors (a misspelt field
//! must not render as an empty cell), and every error names the template,
//! the line and the expression.
//!
//! Auto-escaping follows the template name: `*.html.j2` escapes HTML, the
//! Markdown templates use the `text`, `cell` and `code` filters instead.

use std::path::{Path, PathBuf};

use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};

/// The built-in templates, by name.
pub const BUILTIN_TEMPLATES: &[(&str, &str)] = &[
    (
        "report.md.j2",
        include_str!("../../../resources/templates/report.md.j2"),
    ),
    (
        "report.html.j2",
        include_str!("../../../resources/templates/report.html.j2"),
    ),
    (
        "report.css",
        include_str!("../../../resources/templates/report.css"),
    ),
    (
        "compare.md.j2",
        include_str!("../../../resources/templates/compare.md.j2"),
    ),
    (
        "compare.html.j2",
        include_str!("../../../resources/templates/compare.html.j2"),
    ),
];

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A template failed to parse or render; the message names the template,
    /// the line and the expression.
    #[error("{0}")]
    Template(String),
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The results file is not a results.json this runner reads.
    #[error("{path}: not a results.json this runner reads: {message}")]
    Results {
        /// The file.
        path: PathBuf,
        /// The parse error, with line and column.
        message: String,
    },
}

/// The template set of one report: built-ins, overridden by a folder.
pub struct Templates {
    env: Environment<'static>,
    dir: Option<PathBuf>,
}

impl Templates {
    /// Built-in templates, each replaced by `dir/<name>` when that file
    /// exists. Fails when `dir` is given but is not a folder.
    pub fn new(dir: Option<&Path>) -> Result<Self, ReportError> {
        if let Some(d) = dir
            && !d.is_dir()
        {
            return Err(ReportError::Io {
                path: d.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "--template-dir is not a folder",
                ),
            });
        }
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("num", num);
        env.add_filter("pct", pct);
        env.add_filter("cell", cell);
        env.add_filter("text", text);
        env.add_filter("code", code);
        env.add_function("goodput", goodput);
        let owned = dir.map(Path::to_path_buf);
        env.set_loader(move |name| {
            if let Some(d) = &owned {
                let p = d.join(name);
                if p.is_file() {
                    return std::fs::read_to_string(&p).map(Some).map_err(|e| {
                        minijinja::Error::new(
                            ErrorKind::InvalidOperation,
                            format!("reading template {}: {e}", p.display()),
                        )
                    });
                }
            }
            Ok(BUILTIN_TEMPLATES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, src)| src.to_string()))
        });
        Ok(Templates {
            env,
            dir: dir.map(Path::to_path_buf),
        })
    }

    /// Renders template `name` with `ctx`.
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, ReportError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| ReportError::Template(self.describe(&e, name)))
    }

    /// Parses template `name` (and what it includes when rendered is checked
    /// at render time): catches syntax errors before a run starts.
    pub fn check(&self, name: &str) -> Result<(), ReportError> {
        self.env
            .get_template(name)
            .map(|_| ())
            .map_err(|e| ReportError::Template(self.describe(&e, name)))
    }

    /// One line: `template PATH, line N: WHAT `EXPR``, plus the cause chain.
    fn describe(&self, e: &minijinja::Error, requested: &str) -> String {
        let name = e.name().unwrap_or(requested);
        let shown = match &self.dir {
            Some(d) if d.join(name).is_file() => d.join(name).display().to_string(),
            _ => format!("{name} (built-in)"),
        };
        let mut out = format!("template {shown}");
        if let Some(line) = e.line() {
            out.push_str(&format!(", line {line}"));
        }
        out.push_str(": ");
        out.push_str(&match e.kind() {
            ErrorKind::UndefinedError => "undefined variable or attribute".to_string(),
            ErrorKind::SyntaxError => "syntax error".to_string(),
            ErrorKind::TemplateNotFound => "template not found".to_string(),
            k => k.to_string(),
        });
        if let (Some(src), Some(range)) = (e.template_source(), e.range())
            && let Some(expr) = src.get(widen(src, range))
        {
            out.push_str(&format!(" in `{}`", expr.trim()));
        }
        if let Some(d) = e.detail() {
            out.push_str(&format!(" ({d})"));
        }
        if e.kind() == ErrorKind::UndefinedError {
            out.push_str("; the fields are those of results.json (runner/src/results.rs), plus t, charts, sha, kpis, definitions");
        }
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            out.push_str(&format!(": {s}"));
            src = s.source();
        }
        out
    }
}

/// The span minijinja reports for an attribute lookup starts at the `.`;
/// widen it to the whole path (`l.ttft_ms.p98`) so the message names the
/// variable.
fn widen(src: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let mut start = range.start.min(src.len());
    while start > 0 {
        let Some(c) = src[..start].chars().next_back() else {
            break;
        };
        if c.is_alphanumeric() || "_.[]\"'".contains(c) {
            start -= c.len_utf8();
        } else {
            break;
        }
    }
    start..range.end
}

/// Formats a number with `digits` decimals (1 by default); `-` for none.
fn num(v: Value, digits: Option<usize>) -> String {
    match f64::try_from(v) {
        Ok(x) if x.is_finite() => format!("{:.*}", digits.unwrap_or(1), x),
        _ => "-".to_string(),
    }
}

/// Formats a ratio as a percentage with one decimal.
fn pct(v: Value) -> String {
    match f64::try_from(v) {
        Ok(x) if x.is_finite() => format!("{:.1}%", x * 100.0),
        _ => "-".to_string(),
    }
}

/// Markdown prose: `&`, `<` and `>` become entities so no raw HTML reaches
/// the page (GitHub shows the entities as the characters).
fn text(v: String) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One line of at most `n` chars (160 by default), safe in a Markdown
/// table cell: no control characters, `|` escaped, no raw HTML.
fn cell(v: String, n: Option<usize>) -> String {
    let n = n.unwrap_or(160);
    let flat: String = v
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = if flat.chars().count() > n {
        format!("{}…", flat.chars().take(n).collect::<String>())
    } else {
        flat
    };
    text(flat).replace('|', "\\|")
}

/// Text inside a Markdown code span: one line, no backticks, `|` escaped
/// for table cells.
fn code(v: String) -> String {
    v.chars()
        .map(|c| if c.is_control() || c == '`' { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|")
}

/// A level's goodput in req/s when results carry one: `goodput` as a
/// number, or an object with `per_s` (or `requests_per_s`).
fn goodput(level: Value) -> Value {
    match level.get_attr("goodput") {
        Ok(g) if g.is_number() => g,
        Ok(g) if !g.is_undefined() && !g.is_none() => ["per_s", "requests_per_s"]
            .iter()
            .find_map(|k| g.get_attr(k).ok().filter(|v| v.is_number()))
            .unwrap_or(Value::from(())),
        _ => Value::from(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_filters_keep_tables_and_html_out() {
        assert_eq!(cell("a|b\n<script>".into(), None), "a\\|b &lt;script&gt;");
        assert_eq!(cell("abcdef".into(), Some(3)), "abc…");
        assert_eq!(code("x`y|z".into()), "x y\\|z");
        assert_eq!(text("a & <b>".into()), "a &amp; &lt;b&gt;");
    }

    #[test]
    fn errors_name_template_line_and_expression() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("report.md.j2"),
            "# {{ r.name }}\n\n{{ r.levels[0].ttft_p99 }}\n",
        )
        .unwrap();
        let t = Templates::new(Some(dir.path())).unwrap();
        let ctx = minijinja::context! { r => minijinja::context! { name => "x", levels => vec![minijinja::context!{ users => 1 }] } };
        let err = t.render("report.md.j2", ctx).unwrap_err().to_string();
        assert!(err.contains("report.md.j2"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("ttft_p99"), "{err}");
        assert!(err.contains("undefined"), "{err}");

        std::fs::write(dir.path().join("report.md.j2"), "{% for x in %}\n").unwrap();
        let t = Templates::new(Some(dir.path())).unwrap();
        let err = t.check("report.md.j2").unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("syntax error"),
            "{err}"
        );
    }

    #[test]
    fn missing_template_dir_is_an_error() {
        assert!(Templates::new(Some(Path::new("/nonexistent/templates"))).is_err());
    }
}
