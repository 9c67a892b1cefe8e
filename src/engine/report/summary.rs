//! The end-of-run summary: one JSON object on stdout with `--json` (JOBS.md's
//! fields), or a few lines for people on stderr.

use crate::status::Status;
use batchport_state::Counters;
use serde::Serialize;
use std::path::PathBuf;

/// How a run ended: what `batchport run --json` prints (JOBS.md's fields).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The job's name.
    pub job: String,
    /// The run's id (empty when the run could not start, in `schedule` logs).
    pub run_id: String,
    /// How the run ended; [`Status::code`] is the exit code.
    pub status: Status,
    /// Rows read from the input (exports: records written).
    pub rows_read: u64,
    /// Rows Batch acknowledged.
    pub rows_sent: u64,
    /// Rows refused, by the transform or by Batch: in the rejects file.
    pub rows_rejected: u64,
    /// Rows not sent because they did not change since the last run (`changed_only`).
    pub rows_unchanged: u64,
    /// Rows whose batch had an unknown outcome and were held (events).
    pub rows_uncertain: u64,
    /// Rows Batch applied but for a refused attribute or event (within
    /// `rows_sent`), listed in `partial_file`; never resend them.
    pub rows_partial: u64,
    /// Values left out of rows that were sent (`on_bad_value = "drop"`): a
    /// value that failed its type or rule. Each such row is in the rejects
    /// file once, with the columns and reasons.
    pub values_dropped: u64,
    /// The partial file (rows applied but for a refused part), when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_file: Option<PathBuf>,
    /// `validate` only: rows that would be sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_valid: Option<u64>,
    /// Requests made for the data (look-ups and polls are not counted).
    pub requests: u64,
    /// Requests made again after a passing failure.
    pub retries: u64,
    /// Requests Batch answered 429 (rate limited).
    pub http_429: u64,
    /// Updates/s Batch accepted while this run was sending (null before any).
    pub rate_achieved: Option<f64>,
    /// Wall time of this command, in seconds.
    pub elapsed_s: f64,
    /// Rows an earlier attempt of a resumed run had read: the text's rows/s
    /// is over what this command read (not in the JSON summary).
    #[serde(skip)]
    pub rows_read_before: u64,
    /// The rejects file, when rows were rejected.
    pub rejects_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The uncertain file (held rows), when there are any.
    pub uncertain_file: Option<PathBuf>,
    /// The input files (exports: the output file).
    pub files: Vec<PathBuf>,
    /// Events not sent because this destination acknowledged them in an
    /// earlier run (the event index).
    pub rows_duplicate: u64,
    /// Every rejects file (one per source header); `rejects_file` is the first.
    pub rejects_files: Vec<PathBuf>,
    /// Every uncertain file (one per source header); `uncertain_file` is the first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uncertain_files: Vec<PathBuf>,
    /// Where the run sent: base URL, API version, project (a hash of its
    /// key), endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Something the user should know about this run (e.g. nothing to do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The input was already imported: the command did nothing.
    #[serde(skip)]
    pub nothing_to_do: bool,
    /// When the input was already imported: what the run that imported it
    /// did. This command's own counts are then all 0, so that a monitor
    /// summing `rows_sent` counts each row once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imported_by: Option<ImportedBy>,
    /// Why a failed run stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `validate` only: rejects by column and reason, consent counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<super::forecast::Forecast>,
}

/// The counts of the earlier run an "already imported" summary names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedBy {
    /// The run that imported the input.
    pub run_id: String,
    /// Rows it read. Its counts are as its own summary gave them.
    pub rows_read: u64,
    /// Rows Batch acknowledged.
    pub rows_sent: u64,
    /// Rows refused, by the transform or by Batch.
    pub rows_rejected: u64,
    /// Rows not sent because they did not change since the run before it.
    pub rows_unchanged: u64,
    /// Rows held, their outcome unknown.
    pub rows_uncertain: u64,
    /// Rows Batch applied but for a refused attribute or event.
    pub rows_partial: u64,
    /// Events not sent because an earlier run had sent them.
    pub rows_duplicate: u64,
    /// Requests it made for the data.
    pub requests: u64,
}

impl Summary {
    /// This summary as an "already imported" one: its counts move to
    /// `imported_by`, this command's are 0 (status, files and run id stay).
    pub(crate) fn into_already_imported(mut self) -> Summary {
        self.imported_by = Some(ImportedBy {
            run_id: self.run_id.clone(),
            rows_read: self.rows_read,
            rows_sent: self.rows_sent,
            rows_rejected: self.rows_rejected,
            rows_unchanged: self.rows_unchanged,
            rows_uncertain: self.rows_uncertain,
            rows_partial: self.rows_partial,
            rows_duplicate: self.rows_duplicate,
            requests: self.requests,
        });
        // Zeroed through the one conversion: a count added to it is zeroed too.
        self.count(&Counters::default());
        self.nothing_to_do = true;
        self
    }

    /// The run's counters as this summary's figures: the one place a run's
    /// counts become the summary's (`rate_achieved` is derived from them).
    pub fn count(&mut self, c: &Counters) {
        let Counters {
            rows_read,
            rows_sent,
            rows_rejected,
            rows_unchanged,
            rows_uncertain,
            rows_duplicate,
            rows_partial,
            values_dropped,
            requests,
            retries,
            http_429,
            updates_accepted: _,
            send_ms: _,
        } = *c;
        (self.rows_read, self.rows_sent, self.rows_rejected, self.rows_unchanged) =
            (rows_read, rows_sent, rows_rejected, rows_unchanged);
        (self.rows_uncertain, self.rows_duplicate, self.rows_partial, self.values_dropped) =
            (rows_uncertain, rows_duplicate, rows_partial, values_dropped);
        (self.requests, self.retries, self.http_429) = (requests, retries, http_429);
        self.rate_achieved = c.rate_achieved();
    }

    /// An empty summary of `run_id` of `job`, status `done`.
    pub fn new(job: &str, run_id: &str) -> Self {
        Summary {
            job: job.to_string(),
            run_id: run_id.to_string(),
            status: Status::Done,
            rows_read: 0,
            rows_sent: 0,
            rows_rejected: 0,
            rows_unchanged: 0,
            rows_uncertain: 0,
            rows_partial: 0,
            values_dropped: 0,
            partial_file: None,
            rows_valid: None,
            requests: 0,
            retries: 0,
            http_429: 0,
            rate_achieved: None,
            elapsed_s: 0.0,
            rows_read_before: 0,
            rejects_file: None,
            uncertain_file: None,
            files: Vec::new(),
            rows_duplicate: 0,
            rejects_files: Vec::new(),
            uncertain_files: Vec::new(),
            destination: None,
            note: None,
            nothing_to_do: false,
            imported_by: None,
            error: None,
            forecast: None,
        }
    }

    /// The summary for people: a few lines (the binary prints them on stdout).
    pub fn human(&self) -> String {
        let read = self.rows_read.saturating_sub(self.rows_read_before);
        let rate = if self.elapsed_s > 0.0 { read as f64 / self.elapsed_s } else { 0.0 };
        let mut s = format!(
            "{job} [{run}]: {status} in {el:.1}s ({rate:.0} rows/s)\n  read {read}, ",
            job = self.job,
            run = self.run_id,
            status =
                serde_json::to_value(self.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            el = self.elapsed_s,
            read = self.rows_read,
        );
        if let Some(valid) = self.rows_valid {
            s.push_str(&format!("valid {valid}, rejected {}", self.rows_rejected));
        } else {
            s.push_str(&format!(
                "sent {}, rejected {}, unchanged {}, uncertain {}\n  requests {}, retries {}, 429s {}{}",
                self.rows_sent,
                self.rows_rejected,
                self.rows_unchanged,
                self.rows_uncertain,
                self.requests,
                self.retries,
                self.http_429,
                self.rate_achieved.map(|r| format!(", {r:.0} updates/s achieved")).unwrap_or_default()
            ));
        }
        if self.rows_duplicate > 0 {
            s.push_str(&format!("\n  duplicate events skipped (sent by an earlier run): {}", self.rows_duplicate));
        }
        for p in self.rejects_files.iter().chain(self.rejects_file.iter().filter(|_| self.rejects_files.is_empty())) {
            s.push_str(&format!("\n  rejects: {}", p.display()));
        }
        if let Some(p) = &self.partial_file {
            s.push_str(&format!(
                "\n  partially applied ({} rows; a part was refused, the rest applied: do not re-import): {}",
                self.rows_partial,
                p.display()
            ));
        }
        for p in
            self.uncertain_files.iter().chain(self.uncertain_file.iter().filter(|_| self.uncertain_files.is_empty()))
        {
            s.push_str(&format!("\n  uncertain (held, not resent): {}", p.display()));
        }
        if let Some(by) = &self.imported_by {
            s.push_str(&format!(
                "\n  imported by run {}: read {}, sent {}, rejected {}, unchanged {}, uncertain {}",
                by.run_id, by.rows_read, by.rows_sent, by.rows_rejected, by.rows_unchanged, by.rows_uncertain
            ));
        }
        if let Some(d) = &self.destination {
            s.push_str(&format!("\n  destination: {d}"));
        }
        if let Some(n) = &self.note {
            s.push_str(&format!("\n  note: {n}"));
        }
        if let Some(e) = &self.error {
            s.push_str(&format!("\n  error: {e}"));
        }
        if let Some(f) = &self.forecast {
            s.push('\n');
            s.push_str(&f.human());
        }
        s
    }
}
