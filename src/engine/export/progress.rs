//! The export's progress line on stderr (only on a terminal): a spinner with
//! the export's status while Batch prepares it, then parts and records while
//! they download.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

/// An export's progress line (drawn only when enabled). Clones draw on the same line.
#[derive(Clone)]
pub(crate) struct ExportBar {
    bar: Option<ProgressBar>,
}

impl ExportBar {
    pub(crate) fn new(enabled: bool) -> Self {
        let bar = enabled.then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        ExportBar { bar }
    }

    /// Polling: what Batch says of the export.
    pub(crate) fn status(&self, id: &str, status: &str) {
        if let Some(b) = &self.bar {
            b.set_message(format!("export {id}: {status}"));
        }
    }

    /// Downloading: part `part` of `parts`, records written so far.
    pub(crate) fn part(&self, part: u64, parts: usize, records: u64) {
        if let Some(b) = &self.bar {
            b.set_message(format!("downloading part {part}/{parts} · {records} records written"));
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
