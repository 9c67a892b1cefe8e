//! `batchport schedule DIR`: stay up and run every job in DIR that has a
//! `schedule`, never two runs of one job at once.
//!
//! - `scheduler`: the decisions (what is due, when to wake), on injected instants.
//! - `scan`: reading DIR into jobs, skipping (and reporting) files that do not load.
//! - the loop around them (clock, signals, runs, logs) is the binary's
//!   (`src/commands/serve.rs`): it prints and exits.
//!
//! Cron expressions are read in the machine's local time zone (`TZ` where set), as
//! cron itself does; a time skipped by a daylight-saving jump runs at the first
//! instant after the gap. Each run's summary is one line on stderr, or with
//! `--json` one JSON object per run on stdout (NDJSON). A run interrupted by SIGTERM checkpoints like `run`
//! does and is resumed when the scheduler starts again.

mod scan;
mod scheduler;

pub use scan::{Notes, Scan, scan};
pub use scheduler::{Due, Planned, Problem, Scheduler};
