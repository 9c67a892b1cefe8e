//! The stored form of a [`Run`] and its migrations.
//!
//! A run record is JSON in sled. Its `format` says how to read it:
//!
//! - format 0 (no `format` field; batchport before the typed run state): the
//!   per-kind state sat in a free-form `extra` object (`files_done` for
//!   imports, the whole export state for exports, `reset` for both), next to a
//!   `watermark` that nothing read. Read by [`migrate_v0`].
//! - format 1 ([`RUN_FORMAT`]): `progress` holds a typed per-kind record and
//!   `reset` is a field of its own.
//!
//! Records are always written in the current format; a record from a newer
//! batchport is refused rather than misread.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Fingerprint;
use super::runs::{Counters, GuardNote, Run, RunStatus};
use batchport_api::Kind;

/// The format this version writes.
pub(crate) const RUN_FORMAT: u32 = 1;

/// What a run's kind keeps to resume it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "of", rename_all = "snake_case")]
pub enum RunProgress {
    /// Imports (profiles, events, audience, catalog).
    Import(ImportProgress),
    /// Exports.
    Export(ExportProgress),
}

impl RunProgress {
    /// The progress of a new run of `kind` over `inputs` files.
    pub(crate) fn new(kind: Kind, inputs: usize) -> RunProgress {
        match kind {
            Kind::Export => RunProgress::Export(ExportProgress::default()),
            _ => {
                RunProgress::Import(ImportProgress { files_done: vec![false; inputs], marks_sent: true, mapping: None })
            }
        }
    }
}

/// An import's progress beyond its ledger.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImportProgress {
    /// Per input file: read to its end and every batch of it settled.
    pub files_done: Vec<bool>,
    /// The run marks a batch `Sent` when its first request leaves (see
    /// `BatchState::Sent`). Runs started before that was kept did not: all
    /// their planned batches may have been sent.
    pub marks_sent: bool,
    /// The job's mapping print when the run started (`Job::mapping_print`):
    /// a run is resumed, or its input "already imported", only under the
    /// same mapping. Absent in runs of a batchport that did not keep it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<String>,
}

/// An export's progress: which export, which parts are in the temp file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportProgress {
    /// The request and output the run was started for: a job edited since
    /// starts a new run instead of resuming an export of other attributes.
    pub key: String,
    /// The export requested from Batch: a resumed run polls it rather than
    /// asking for another.
    pub export_id: Option<String>,
    /// An export Batch reported as ERROR: the next run asks for a new one.
    pub failed_export_id: Option<String>,
    /// Finished parts, in part order: always a prefix of the export's parts.
    pub parts: Vec<PartDone>,
    /// Every part is in the temp file: it is being (or was) renamed over the output.
    pub committing: bool,
}

impl ExportProgress {
    /// Records written by the finished parts.
    pub fn records(&self) -> u64 {
        self.parts.iter().map(|p| p.records).sum()
    }
}

/// One export part written and synced to the temp file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartDone {
    /// The part's number in the export.
    pub part: u64,
    /// The id Batch gave the part's file (a resume keeps the finished parts
    /// only while they are still the export's first files).
    pub file_id: String,
    /// Length of the temp file once this part was written and synced.
    pub end: u64,
    /// Records the part held.
    pub records: u64,
}

/// A run record as stored, any format.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Stored {
    #[serde(default)]
    format: u32,
    id: String,
    job: String,
    kind: Kind,
    inputs: Vec<Fingerprint>,
    status: RunStatus,
    started: String,
    updated: String,
    next_seq: u64,
    #[serde(default)]
    counters: Counters,
    #[serde(default)]
    last_error: Option<String>,
    #[serde(default)]
    rejects_file: Option<PathBuf>,
    #[serde(default)]
    uncertain_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rejects_files: Vec<PathBuf>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    uncertain_files: Vec<PathBuf>,
    /// Absent in records written before destinations were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    partial_file: Option<PathBuf>,
    #[serde(default)]
    reset: bool,
    /// Format 1 and later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    progress: Option<RunProgress>,
    /// Guards that tripped (absent before guards existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    guards: Vec<GuardNote>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    fixup: bool,
    /// Format 0 only; never written.
    #[serde(default, skip_serializing)]
    extra: Value,
}

impl TryFrom<Stored> for Run {
    type Error = String;

    fn try_from(s: Stored) -> Result<Run, String> {
        let (progress, reset) = match s.format {
            0 => migrate_v0(s.kind, s.inputs.len(), &s.extra),
            RUN_FORMAT => (s.progress.unwrap_or_else(|| RunProgress::new(s.kind, s.inputs.len())), s.reset),
            newer => {
                return Err(format!(
                    "run record format {newer} was written by a newer batchport (this one reads up to {RUN_FORMAT})"
                ));
            }
        };
        // Records from before `rejects_files` name their one file.
        let or_first = |all: Vec<PathBuf>, first: &Option<PathBuf>| {
            if all.is_empty() { first.iter().cloned().collect() } else { all }
        };
        let rejects_files = or_first(s.rejects_files, &s.rejects_file);
        let uncertain_files = or_first(s.uncertain_files, &s.uncertain_file);
        Ok(Run {
            id: s.id,
            job: s.job,
            kind: s.kind,
            inputs: s.inputs,
            status: s.status,
            started: s.started,
            updated: s.updated,
            next_seq: s.next_seq,
            counters: s.counters,
            last_error: s.last_error,
            rejects_file: s.rejects_file,
            rejects_files,
            uncertain_files,
            uncertain_file: s.uncertain_file,
            destination: s.destination,
            partial_file: s.partial_file,
            reset,
            progress,
            guards: s.guards,
            fixup: s.fixup,
        })
    }
}

impl From<Run> for Stored {
    fn from(r: Run) -> Stored {
        Stored {
            format: RUN_FORMAT,
            id: r.id,
            job: r.job,
            kind: r.kind,
            inputs: r.inputs,
            status: r.status,
            started: r.started,
            updated: r.updated,
            next_seq: r.next_seq,
            counters: r.counters,
            last_error: r.last_error,
            rejects_file: r.rejects_file,
            uncertain_file: r.uncertain_file,
            rejects_files: r.rejects_files,
            uncertain_files: r.uncertain_files,
            destination: r.destination,
            partial_file: r.partial_file,
            reset: r.reset,
            progress: Some(r.progress),
            guards: r.guards,
            fixup: r.fixup,
            extra: Value::Null,
        }
    }
}

/// Format 0's `extra` bag → the typed progress and the reset flag. What the
/// bag lacks (a run killed before its first save) is a run with no progress.
fn migrate_v0(kind: Kind, inputs: usize, extra: &Value) -> (RunProgress, bool) {
    let reset = extra.get("reset").and_then(Value::as_bool).unwrap_or(false);
    let progress = match kind {
        Kind::Export => {
            RunProgress::Export(serde_json::from_value::<ExportProgress>(extra.clone()).unwrap_or_default())
        }
        _ => {
            let mut files_done: Vec<bool> =
                extra.get("files_done").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
            files_done.resize(inputs, false);
            RunProgress::Import(ImportProgress { files_done, marks_sent: false, mapping: None })
        }
    };
    (progress, reset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The fields every format-0 record had, as batchport wrote them.
    fn v0(kind: &str, extra: Value) -> Value {
        json!({
            "id": "j-20260101T000000Z-abcd", "job": "j", "kind": kind,
            "inputs": [{"path": "a.csv", "size": 10, "mtime_ns": 5, "head_hash": 7},
                       {"path": "b.csv", "size": 11, "mtime_ns": 6, "head_hash": 8}],
            "status": "interrupted", "started": "2026-01-01T00:00:00.000000Z",
            "updated": "2026-01-01T00:00:01.000000Z",
            "watermark": [{"line": 3, "byte": 40, "record": 1}, null],
            "next_seq": 4,
            "counters": {"rows_read": 2, "rows_sent": 2, "rows_rejected": 0, "rows_unchanged": 0,
                         "rows_uncertain": 0, "requests": 1, "retries": 0, "http_429": 0},
            "last_error": null, "rejects_file": null, "uncertain_file": null,
            "extra": extra
        })
    }

    #[test]
    fn an_import_record_of_format_0_keeps_its_files_done_and_reset() {
        let run: Run = serde_json::from_value(v0("events", json!({"files_done": [true, false]}))).unwrap();
        assert_eq!((run.kind, run.status, run.next_seq), (Kind::Events, RunStatus::Interrupted, 4));
        assert_eq!(
            run.progress,
            RunProgress::Import(ImportProgress { files_done: vec![true, false], marks_sent: false, mapping: None })
        );
        assert!(!run.reset);
        assert_eq!(run.counters.requests, 1);

        let run: Run = serde_json::from_value(v0("profiles", json!({"reset": true, "files_done": [true]}))).unwrap();
        assert!(run.reset);
        // One flag per input, whatever the bag held.
        assert_eq!(
            run.progress,
            RunProgress::Import(ImportProgress { files_done: vec![true, false], marks_sent: false, mapping: None })
        );

        let run: Run = serde_json::from_value(v0("catalog", Value::Null)).unwrap();
        assert_eq!(
            run.progress,
            RunProgress::Import(ImportProgress { files_done: vec![false, false], marks_sent: false, mapping: None })
        );
    }

    #[test]
    fn an_export_record_of_format_0_keeps_its_export_and_parts() {
        let extra = json!({
            "key": "{} > out.csv", "export_id": "e1", "failed_export_id": null,
            "parts": [{"part": 1, "file_id": "f1", "end": 120, "records": 3}], "committing": false
        });
        let run: Run = serde_json::from_value(v0("export", extra)).unwrap();
        let RunProgress::Export(p) = &run.progress else { panic!("{:?}", run.progress) };
        assert_eq!((p.key.as_str(), p.export_id.as_deref(), p.records()), ("{} > out.csv", Some("e1"), 3));
        assert_eq!(p.parts, vec![PartDone { part: 1, file_id: "f1".into(), end: 120, records: 3 }]);
    }

    #[test]
    fn records_are_written_in_the_current_format_and_read_back_the_same() {
        let run: Run = serde_json::from_value(v0("export", json!({"key": "k", "reset": true}))).unwrap();
        let stored = serde_json::to_value(&run).unwrap();
        assert_eq!(stored["format"], RUN_FORMAT);
        assert_eq!(stored["kind"], "export");
        assert_eq!(stored["status"], "interrupted");
        assert_eq!(stored["progress"]["of"], "export");
        assert!(stored.get("extra").is_none() && stored.get("watermark").is_none(), "{stored}");
        let again: Run = serde_json::from_value(stored).unwrap();
        assert_eq!(again, run);
        assert!(again.reset);
    }

    #[test]
    fn a_record_from_a_newer_batchport_is_refused() {
        let mut newer =
            serde_json::to_value(serde_json::from_value::<Run>(v0("profiles", Value::Null)).unwrap()).unwrap();
        newer["format"] = json!(RUN_FORMAT + 1);
        let err = serde_json::from_value::<Run>(newer).unwrap_err();
        assert!(err.to_string().contains("newer batchport"), "{err}");
    }
}
