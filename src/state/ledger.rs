//! The ledger: one small record per batch (never per row), written before its
//! request leaves (invariant 3) and settled after the answer. On resume, the
//! batches still `Planned` are the ones that were in flight at the kill.
//!
//! Keys in the `ledger` tree: `b`+run id+seq (big-endian, so a run's batches
//! read back in seq order) → JSON `BatchRecord`.

use serde::{Deserialize, Serialize};

use super::{StateError, Store, name_key};
use batchport_source::Position;

/// The ledger's record of one batch (`dispatch::batch::Batch`): which rows
/// it covers and, once settled, what became of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// Its sequence number in the run (taken from `Run::next_seq`).
    pub seq: u64,
    /// Index into the run's `inputs`.
    pub file: usize,
    /// Where its first row starts.
    pub first: Position,
    /// Where its last row starts.
    pub last: Position,
    /// Rows it covers, `first` to `last`.
    pub rows: u64,
    /// Where it stands.
    pub state: BatchState,
    /// What became of the segment's rows, once settled.
    #[serde(default)]
    pub tally: Tally,
}

impl BatchRecord {
    /// Add what this settled batch's rows became to `c`.
    pub fn count_into(&self, c: &mut super::Counters) {
        let t = &self.tally;
        c.rows_read += self.rows - t.skipped;
        c.rows_sent += t.sent;
        c.rows_rejected += t.rejected;
        c.rows_unchanged += t.unchanged;
        c.rows_uncertain += t.uncertain;
        c.rows_duplicate += t.duplicate;
        c.rows_partial += t.partial;
        c.values_dropped += t.dropped;
    }
}

/// The fate of a settled batch's rows, and how long the report files were once
/// its rows were written (resume cuts them back to the last settled length).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tally {
    /// Rows Batch acknowledged (applied in part included).
    pub sent: u64,
    /// Rows rejected: not sent, each a line of the rejects file.
    pub rejected: u64,
    /// Rows not sent because Batch already has them (`changed_only`).
    pub unchanged: u64,
    /// Rows whose outcome is unknown: held in the uncertain file, not resent.
    pub uncertain: u64,
    /// Rows re-read on resume that an earlier attempt had settled.
    pub skipped: u64,
    /// Events skipped: acknowledged by an earlier run (the event index).
    pub duplicate: u64,
    /// Bad values left out of the rows sent (`on_bad_value = "drop"`).
    pub dropped: u64,
    /// Length of the first rejects file (what records written before
    /// `rejects_lens` have).
    pub rejects_len: u64,
    /// Length of the first uncertain file, as `rejects_len`.
    pub uncertain_len: u64,
    /// Rows applied with a part refused (counted in `sent` too).
    #[serde(default)]
    pub partial: u64,
    /// Length of the partial file.
    #[serde(default)]
    pub partial_len: u64,
    /// Length of every rejects (uncertain) file, one per source header.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejects_lens: Vec<u64>,
    /// Length of every uncertain file, as `rejects_lens`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uncertain_lens: Vec<u64>,
}

impl Tally {
    /// The report files' lengths, whatever version wrote the record.
    pub fn lens(&self) -> (Vec<u64>, Vec<u64>) {
        let or_first = |all: &Vec<u64>, first: u64| if all.is_empty() && first > 0 { vec![first] } else { all.clone() };
        (or_first(&self.rejects_lens, self.rejects_len), or_first(&self.uncertain_lens, self.uncertain_len))
    }
}

/// Where a batch stands in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchState {
    /// Planned, its request not handed to the HTTP client yet (waiting for a
    /// slot or the limiter): nothing of it can have reached Batch.
    Planned,
    /// Its first request was handed to the HTTP client: outcome unknown
    /// until settled. (Only events batches record it: for the other kinds
    /// a batch in flight is resent either way.)
    Sent,
    /// Settled: its tally says what became of its rows.
    Acked,
    /// Settled with every row held as uncertain (none sent, none rejected).
    Held,
}

const BATCH: u8 = b'b';

impl Store {
    /// Record a batch as planned, durably, before its request leaves.
    pub fn plan_batch(&self, run_id: &str, b: &BatchRecord) -> Result<(), StateError> {
        let inner = &self.inner;
        let value = serde_json::to_vec(b).expect("a batch record always serialises");
        inner.ledger.insert(name_key(BATCH, run_id, Some(b.seq)), value).map_err(|e| inner.err(e))?;
        inner.flush()
    }

    /// Mark a planned batch as handed to the HTTP client, durably, before
    /// its first request leaves.
    pub fn mark_sent(&self, run_id: &str, b: &BatchRecord) -> Result<(), StateError> {
        let b = BatchRecord { state: BatchState::Sent, ..b.clone() };
        self.record_batch(run_id, &b)?;
        self.inner.flush()
    }

    /// Write a batch's settled record whole (state and tally). Not flushed:
    /// losing an ack only resends an idempotent batch. For events, the caller
    /// calls `flush` after this.
    pub fn record_batch(&self, run_id: &str, b: &BatchRecord) -> Result<(), StateError> {
        let inner = &self.inner;
        let value = serde_json::to_vec(b).expect("a batch record always serialises");
        inner.ledger.insert(name_key(BATCH, run_id, Some(b.seq)), value).map_err(|e| inner.err(e))?;
        Ok(())
    }

    /// Whether run `run_id` has planned any batch (a killed run's record may
    /// not say so yet; its ledger does).
    pub fn has_batches(&self, run_id: &str) -> Result<bool, StateError> {
        let inner = &self.inner;
        Ok(inner
            .ledger
            .scan_prefix(name_key(BATCH, run_id, None))
            .next()
            .transpose()
            .map_err(|e| inner.err(e))?
            .is_some())
    }

    /// All batches of a run still in the ledger, in seq order.
    pub fn batches(&self, run_id: &str) -> Result<Vec<BatchRecord>, StateError> {
        let inner = &self.inner;
        let mut out = Vec::new();
        for kv in inner.ledger.scan_prefix(name_key(BATCH, run_id, None)) {
            let (k, v) = kv.map_err(|e| inner.err(e))?;
            out.push(serde_json::from_slice(&v).map_err(|e| inner.bad_record(&k, e))?);
        }
        Ok(out)
    }

    /// Forget a planned batch none of whose requests reached the API (the run
    /// was stopped while it waited to send): its rows are read again on resume.
    pub fn unplan_batch(&self, run_id: &str, seq: u64) -> Result<(), StateError> {
        let inner = &self.inner;
        inner.ledger.remove(name_key(BATCH, run_id, Some(seq))).map_err(|e| inner.err(e))?;
        inner.flush()
    }

    /// Delete all of a run's batch records.
    pub(super) fn delete_ledger(&self, run_id: &str) -> Result<(), StateError> {
        let inner = &self.inner;
        let mut batch = sled::Batch::default();
        for k in inner.ledger.scan_prefix(name_key(BATCH, run_id, None)).keys() {
            batch.remove(k.map_err(|e| inner.err(e))?);
        }
        inner.ledger.apply_batch(batch).map_err(|e| inner.err(e))
    }
}
