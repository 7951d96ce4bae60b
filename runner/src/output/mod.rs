//! Output: the run folder, the streamed `requests.jsonl`, atomic writes of
//! `results.json`, and the rendered report.

mod report;
mod rundir;

pub use report::{MARKDOWN_TEMPLATE, render_markdown};
pub use rundir::{RequestLog, create_run_dir, redact, write_atomic};
