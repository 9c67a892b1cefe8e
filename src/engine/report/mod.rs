//! What a run tells its user: the summary (human or `--json`), the rejects file.

pub mod forecast;
pub mod guards;
pub mod metrics;
mod rejects;
pub(crate) mod retention;
pub mod summary;

pub use rejects::{REPORT_COLUMNS, RejectsWriter};
pub use summary::Summary;
