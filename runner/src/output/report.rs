//! The Markdown report, rendered by minijinja from `results.json`'s model.
//! The template ships in `resources/templates/report.md.j2`.

use minijinja::{Environment, Value};

use crate::results::RunResults;

/// The built-in Markdown template.
pub const MARKDOWN_TEMPLATE: &str = include_str!("../../../resources/templates/report.md.j2");

/// Formats a number with `digits` decimals; `-` for none.
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

/// One line of at most `n` chars, safe in a Markdown table cell.
fn cell(v: String, n: Option<usize>) -> String {
    let n = n.unwrap_or(160);
    let flat: String = v
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|");
    if flat.chars().count() > n {
        let cut: String = flat.chars().take(n).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

/// Renders the Markdown report.
pub fn render_markdown(results: &RunResults) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_filter("num", num);
    env.add_filter("pct", pct);
    env.add_filter("cell", cell);
    env.add_template("report.md", MARKDOWN_TEMPLATE)?;
    env.get_template("report.md")?
        .render(minijinja::context! { r => Value::from_serialize(results) })
}
