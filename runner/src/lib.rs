//! `runner`: a load tester for multi-user LLM inference services.
//!
//! Data flows one way (see DESIGN.md): a [`scenario`] is loaded and validated,
//! the [`executor`] drives users that build requests through a sandboxed
//! [`plugin`], frames responses on the host side ([`framing`]), and records one
//! [`sample::Sample`] per request. Samples feed [`metrics`], the [`live`] view
//! and [`output`] (requests.jsonl, results.json, report.md).

pub mod calibrate;
pub mod cli;
pub mod cli_report;
pub mod clock;
pub mod dataset;
pub mod executor;
pub mod fdlimit;
pub mod framing;
pub mod live;
pub mod metrics;
pub mod mock;
pub mod output;
pub mod plugin;
pub mod progress;
pub mod results;
pub mod run;
pub mod sample;
pub mod scenario;
pub mod schedule;
pub mod tokenizer;
