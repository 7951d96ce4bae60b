//! Live progress lines, printed while a run goes on.
//!
//! Two lines, both pure functions of the figures they are given (no clock, no
//! I/O), so the live view can print them on its own tick and tests can pin
//! them down exactly:
//!
//! - [`original`]: the original tool's line, `[并发] … [总吞吐] …`, with the
//!   same window, formulas and layout its users know, in Chinese or English;
//! - [`modern`]: the runner's compact line with in-flight against target,
//!   error share, TTFT/TPOT percentiles and token and character rates;
//! - [`tracker`]: the figures of the modern line, gathered from samples.

pub mod modern;
pub mod original;
pub mod tracker;
