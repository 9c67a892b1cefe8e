//! Runs: one record per run of a job (inputs, status, counters, per-kind
//! progress), plus a per-job index in creation order so "the job's latest
//! run" is one range read, whatever the number of past runs.
//!
//! Keys in the `runs` tree: `r`+run id → JSON `Run` (see `record.rs` for the
//! stored form and its migrations); `j`+job+creation number → run id.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Fingerprint, StateError, Store, name_key, now_rfc3339};
use batchport_api::Kind;

pub use super::record::{ExportProgress, ImportProgress, PartDone, RunProgress};

/// Where a run stands. Stored as its snake_case name (`running`, `done`, ...),
/// the strings earlier versions wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not ended (or killed: nothing got to say otherwise).
    Running,
    /// Stopped by a signal after settling what was in flight: resumable.
    Interrupted,
    /// Stopped by an error: resumable once the cause is fixed.
    Failed,
    /// Finished, every row sent, unchanged or a duplicate.
    Done,
    /// Finished, but some rows were rejected, applied in part, or sent
    /// without a bad value: the rejects (and partial) files say which.
    DoneWithRejects,
    /// Finished, but some rows' outcome is unknown (held in the uncertain
    /// file, not resent): not every row is known to be delivered.
    DoneWithUncertain,
    /// Refused before changing anything (an audience replace with nothing to
    /// send): resumable once the job allows it or the input has rows.
    Refused,
    /// An unfinished run that a newer run of the job replaced (its inputs or
    /// settings changed): never resumed. Its record and ledger are kept for
    /// `status` and for a human to look at.
    Abandoned,
}

impl RunStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Failed => "failed",
            RunStatus::Done => "done",
            RunStatus::DoneWithRejects => "done_with_rejects",
            RunStatus::DoneWithUncertain => "done_with_uncertain",
            RunStatus::Refused => "refused",
            RunStatus::Abandoned => "abandoned",
        }
    }

    /// Finished runs are never resumed.
    pub(crate) fn is_finished(self) -> bool {
        matches!(self, RunStatus::Done | RunStatus::DoneWithRejects | RunStatus::DoneWithUncertain)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run of a job, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "super::record::Stored", into = "super::record::Stored")]
pub struct Run {
    /// `<job>-<UTC start>-<random>`, unique in the store.
    pub id: String,
    /// The job's name.
    pub job: String,
    pub(crate) kind: Kind,
    /// The input files (or objects) as the run found them, in read order.
    pub inputs: Vec<Fingerprint>,
    /// Where the run stands.
    pub status: RunStatus,
    /// RFC 3339, UTC. `updated` is stamped by the store on every save.
    pub started: String,
    pub(crate) updated: String,
    /// The next batch sequence number.
    pub next_seq: u64,
    /// Rows and requests so far.
    pub counters: Counters,
    /// Why the run last failed or was refused, for `status`.
    pub last_error: Option<String>,
    /// The first rejects file.
    pub rejects_file: Option<PathBuf>,
    /// The first uncertain file (rows held, outcome unknown).
    pub uncertain_file: Option<PathBuf>,
    /// Every rejects file of the run (one per source header), the first
    /// being `rejects_file`.
    pub rejects_files: Vec<PathBuf>,
    /// Every uncertain file, as `rejects_files`.
    pub uncertain_files: Vec<PathBuf>,
    /// Where the run sends (see the engine's `service::Destination`): base URL, a hash
    /// of the project key, endpoint. `None`: written by a batchport that did
    /// not record it; such a run matches no destination when deciding what
    /// is "already imported" (see `Store::create_run_for`).
    pub destination: Option<String>,
    /// Rows applied but for a refused attribute (partial errors).
    pub partial_file: Option<PathBuf>,
    /// `batchport reset` after this run finished: a re-run of the same input
    /// imports it again instead of saying there is nothing to do.
    pub reset: bool,
    /// What the run's kind needs to resume it.
    pub progress: RunProgress,
}

impl Run {
    /// Unfinished runs are resumed; finished ones never are.
    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }

    /// The mapping print the run started under, if it kept one.
    pub fn mapping(&self) -> Option<&str> {
        match &self.progress {
            RunProgress::Import(p) => p.mapping.as_deref(),
            RunProgress::Export(_) => None,
        }
    }

    /// Whether the run was made under `print` (a run that kept no print
    /// is taken to have been).
    pub fn same_mapping(&self, print: &str) -> bool {
        self.mapping().is_none_or(|m| m == print)
    }
}

/// Row and request counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Rows read from the inputs, each once (an export: records written).
    pub rows_read: u64,
    /// Rows Batch acknowledged.
    pub rows_sent: u64,
    /// Rows rejected (the rejects file).
    pub rows_rejected: u64,
    /// Rows not sent because Batch already has them (`changed_only`).
    pub rows_unchanged: u64,
    /// Rows whose outcome is unknown (the uncertain file).
    pub rows_uncertain: u64,
    /// Events skipped because this destination acknowledged them in an
    /// earlier run (the event index).
    pub rows_duplicate: u64,
    /// Rows sent and applied but for a refused attribute or event (within `rows_sent`).
    pub rows_partial: u64,
    /// Bad values left out of rows sent (`on_bad_value = "drop"`).
    pub values_dropped: u64,
    /// API requests made (retries included).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Answers that were 429 Too Many Requests.
    pub http_429: u64,
    /// Updates Batch accepted (distinct Custom IDs per call, summed), and the
    /// milliseconds spent sending them (each attempt's first call to its last
    /// answer): the achieved rate is their ratio.
    pub updates_accepted: u64,
    /// See `updates_accepted`.
    pub send_ms: u64,
}

impl Counters {
    /// Each row count raised to at least `known`'s: a killed run's ledger
    /// knows batches its record had not caught up with. Request counts are
    /// the record's (the ledger does not keep them).
    pub fn at_least(&mut self, known: &Counters) {
        let Counters {
            rows_read,
            rows_sent,
            rows_rejected,
            rows_unchanged,
            rows_uncertain,
            rows_duplicate,
            rows_partial,
            values_dropped,
            requests: _,
            retries: _,
            http_429: _,
            updates_accepted: _,
            send_ms: _,
        } = *known;
        for (mine, theirs) in [
            (&mut self.rows_read, rows_read),
            (&mut self.rows_sent, rows_sent),
            (&mut self.rows_rejected, rows_rejected),
            (&mut self.rows_unchanged, rows_unchanged),
            (&mut self.rows_uncertain, rows_uncertain),
            (&mut self.rows_duplicate, rows_duplicate),
            (&mut self.rows_partial, rows_partial),
            (&mut self.values_dropped, values_dropped),
        ] {
            *mine = (*mine).max(theirs);
        }
    }

    /// Updates/s achieved while sending; `None` before anything was accepted,
    /// and under a second of sending (one call's burst is no rate: a single
    /// request of 5,000 rows would read as 150,000/s).
    pub fn rate_achieved(&self) -> Option<f64> {
        (self.send_ms >= 1_000 && self.updates_accepted > 0)
            .then(|| self.updates_accepted as f64 * 1e3 / self.send_ms as f64)
    }
}

const RUN: u8 = b'r';
const JOB: u8 = b'j';

fn run_key(id: &str) -> Vec<u8> {
    let mut k = vec![RUN];
    k.extend_from_slice(id.as_bytes());
    k
}

impl Store {
    /// The unfinished run of `job`: its latest run, if that one is unfinished.
    /// (Older unfinished runs were abandoned by `create_run`.)
    pub fn unfinished_run(&self, job: &str) -> Result<Option<Run>, StateError> {
        Ok(self.last_run(job)?.filter(|r| !r.is_finished() && r.status != RunStatus::Abandoned))
    }

    /// The most recent run of `job`, finished or not.
    pub fn last_run(&self, job: &str) -> Result<Option<Run>, StateError> {
        let inner = &self.inner;
        let last = inner.runs.scan_prefix(name_key(JOB, job, None)).next_back();
        match last.transpose().map_err(|e| inner.err(e))? {
            None => Ok(None),
            Some((_, id)) => self.load_run(&String::from_utf8_lossy(&id)).map(Some),
        }
    }

    /// Start a new run of `job` over `inputs`, durable before it returns. An
    /// unfinished earlier run of the job (which the caller chose not to
    /// resume) becomes `abandoned` in the same atomic write.
    pub fn create_run(&self, job: &str, kind: Kind, inputs: Vec<Fingerprint>) -> Result<Run, StateError> {
        self.create_run_for(job, kind, inputs, None, None)
    }

    /// [`Store::create_run`] for a run that sends to `destination`.
    pub fn create_run_for(
        &self,
        job: &str,
        kind: Kind,
        inputs: Vec<Fingerprint>,
        destination: Option<String>,
        mapping: Option<String>,
    ) -> Result<Run, StateError> {
        let inner = &self.inner;
        let now = chrono::Utc::now();
        let started = now_rfc3339();
        let mut id;
        loop {
            id = format!("{job}-{}-{:04x}", now.format("%Y%m%dT%H%M%SZ"), rand::random::<u16>());
            if !inner.runs.contains_key(run_key(&id)).map_err(|e| inner.err(e))? {
                break;
            }
        }
        let mut progress = RunProgress::new(kind, inputs.len());
        if let RunProgress::Import(p) = &mut progress {
            p.mapping = mapping;
        }
        let run = Run {
            id: id.clone(),
            job: job.to_string(),
            kind,
            progress,
            inputs,
            status: RunStatus::Running,
            started: started.clone(),
            updated: started,
            next_seq: 0,
            counters: Counters::default(),
            last_error: None,
            rejects_file: None,
            uncertain_file: None,
            rejects_files: Vec::new(),
            uncertain_files: Vec::new(),
            destination,
            partial_file: None,
            reset: false,
        };
        let mut batch = sled::Batch::default();
        if let Some(mut old) = self.unfinished_run(job)? {
            old.status = RunStatus::Abandoned;
            old.updated = run.started.clone();
            batch.insert(run_key(&old.id), encode(&old));
        }
        let order = inner.db.generate_id().map_err(|e| inner.err(e))?;
        batch.insert(name_key(JOB, job, Some(order)), id.as_bytes());
        batch.insert(run_key(&id), encode(&run));
        inner.runs.apply_batch(batch).map_err(|e| inner.err(e))?;
        inner.flush()?;
        Ok(run)
    }

    /// Save progress (counters, status, per-kind progress). Not flushed: sled
    /// writes it within `FLUSH_EVERY_MS`, and a lost save only moves the
    /// resume point back to where the ledger still knows the batches.
    pub fn save_run(&self, run: &Run) -> Result<(), StateError> {
        self.put_run(run)
    }

    /// Save the run's final state (status set by the caller) and flush. A
    /// finished run's ledger is deleted: nothing will resume it.
    pub fn finish_run(&self, run: &Run) -> Result<(), StateError> {
        self.put_run(run)?;
        self.inner.flush()?;
        if run.is_finished() {
            self.delete_ledger(&run.id)?;
        }
        Ok(())
    }

    /// All runs, newest first (for `batchport status`).
    pub fn runs(&self) -> Result<Vec<Run>, StateError> {
        let inner = &self.inner;
        let mut all = Vec::new();
        for kv in inner.runs.scan_prefix([RUN]) {
            let (k, v) = kv.map_err(|e| inner.err(e))?;
            all.push(serde_json::from_slice::<Run>(&v).map_err(|e| inner.bad_record(&k, e))?);
        }
        all.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| b.id.cmp(&a.id)));
        Ok(all)
    }

    /// Forget the job's unfinished run, its ledger included. Returns whether
    /// there was one.
    pub fn reset_run(&self, job: &str) -> Result<bool, StateError> {
        let inner = &self.inner;
        let Some(run) = self.unfinished_run(job)? else { return Ok(false) };
        let mut batch = sled::Batch::default();
        batch.remove(run_key(&run.id));
        for kv in inner.runs.scan_prefix(name_key(JOB, job, None)).rev() {
            let (k, v) = kv.map_err(|e| inner.err(e))?;
            if v == run.id.as_bytes() {
                batch.remove(k);
                break;
            }
        }
        // The run goes first and durably: a kill before the ledger is gone
        // leaves orphan batch records, never a run with half a ledger.
        inner.runs.apply_batch(batch).map_err(|e| inner.err(e))?;
        inner.flush()?;
        self.delete_ledger(&run.id)?;
        inner.flush()?;
        Ok(true)
    }

    /// The run `id`, if the store still has it.
    pub fn run(&self, id: &str) -> Result<Option<Run>, StateError> {
        match self.load_run(id) {
            Ok(r) => Ok(Some(r)),
            Err(StateError::UnknownRun(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn load_run(&self, id: &str) -> Result<Run, StateError> {
        let inner = &self.inner;
        let key = run_key(id);
        let v = inner.runs.get(&key).map_err(|e| inner.err(e))?.ok_or_else(|| StateError::UnknownRun(id.into()))?;
        serde_json::from_slice(&v).map_err(|e| inner.bad_record(&key, e))
    }

    fn put_run(&self, run: &Run) -> Result<(), StateError> {
        let inner = &self.inner;
        let key = run_key(&run.id);
        if !inner.runs.contains_key(&key).map_err(|e| inner.err(e))? {
            return Err(StateError::UnknownRun(run.id.clone()));
        }
        let mut run = run.clone();
        run.updated = now_rfc3339();
        inner.runs.insert(key, encode(&run)).map_err(|e| inner.err(e))?;
        Ok(())
    }
}

fn encode(run: &Run) -> Vec<u8> {
    serde_json::to_vec(run).expect("a Run always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RUN_FORMAT;

    #[test]
    fn job_index_keys_sort_by_creation_and_do_not_mix_jobs() {
        let a1 = name_key(JOB, "a", Some(1));
        let a2 = name_key(JOB, "a", Some(256));
        let ab = name_key(JOB, "ab", Some(0));
        assert!(a1 < a2);
        assert!(!ab.starts_with(&name_key(JOB, "a", None)));
    }

    /// A store as batchport wrote it before the typed run state (format 0:
    /// `extra` bag, `watermark`), with the same keys: it resumes, and is
    /// written back in the current format.
    #[test]
    fn a_store_written_in_format_0_resumes_and_is_rewritten_typed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        let v0 = serde_json::json!({
            "id": "nightly-20260101T020000Z-ab12", "job": "nightly", "kind": "profiles",
            "inputs": [{"path": "users.csv", "size": 100, "mtime_ns": 1, "head_hash": 2}],
            "status": "interrupted", "started": "2026-01-01T02:00:00.000000Z",
            "updated": "2026-01-01T02:00:05.000000Z", "watermark": [{"line": 101, "byte": 9000, "record": 99}],
            "next_seq": 3, "counters": {"rows_read": 100, "rows_sent": 98, "rows_rejected": 2, "rows_unchanged": 0,
            "rows_uncertain": 0, "requests": 2, "retries": 1, "http_429": 1},
            "last_error": null, "rejects_file": "rejects/nightly-rejects.csv", "uncertain_file": null,
            "extra": {"files_done": [true]}
        });
        let id = v0["id"].as_str().unwrap();
        let inner = &store.inner;
        inner.runs.insert(name_key(JOB, "nightly", Some(7)), id.as_bytes()).unwrap();
        inner.runs.insert(run_key(id), serde_json::to_vec(&v0).unwrap()).unwrap();

        let run = store.unfinished_run("nightly").unwrap().expect("the old run is found and unfinished");
        assert_eq!((run.kind, run.status, run.next_seq), (Kind::Profiles, RunStatus::Interrupted, 3));
        assert_eq!(
            run.progress,
            RunProgress::Import(ImportProgress { files_done: vec![true], marks_sent: false, mapping: None })
        );
        assert_eq!((run.counters.rows_sent, run.counters.http_429), (98, 1));
        assert_eq!(run.rejects_file.as_deref(), Some(std::path::Path::new("rejects/nightly-rejects.csv")));

        store.save_run(&run).unwrap();
        let raw: serde_json::Value = serde_json::from_slice(&inner.runs.get(run_key(id)).unwrap().unwrap()).unwrap();
        assert_eq!(raw["format"], RUN_FORMAT);
        assert!(raw.get("extra").is_none() && raw.get("watermark").is_none(), "{raw}");
        assert_eq!(store.last_run("nightly").unwrap().unwrap().progress, run.progress);
    }
}
