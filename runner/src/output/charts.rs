//! The report's charts, drawn as SVG with `plotters` (SVG backend only, so
//! no font files: the browser lays the text out). The same SVG is inlined in
//! report.html and written beside report.md.
//!
//! No text a server or a user controls goes into a chart: titles and axes
//! come from the label table, legends from numbers. plotters escapes text
//! all the same.

use plotters::prelude::*;

use super::labels::Labels;
use crate::metrics::Summary;
use crate::results::{LevelResult, RunResults};

const W: u32 = 640;
const H: u32 = 360;
const FONT: &str = "sans-serif";
const PALETTE: [RGBColor; 6] = [
    RGBColor(0x25, 0x63, 0xeb),
    RGBColor(0xdc, 0x26, 0x26),
    RGBColor(0x05, 0x96, 0x69),
    RGBColor(0xd9, 0x77, 0x06),
    RGBColor(0x7c, 0x3a, 0xed),
    RGBColor(0x0f, 0x76, 0x6e),
];
const GRID: RGBColor = RGBColor(0xe5, 0xe7, 0xeb);
const AXIS: RGBColor = RGBColor(0x6b, 0x72, 0x80);

/// One chart: an id (its file is `chart-<id>.svg`), a title and the SVG.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Chart {
    /// Stable id: `throughput`, `ttft`, `tpot`, `user_speed`, `cdf_ttft`,
    /// `cdf_e2e`, `timeline`, `latency_throughput`.
    pub id: &'static str,
    /// Title in the report's language.
    pub title: String,
    /// File name beside report.md.
    pub file: String,
    /// The SVG document.
    pub svg: String,
}

type Series = (String, Vec<(f64, f64)>);
type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Every chart the results have data for, in report order.
pub fn charts(r: &RunResults, t: &Labels) -> Vec<Chart> {
    let mut out = Vec::new();
    // Warm-up steps are excluded from every headline figure.
    let measured: Vec<LevelResult> = r
        .levels
        .iter()
        .filter(|l| !l.step.warmup)
        .cloned()
        .collect();
    let levels = &measured;
    let mut push = |id: &'static str, svg: Option<String>| {
        if let Some(svg) = svg {
            out.push(Chart {
                id,
                title: t.get(&format!("chart_{id}")).to_string(),
                file: format!("chart-{id}.svg"),
                svg,
            });
        }
    };
    let users = |f: fn(&LevelResult) -> Option<f64>| -> Vec<(f64, f64)> {
        // Charts against users hold the closed-loop levels of fixed size.
        levels
            .iter()
            .filter(|l| {
                l.step.kind.is_empty() || (l.step.target_users.is_some() && l.step.kind != "ramp")
            })
            .filter_map(|l| f(l).map(|v| (f64::from(l.users.max(1)), v)))
            .collect()
    };
    push(
        "throughput",
        by_users(
            t,
            t.get("axis_throughput"),
            vec![
                (
                    t.get("series_chars_per_s").into(),
                    users(|l| Some(l.throughput.chars_per_s)),
                ),
                (
                    t.get("series_tokens_per_s").into(),
                    users(|l| Some(l.throughput.output_tokens_per_s)),
                ),
            ],
        ),
    );
    push(
        "ttft",
        by_users(
            t,
            "ms",
            vec![
                ("p50".into(), users(|l| l.ttft_ms.map(|s| s.p50))),
                ("p99".into(), users(|l| l.ttft_ms.map(|s| s.p99))),
            ],
        ),
    );
    push(
        "tpot",
        by_users(
            t,
            "ms",
            vec![
                ("p50".into(), users(|l| l.tpot_ms.map(|s| s.p50))),
                ("p99".into(), users(|l| l.tpot_ms.map(|s| s.p99))),
            ],
        ),
    );
    push(
        "user_speed",
        by_users(
            t,
            "chars/s",
            vec![
                (
                    t.get("series_mean").into(),
                    users(|l| l.user_chars_per_s.map(|s| s.mean)),
                ),
                ("p50".into(), users(|l| l.user_chars_per_s.map(|s| s.p50))),
            ],
        ),
    );
    push("cdf_ttft", cdf(t, levels, |l| l.ttft_ms));
    push("cdf_e2e", cdf(t, levels, |l| l.e2e_ms));
    push("timeline", timeline(t, levels));
    push("latency_throughput", latency_throughput(t, levels));
    out
}

fn nonempty(series: &[Series]) -> bool {
    series.iter().any(|(_, p)| !p.is_empty())
}

fn y_max(series: &[Series]) -> f64 {
    let m = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
        .filter(|y| y.is_finite())
        .fold(0.0f64, f64::max);
    if m > 0.0 { m * 1.12 } else { 1.0 }
}

fn render(
    draw: impl FnOnce(DrawingArea<SVGBackend, plotters::coord::Shift>) -> DrawResult,
) -> Option<String> {
    let mut svg = String::new();
    let ok = {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).is_ok() && draw(root).is_ok()
    };
    (ok && !svg.is_empty()).then_some(svg)
}

fn legend_style<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 14))
        .border_style(GRID)
        .background_style(WHITE.mix(0.85))
        .draw()?;
    Ok(())
}

/// A metric against configured users on a log axis (sweeps are usually
/// geometric: 1, 4, 16, 64).
fn by_users(t: &Labels, y_desc: &str, series: Vec<Series>) -> Option<String> {
    if !nonempty(&series) {
        return None;
    }
    let xs = series.iter().flat_map(|(_, p)| p.iter().map(|&(x, _)| x));
    let lo = xs.clone().fold(f64::INFINITY, f64::min);
    let hi = xs.fold(0.0f64, f64::max);
    let (lo, hi) = (lo / 1.5, hi * 1.5);
    let ymax = y_max(&series);
    let x_desc = t.get("axis_users").to_string();
    render(|root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d((lo..hi).log_scale(), 0.0..ymax)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v| log_tick(*v))
            .y_label_formatter(&|v| short(*v))
            .draw()?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
        }
        legend_style(&mut chart)?;
        root.present()?;
        Ok(())
    })
}

/// Percentile curves of a latency per level, from the summary's
/// percentiles (min, p50, p90, p95, p99, p99.9, max). The y axis is in
/// "nines" (−log10(1 − q)) so the tail gets room: 0 is the minimum,
/// 1 is p90, 2 p99, 3 p99.9; the maximum sits at 3.5.
fn cdf(
    t: &Labels,
    levels: &[LevelResult],
    f: fn(&LevelResult) -> Option<Summary>,
) -> Option<String> {
    let nines = |q: f64| -(1.0 - q).log10();
    let series: Vec<Series> = levels
        .iter()
        .filter_map(|l| {
            f(l).map(|s| {
                (
                    format!("{} {}", l.users, t.get("users_short")),
                    vec![
                        (s.min, 0.0),
                        (s.p50, nines(0.5)),
                        (s.p90, nines(0.9)),
                        (s.p95, nines(0.95)),
                        (s.p99, nines(0.99)),
                        (s.p999, nines(0.999)),
                        (s.max, 3.5),
                    ],
                )
            })
        })
        .collect();
    if !nonempty(&series) {
        return None;
    }
    // The axis spans the data (from 90% of the smallest minimum), so
    // curves of close latencies stay apart.
    let xs = series.iter().flat_map(|(_, p)| p.iter().map(|&(x, _)| x));
    let xmin = xs.clone().fold(f64::INFINITY, f64::min) * 0.9;
    let xmax = xs.fold(0.0f64, f64::max) * 1.05;
    let xmax = if xmax > xmin { xmax } else { xmin + 1.0 };
    let y_desc = t.get("axis_percentile").to_string();
    render(|root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(xmin..xmax, 0.0..3.6)?;
        chart
            .configure_mesh()
            .y_labels(4)
            .light_line_style(GRID.mix(0.5))
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .x_desc("ms")
            .y_desc(y_desc)
            .x_label_formatter(&|v| short(*v))
            .y_label_formatter(&|v: &f64| {
                if *v >= 3.5 {
                    "max".to_string()
                } else {
                    let p = 100.0 * (1.0 - 10f64.powf(-*v));
                    format!("{}%", trim(format!("{p:.2}")))
                }
            })
            .draw()?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 14))
            .border_style(GRID)
            .background_style(WHITE.mix(0.85))
            .draw()?;
        root.present()?;
        Ok(())
    })
}

/// Per-second timeline of the whole run, levels back to back: requests in
/// flight, content chars/s and errors/s in three stacked panels.
fn timeline(t: &Labels, levels: &[LevelResult]) -> Option<String> {
    let mut inflight = Vec::new();
    let mut chars = Vec::new();
    let mut errors = Vec::new();
    let mut offset = 0.0;
    let mut bounds = Vec::new();
    for l in levels {
        for p in &l.timeline {
            let x = offset + f64::from(p.t);
            inflight.push((x, p.in_flight as f64));
            chars.push((x, p.chars as f64));
            errors.push((x, p.errors as f64));
        }
        offset += l.timeline.len() as f64;
        bounds.push(offset);
    }
    if inflight.is_empty() {
        return None;
    }
    // A long run (28 levels of 30 min) has ~50,000 seconds: thin each
    // series to at most MAX_POINTS buckets, keeping the peak of in-flight
    // and errors (spikes must stay visible) and the mean of chars/s.
    let inflight = thin(&inflight, f64::max);
    let errors = thin(&errors, f64::max);
    let chars = thin(&chars, |a, b| a + b);
    let chars = rescale_mean(chars, offset);
    let xmax = offset.max(1.0);
    let panels: [(String, Vec<(f64, f64)>); 3] = [
        (t.get("series_in_flight").into(), inflight),
        (t.get("series_chars_per_s").into(), chars),
        (t.get("series_errors_per_s").into(), errors),
    ];
    let x_desc = t.get("axis_seconds").to_string();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, 460)).into_drawing_area();
        let drawn: DrawResult = (|| {
            root.fill(&WHITE)?;
            let areas = root.split_evenly((3, 1));
            for (i, ((name, pts), area)) in panels.iter().zip(areas.iter()).enumerate() {
                let ymax = y_max(&[(String::new(), pts.clone())]);
                let last = i == 2;
                let mut chart = ChartBuilder::on(area)
                    .margin_left(14)
                    .margin_right(14)
                    .margin_top(8)
                    .x_label_area_size(if last { 38 } else { 4 })
                    .y_label_area_size(64)
                    .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
                let mut mesh = chart.configure_mesh();
                mesh.light_line_style(GRID.mix(0.4))
                    .bold_line_style(GRID)
                    .axis_style(AXIS)
                    .label_style((FONT, 11))
                    .axis_desc_style((FONT, 12))
                    .y_labels(4)
                    .y_label_formatter(&|v| short(*v));
                if last {
                    mesh.x_desc(x_desc.clone());
                } else {
                    mesh.x_labels(0);
                }
                mesh.draw()?;
                let c = PALETTE[i % PALETTE.len()];
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
                    .label(name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                    });
                // Level boundaries.
                for &b in &bounds[..bounds.len().saturating_sub(1)] {
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(b, 0.0), (b, ymax)],
                        AXIS.mix(0.5),
                    )))?;
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .label_font((FONT, 12))
                    .border_style(GRID)
                    .background_style(WHITE.mix(0.85))
                    .draw()?;
            }
            root.present()?;
            Ok(())
        })();
        drawn.ok()?;
    }
    Some(svg)
}

/// Most points a timeline series keeps.
const MAX_POINTS: usize = 900;

/// Buckets of consecutive points folded with `fold`, at most MAX_POINTS;
/// each bucket sits at its first x. With `+` as the fold, divide by the
/// bucket width afterwards ([`rescale_mean`]).
fn thin(pts: &[(f64, f64)], fold: fn(f64, f64) -> f64) -> Vec<(f64, f64)> {
    let w = pts.len().div_ceil(MAX_POINTS).max(1);
    pts.chunks(w)
        .map(|c| (c[0].0, c.iter().map(|p| p.1).reduce(fold).unwrap_or(0.0)))
        .collect()
}

/// Turns bucket sums back into per-second means (bucket width = the
/// distance to the next bucket, the last one ending at `end`).
fn rescale_mean(pts: Vec<(f64, f64)>, end: f64) -> Vec<(f64, f64)> {
    let n = pts.len();
    (0..n)
        .map(|i| {
            let next = if i + 1 < n { pts[i + 1].0 } else { end };
            let width = (next - pts[i].0).max(1.0);
            (pts[i].0, pts[i].1 / width)
        })
        .collect()
}

/// For sweeps: latency (TTFT and E2E p50) against output throughput, one
/// point per level, labelled with its users. Shows where more load stops
/// buying throughput and only adds latency.
fn latency_throughput(t: &Labels, levels: &[LevelResult]) -> Option<String> {
    if levels.len() < 2 {
        return None;
    }
    let tokens = levels
        .iter()
        .any(|l| l.throughput.output_tokens_per_s > 0.0);
    let x_of = |l: &LevelResult| {
        if tokens {
            l.throughput.output_tokens_per_s
        } else {
            l.throughput.chars_per_s
        }
    };
    let series: Vec<Series> = vec![
        (
            "TTFT p50".into(),
            levels
                .iter()
                .filter_map(|l| l.ttft_ms.map(|s| (x_of(l), s.p50)))
                .collect(),
        ),
        (
            "E2E p50".into(),
            levels
                .iter()
                .filter_map(|l| l.e2e_ms.map(|s| (x_of(l), s.p50)))
                .collect(),
        ),
    ];
    if !nonempty(&series) {
        return None;
    }
    let xmax = levels.iter().map(x_of).fold(0.0f64, f64::max) * 1.15;
    let xmax = if xmax > 0.0 { xmax } else { 1.0 };
    let ymax = y_max(&series);
    let x_desc = t
        .get(if tokens {
            "series_tokens_per_s"
        } else {
            "series_chars_per_s"
        })
        .to_string();
    let marks: Vec<(f64, f64, u32)> = levels
        .iter()
        .filter_map(|l| l.e2e_ms.map(|s| (x_of(l), s.p50, l.users)))
        .collect();
    render(|root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
        chart
            .configure_mesh()
            .light_line_style(GRID.mix(0.5))
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .x_desc(x_desc)
            .y_desc("ms")
            .x_label_formatter(&|v| short(*v))
            .y_label_formatter(&|v| short(*v))
            .draw()?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
        }
        chart.draw_series(marks.iter().map(|&(x, y, u)| {
            Text::new(format!("{u}"), (x, y), (FONT, 14).into_font().color(&AXIS))
        }))?;
        legend_style(&mut chart)?;
        root.present()?;
        Ok(())
    })
}

/// Labels of a log axis at 1, 2 and 5 times a power of ten only; the
/// others stay blank so labels never crowd.
fn log_tick(v: f64) -> String {
    if v <= 0.0 {
        return String::new();
    }
    let p = 10f64.powf(v.log10().floor());
    let m = (v / p).round();
    if (v / p - m).abs() < 1e-6 && [1.0, 2.0, 5.0].contains(&m) {
        short(v)
    } else {
        String::new()
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Axis numbers: 1.2k, 3.4M, 0.25.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(format!("{:.1}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        trim(format!("{v:.2}"))
    }
}
