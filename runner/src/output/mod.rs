//! Output: the run folder, the streamed `requests.jsonl`, atomic writes of
//! `results.json`, and the reports rendered from it: `report.md` with its
//! SVG charts, the self-contained `report.html`, `summary.csv`, and the
//! `runner compare` diff with its regression gates.

mod charts;
mod compare;
mod gate;
mod headline;
mod labels;
mod render;
mod report;
mod rundir;

pub use charts::{Chart, charts};
pub use compare::{
    Comparison, Delta, Difference, GateOutcome, LevelPair, compare, render_comparison,
};
pub use gate::{Gate, GateError, Op};
pub use headline::{
    Better, DISTRIBUTIONS, Distribution, MetricKey, SCALARS, STATS, Scalar, all_keys, csv_columns,
    summary_csv,
};
pub use labels::{DEFINITIONS, Definition, Labels};
pub use render::{BUILTIN_TEMPLATES, ReportError, Templates};
pub use report::{
    Formats, Rendered, ReportOptions, file_sha256, read_results, render, render_markdown,
    write_reports,
};
pub use rundir::{RequestLog, create_run_dir, redact, write_atomic};
