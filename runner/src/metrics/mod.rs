//! Metrics: fixed-memory aggregates of samples, per level, that merge
//! exactly ([`LevelStats::merge`]), plus the exact in-flight tracker.

pub mod early_stop;
mod inflight;
mod level;
mod steady;
mod summary;
pub mod tokens;
mod turns;
mod window;

pub use inflight::{InFlight, Mark};
pub use level::{CONCURRENCY_FLAG_RATIO, LevelStats};
pub use summary::{Dist, Summary};
pub use turns::ByTurn;
pub use window::{Buckets, Totals};
