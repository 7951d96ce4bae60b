//! Golden tests of the rendered reports: a fixed results.json (a real demo
//! run, with an error whose message carries markup, and a flag) renders to
//! the committed report.md, report.zh.md and summary.csv byte for byte.
//! Set `UPDATE_GOLDEN=1` to rewrite them after an intended change, then
//! review the diff.

use std::path::{Path, PathBuf};

use runner::output::{self, Formats, ReportOptions, csv_columns};
use runner::scenario::Lang;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results")
}

fn rendered(lang: Lang, formats: Formats) -> Vec<(String, Vec<u8>)> {
    let r = output::read_results(&fixtures().join("results.json")).expect("fixture parses");
    let opts = ReportOptions {
        formats,
        lang,
        template_dir: None,
    };
    output::render(&r, &opts).expect("renders").files
}

fn file<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a str {
    let (_, b) = files
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} not rendered"));
    std::str::from_utf8(b).expect("utf-8")
}

fn golden(name: &str, actual: &str) {
    let path = fixtures().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    if want != actual {
        let line = want
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n want: {:?}\n  got: {:?}\n(UPDATE_GOLDEN=1 rewrites it)",
            line + 1,
            want.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

#[test]
fn markdown_matches_golden() {
    let files = rendered(Lang::En, Formats::ALL);
    golden("report.md", file(&files, "report.md"));
    golden("summary.csv", file(&files, "summary.csv"));
}

#[test]
fn chinese_markdown_matches_golden_and_keeps_the_original_columns() {
    let files = rendered(Lang::Zh, Formats::ALL);
    let md = file(&files, "report.md");
    for col in [
        "并发",
        "问答/错误",
        "平均延迟",
        "出字均速",
        "总吞吐",
        "指标定义",
    ] {
        assert!(md.contains(col), "{col}");
    }
    golden("report.zh.md", md);
}

#[test]
fn markdown_has_no_raw_html_and_links_every_chart() {
    let files = rendered(Lang::En, Formats::ALL);
    let md = file(&files, "report.md");
    // Server text is escaped: no tag reaches the page.
    assert!(!md.contains("<script"), "raw HTML in report.md");
    assert!(!md.contains("<img"), "raw HTML in report.md");
    assert!(md.contains("&lt;script&gt;"));
    // Table rows keep their shape: a `|` in a message is escaped.
    assert!(md.contains("\\| server overloaded retry later"));
    let charts: Vec<&str> = files
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| n.starts_with("chart-") && n.ends_with(".svg"))
        .collect();
    assert_eq!(charts.len(), 8, "{charts:?}");
    for c in charts {
        assert!(md.contains(&format!("]({c})")), "{c} not linked");
        let svg = file(&files, c);
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{c}"
        );
    }
}

#[test]
fn html_is_self_contained_and_escaped() {
    let files = rendered(Lang::En, Formats::ALL);
    let html = file(&files, "report.html");
    for external in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(external), "report.html has {external}");
    }
    assert!(html.contains("&lt;script&gt;document.body.setAttribute"));
    assert!(html.contains("&lt;img src=x"));
    assert_eq!(html.matches("<svg").count(), 8);
    for col in ["并发", "问答/错误", "平均延迟", "出字均速", "总吞吐"] {
        assert!(html.contains(col), "{col}");
    }
}

#[test]
fn only_the_asked_formats_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let r = output::read_results(&fixtures().join("results.json")).unwrap();
    let opts = ReportOptions {
        formats: Formats::parse("csv").unwrap(),
        ..ReportOptions::default()
    };
    let written = output::write_reports(dir.path(), &r, &["bench-client".into()], &opts).unwrap();
    assert_eq!(written, vec![dir.path().join("summary.csv")]);
    let opts = ReportOptions::default();
    output::write_reports(dir.path(), &r, &["bench-client".into()], &opts).unwrap();
    // Secrets are redacted from every report.
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(!md.contains("bench-client") && md.contains("`***`"));
}

#[test]
fn user_templates_override_by_name_and_errors_name_the_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("report.md.j2"),
        "# {{ r.name }} by {{ r.environment.cores }} cores\n{% for l in r.levels %}{{ l.users }}:{{ l.ttft_ms.p99 | num(0) }}\n{% endfor %}",
    )
    .unwrap();
    let r = output::read_results(&fixtures().join("results.json")).unwrap();
    let opts = ReportOptions {
        formats: Formats::parse("md,html").unwrap(),
        template_dir: Some(dir.path().to_path_buf()),
        ..ReportOptions::default()
    };
    let files = output::render(&r, &opts).unwrap().files;
    assert_eq!(
        file(&files, "report.md"),
        "# fixture by 2 cores\n1:126\n4:128\n16:143\n"
    );
    // The HTML template was not overridden: the built-in one rendered.
    assert!(file(&files, "report.html").contains("<!doctype html>"));

    std::fs::write(
        dir.path().join("report.md.j2"),
        "# {{ r.name }}\n{% for l in r.levels %}\n{{ l.ttft_ms.p98 }}\n{% endfor %}\n",
    )
    .unwrap();
    let err = output::render(&r, &opts).err().expect("fails").to_string();
    assert!(
        err.contains(&dir.path().join("report.md.j2").display().to_string()),
        "{err}"
    );
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("l.ttft_ms.p98"), "{err}");
}

#[test]
fn readme_documents_every_csv_column() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    for s in output::SCALARS {
        assert!(
            readme.contains(&format!("`{}`", s.column)),
            "README lacks `{}`",
            s.column
        );
    }
    for d in output::DISTRIBUTIONS {
        assert!(
            readme.contains(&format!("`{}`", d.key)),
            "README lacks `{}`",
            d.key
        );
    }
    assert!(readme.contains("`token_source`") && readme.contains("`flags`"));
    assert!(csv_columns().len() > 60);
}

#[test]
fn empty_runs_and_levels_without_successes_render() {
    let mut r = output::read_results(&fixtures().join("results.json")).unwrap();
    let l = &mut r.levels[0];
    l.ok = 0;
    l.errors = l.requests;
    l.error_rate = 1.0;
    l.ttft_ms = None;
    l.ttft_first_event_ms = None;
    l.tpot_ms = None;
    l.itl_ms = None;
    l.e2e_ms = None;
    l.e2e_from_planned_ms = None;
    l.user_chars_per_s = None;
    l.output_chars = None;
    l.output_tokens = None;
    l.timeline.clear();
    let files = output::render(&r, &ReportOptions::default()).unwrap().files;
    let md = file(&files, "report.md");
    assert!(md.contains("| 1 | 4/4 | - | - |"), "{md}");
    let csv = file(&files, "summary.csv");
    assert!(csv.lines().nth(1).unwrap().contains(",,"), "{csv}");

    r.levels.clear();
    r.interrupted = true;
    let files = output::render(&r, &ReportOptions::default()).unwrap().files;
    assert!(file(&files, "report.md").starts_with("# fixture (interrupted)"));
    assert!(!files.iter().any(|(n, _)| n.ends_with(".svg")));
    assert_eq!(file(&files, "summary.csv").lines().count(), 1);
    assert!(file(&files, "report.html").contains("over 0 levels"));
}
