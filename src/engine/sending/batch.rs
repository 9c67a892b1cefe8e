//! Rows → batches. A batch is a *segment* of the input: every row read since the
//! previous batch, whatever became of it (operation, reject, skipped), so that
//! batches tile each file and the ledger's records of them say exactly which
//! rows are settled (see `import::resume`). Only the operations are sent; the
//! rest is accounted for when the batch settles.

use batchport_source::Position;
use batchport_state::{BatchRecord, BatchState, Tally};
use batchport_transform::{Op, Reject};
use std::collections::HashSet;
use xxhash_rust::xxh3::xxh3_64;

/// JSON framing per operation beyond its attributes and key (identifiers, keys,
/// commas): counted so the byte cap is never crossed.
const FRAME_BYTES: usize = 64;

/// One segment of consecutive rows of one input file, and what goes out for
/// it. `O` is what each operation is at this stage: a whole [`Op`] while
/// batching, a [`SentOp`](super::send::SentOp) once its body is built (the
/// body holds the attributes; the operation keeps what settling needs).
#[derive(Debug)]
pub(crate) struct Batch<O = Op> {
    pub(crate) seq: u64,
    pub(crate) file: usize,
    pub(crate) first: Position,
    pub(crate) last: Position,
    /// Rows in the segment, of any fate.
    pub(crate) rows: u64,
    pub(crate) ops: Vec<O>,
    /// Rows the transform refused, written to the rejects file at settling.
    pub(crate) rejects: Vec<Reject>,
    /// Rows skipped: already acknowledged in an earlier attempt of this run, or
    /// unchanged since the last run (`changed_only`).
    pub(crate) skipped_acked: u64,
    pub(crate) unchanged: u64,
    /// Events this destination acknowledged in an earlier run: not sent.
    pub(crate) duplicate: u64,
    /// Rows whose earlier batch had an unknown outcome: held, not sent (events).
    pub(crate) held: Vec<Op>,
    /// Distinct keys among `ops`: what the rate limit counts.
    pub(crate) updates: u32,
    /// Estimated body size.
    pub(crate) bytes: usize,
    /// Events: the event-index hash of each of `held`.
    pub(crate) held_hashes: Vec<u64>,
    /// The distinct ID hashes of `ops` (per-ID order, `import::order`),
    /// collected by the batcher as it counted `updates`.
    pub(crate) keys: Vec<u64>,
}

impl<O> Default for Batch<O> {
    fn default() -> Self {
        Batch {
            seq: 0,
            file: 0,
            first: Position::default(),
            last: Position::default(),
            rows: 0,
            ops: Vec::new(),
            rejects: Vec::new(),
            skipped_acked: 0,
            unchanged: 0,
            duplicate: 0,
            held: Vec::new(),
            updates: 0,
            bytes: 0,
            held_hashes: Vec::new(),
            keys: Vec::new(),
        }
    }
}

impl<O> Batch<O> {
    /// The batch's ledger record, in `state` with `tally`.
    pub(crate) fn record(&self, state: BatchState, tally: Tally) -> BatchRecord {
        BatchRecord {
            seq: self.seq,
            file: self.file,
            first: self.first,
            last: self.last,
            rows: self.rows,
            state,
            tally,
        }
    }

    /// The same batch, each operation turned into the next stage's.
    pub(crate) fn map_ops<P>(self, f: impl FnMut(O) -> P) -> Batch<P> {
        Batch {
            seq: self.seq,
            file: self.file,
            first: self.first,
            last: self.last,
            rows: self.rows,
            ops: self.ops.into_iter().map(f).collect(),
            rejects: self.rejects,
            skipped_acked: self.skipped_acked,
            unchanged: self.unchanged,
            duplicate: self.duplicate,
            held: self.held,
            updates: self.updates,
            bytes: self.bytes,
            held_hashes: self.held_hashes,
            keys: self.keys,
        }
    }
}

/// The limits one batch must respect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchLimits {
    pub(crate) max_ops: usize,
    pub(crate) max_bytes: usize,
    /// Events: at most this many events of one key per call.
    pub(crate) max_events_per_key: Option<usize>,
    /// Close a segment once it holds this many rows in memory (operations,
    /// rejects, held rows), even if few are sent, so that the settled prefix
    /// (and a resume's seek point) moves through files that are mostly rejects
    /// and memory stays bounded.
    pub(crate) max_rows: u64,
    /// Close a segment after this many rows of any fate. With `changed_only`
    /// it is far above `max_rows`: unchanged rows cost no memory, and a long
    /// segment fills whole calls with the few changed rows (1% changed and
    /// 10,000 operations a call: a segment of a million rows).
    pub(crate) max_segment_rows: u64,
}

/// Keys are counted by their xxh3 hash, already uniform: hashing it again
/// (SipHash, the default) costs more than the rest of a row's batching.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

pub(crate) type ByHash = std::hash::BuildHasherDefault<Prehashed>;

pub(crate) struct Batcher {
    limits: BatchLimits,
    file: usize,
    next_seq: u64,
    cur: Batch,
    keys: HashSet<u64, ByHash>,
    events_per_key: std::collections::HashMap<u64, usize, ByHash>,
}

/// What a row became before batching.
pub(crate) enum Row {
    Op(Op),
    Reject(Reject),
    /// Acknowledged by an earlier attempt of this run.
    SkipAcked(Position),
    Unchanged(Position),
    /// Consecutive unchanged rows, not read (`Mapped::UnchangedRun`).
    UnchangedRun {
        first: Position,
        last: Position,
        rows: u64,
    },
    /// An event this destination already acknowledged (event index).
    Duplicate(Position),
    Held(Op),
}

impl Row {
    fn pos(&self) -> Position {
        match self {
            Row::Op(o) | Row::Held(o) => o.pos,
            Row::Reject(r) => r.pos,
            Row::SkipAcked(p) | Row::Unchanged(p) | Row::Duplicate(p) | Row::UnchangedRun { first: p, .. } => *p,
        }
    }
}

impl Batcher {
    pub(crate) fn new(limits: BatchLimits, next_seq: u64) -> Self {
        Batcher {
            limits,
            file: 0,
            next_seq,
            cur: Batch::default(),
            keys: HashSet::default(),
            events_per_key: Default::default(),
        }
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Rows from now on belong to input file `file`; call `close` before.
    pub(crate) fn set_file(&mut self, file: usize) {
        self.file = file;
    }

    /// Add a row; returns the batch it closed, if adding it had to close one.
    pub(crate) fn push(&mut self, row: Row) -> Option<Batch> {
        let mut closed = None;
        if let Row::Op(op) = &row {
            let h = xxh3_64(op.key.as_bytes());
            let new_key = !self.keys.contains(&h);
            let size = op.attrs.len() + op.key.len() + op.event.as_ref().map_or(0, Vec::len) + FRAME_BYTES;
            let events_full = self
                .limits
                .max_events_per_key
                .is_some_and(|max| self.events_per_key.get(&h).copied().unwrap_or(0) >= max);
            let ops_full = new_key && self.keys.len() >= self.limits.max_ops;
            let bytes_full = !self.cur.ops.is_empty() && self.cur.bytes + size > self.limits.max_bytes;
            // Events of one key share an operation; profiles send one per row.
            let ops_full =
                ops_full || (self.limits.max_events_per_key.is_none() && self.cur.ops.len() >= self.limits.max_ops);
            if ops_full || bytes_full || events_full {
                closed = self.close();
            }
            if self.keys.insert(h) {
                self.cur.updates += 1;
            }
            if self.limits.max_events_per_key.is_some() {
                *self.events_per_key.entry(h).or_default() += 1;
            }
            self.cur.bytes += size;
        }
        let pos = row.pos();
        if self.cur.rows == 0 {
            self.cur.first = pos;
        }
        self.cur.last = pos;
        self.cur.rows += 1;
        if let Row::UnchangedRun { last, rows, .. } = row {
            self.cur.last = last;
            self.cur.rows += rows - 1;
        }
        match row {
            Row::Op(op) => {
                if self.cur.ops.is_empty() {
                    // Grown by doubling, a full batch's operations were moved ~14 times.
                    self.cur.ops.reserve(self.limits.max_ops.min(self.limits.max_rows as usize).min(16_384));
                }
                self.cur.ops.push(op)
            }
            Row::Reject(r) => self.cur.rejects.push(r),
            Row::SkipAcked(_) => self.cur.skipped_acked += 1,
            Row::Unchanged(_) => self.cur.unchanged += 1,
            Row::UnchangedRun { rows, .. } => self.cur.unchanged += rows,
            Row::Duplicate(_) => self.cur.duplicate += 1,
            Row::Held(op) => self.cur.held.push(op),
        }
        let kept = self.cur.ops.len() + self.cur.rejects.len() + self.cur.held.len();
        if closed.is_none() && (kept as u64 >= self.limits.max_rows || self.cur.rows >= self.limits.max_segment_rows) {
            closed = self.close();
        }
        closed
    }

    /// Close the current batch (end of file, or before a row that does not fit).
    pub(crate) fn close(&mut self) -> Option<Batch> {
        if self.cur.rows == 0 {
            return None;
        }
        let mut b = std::mem::take(&mut self.cur);
        b.seq = self.next_seq;
        b.file = self.file;
        self.next_seq += 1;
        b.keys = self.keys.drain().collect();
        self.events_per_key.clear();
        Some(b)
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    fn op(key: &str, record: u64) -> Op {
        Op {
            key: key.into(),
            pos: Position { line: record + 2, byte: 0, record },
            attrs: b"{}".to_vec(),
            event: None,
            record: csv::ByteRecord::new(),
            change: None,
            dropped: Vec::new(),
            row: 0,
        }
    }

    fn limits(max_ops: usize) -> BatchLimits {
        BatchLimits {
            max_ops,
            max_bytes: 1 << 20,
            max_events_per_key: None,
            max_rows: 1_000_000,
            max_segment_rows: 1_000_000,
        }
    }

    #[test]
    fn batches_tile_the_input() {
        let mut b = Batcher::new(limits(3), 0);
        let mut out = Vec::new();
        for i in 0..10 {
            let row = if i % 4 == 1 {
                Row::Reject(Reject {
                    pos: op("x", i).pos,
                    column: String::new(),
                    reason: "r".into(),
                    record: Default::default(),
                })
            } else {
                Row::Op(op(&format!("k{i}"), i))
            };
            out.extend(b.push(row));
        }
        out.extend(b.close());
        let mut next = 0;
        for (i, batch) in out.iter().enumerate() {
            assert_eq!(batch.seq, i as u64);
            assert_eq!(batch.first.record, next, "no gap, no overlap");
            next = batch.last.record + 1;
            assert!(batch.ops.len() <= 3);
            assert_eq!(batch.rows as usize, batch.ops.len() + batch.rejects.len());
        }
        assert_eq!(next, 10);
    }

    #[test]
    fn updates_count_distinct_keys_and_bytes_cap() {
        let mut b = Batcher::new(limits(10), 0);
        for i in 0..4 {
            assert!(b.push(Row::Op(op(if i % 2 == 0 { "a" } else { "b" }, i))).is_none());
        }
        let batch = b.close().unwrap();
        assert_eq!(batch.updates, 2);
        // The per-ID order tracks exactly the batch's distinct IDs.
        let mut keys = batch.keys.clone();
        keys.sort_unstable();
        let mut want = vec![xxh3_64(b"a"), xxh3_64(b"b")];
        want.sort_unstable();
        assert_eq!(keys, want);
        assert!(b.push(Row::Op(op("c", 5))).is_none());
        assert_eq!(b.close().unwrap().keys, vec![xxh3_64(b"c")], "the next batch starts with none");
        let mut b = Batcher::new(BatchLimits { max_bytes: 200, ..limits(100) }, 0);
        let closed: Vec<Batch> = (0..10).filter_map(|i| b.push(Row::Op(op(&format!("k{i}"), i)))).collect();
        assert!(!closed.is_empty());
        assert!(closed.iter().all(|c| c.bytes <= 200));
    }

    #[test]
    fn unchanged_rows_do_not_cut_calls_short() {
        // One changed row in 100: a segment runs until its call is full.
        let mut b = Batcher::new(BatchLimits { max_rows: 10, max_segment_rows: 1_000, ..limits(3) }, 0);
        let mut out = Vec::new();
        for i in 0..2_000u64 {
            let row = if i % 100 == 0 { Row::Op(op(&format!("k{i}"), i)) } else { Row::Unchanged(op("x", i).pos) };
            out.extend(b.push(row));
        }
        out.extend(b.close());
        let last = out.len() - 1;
        assert!(out[..last].iter().all(|c| c.ops.len() == 3), "full calls");
        assert_eq!(out.iter().map(|c| c.rows).sum::<u64>(), 2_000);
        assert_eq!(out.iter().map(|c| c.unchanged).sum::<u64>(), 1_980);
        // The segment cap still moves the watermark through unchanged rows.
        let mut b = Batcher::new(BatchLimits { max_rows: 10, max_segment_rows: 1_000, ..limits(3) }, 0);
        let closed: Vec<Batch> = (0..2_500u64).filter_map(|i| b.push(Row::Unchanged(op("x", i).pos))).collect();
        assert_eq!(closed.iter().map(|c| c.rows).collect::<Vec<_>>(), [1_000, 1_000]);
    }

    #[test]
    fn events_of_one_key_are_capped_per_call() {
        let mut b = Batcher::new(BatchLimits { max_events_per_key: Some(15), ..limits(100) }, 0);
        let closed: Vec<Batch> = (0..40).filter_map(|i| b.push(Row::Op(op("same", i)))).collect();
        assert_eq!(closed.len(), 2);
        assert!(closed.iter().all(|c| c.ops.len() == 15 && c.updates == 1));
    }
}
