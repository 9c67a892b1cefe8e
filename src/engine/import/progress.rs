//! The progress bar on stderr (only on a terminal): bytes read of all input
//! files, rows/s, and what became of the rows so far.

use batchport_state::Counters;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// An import's progress bar (drawn only when enabled).
pub(crate) struct ImportBar {
    bar: Option<ProgressBar>,
    pos: u64,
    /// Rows an earlier attempt read: rows/s is over this attempt's.
    rows_before: u64,
}

impl ImportBar {
    pub(crate) fn new(enabled: bool, total_bytes: u64) -> Self {
        let bar = enabled.then(|| {
            let b = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        });
        ImportBar { bar, pos: 0, rows_before: 0 }
    }

    /// A resumed run: `rows` were read by earlier attempts.
    pub(crate) fn after(mut self, rows: u64) -> Self {
        self.rows_before = rows;
        self
    }

    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    pub(crate) fn set_position(&mut self, pos: u64) {
        let resumed = self.pos == 0 && pos > 0 && self.rows_before > 0;
        self.pos = pos;
        if let Some(b) = &self.bar {
            b.set_position(pos);
            // The jump to where a resumed run starts is no speed: the ETA
            // is estimated from here.
            if resumed {
                b.reset_eta();
            }
        }
    }

    pub(crate) fn update(&self, c: &Counters) {
        if let Some(b) = &self.bar {
            let rate = c.rows_read.saturating_sub(self.rows_before) as f64 / b.elapsed().as_secs_f64().max(0.001);
            b.set_message(format!(
                "{:.0} rows/s · sent {} · rejected {} · unchanged {}",
                rate, c.rows_sent, c.rows_rejected, c.rows_unchanged
            ));
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
