//! Settling a batch once its fate is known: rejects and held rows to their
//! files (in row order), the ledger record, the counters and the change index.
//! One batch at a time, in the order the engine's task settles them (on the
//! blocking pool), so files are written in settle order and each ledger
//! record can say how long they were.

use super::Written;
use crate::report::RejectsWriter;
use crate::sending::batch::Batch;
use crate::sending::send::{Fate, SentOp};
use batchport_state::{self as state, BatchState, ChangeIndex, EventIndex, Store, Tally};
use batchport_transform::Reject;

/// Where a file's rows can be read again, for the rows the API refuses.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) path: std::path::PathBuf,
    /// What its events are known by in the event index.
    pub(crate) event_key: super::history::EventKey,
    pub(crate) delimiter: u8,
    pub(crate) seekable: bool,
}

/// What an import attempt has settled so far, and where it writes it.
pub(crate) struct Accounts {
    /// Per input file, once it has been opened in this attempt.
    pub(crate) sources: Vec<Source>,
    pub(crate) rejects: RejectsWriter,
    pub(crate) uncertain: RejectsWriter,
    /// Rows applied but for a refused attribute (partial errors): apart from
    /// the rejects, so that re-importing the rejects never resends them.
    pub(crate) partial: Option<RejectsWriter>,
    pub(crate) counters: state::Counters,
    pub(crate) change: Option<ChangeIndex>,
    /// Events jobs: the events this destination acknowledged.
    pub(crate) events: Option<EventIndex>,
}

impl Accounts {
    pub(crate) fn new(rejects: RejectsWriter, uncertain: RejectsWriter, counters: state::Counters) -> Self {
        Accounts { sources: Vec::new(), rejects, uncertain, partial: None, counters, change: None, events: None }
    }

    pub(crate) fn set_source(&mut self, file: usize, s: Source) {
        while self.sources.len() <= file {
            self.sources.push(s.clone());
        }
        self.sources[file] = s;
    }

    /// Settle `batch`, each operation's fate known (an empty batch sent nothing).
    /// `durable`: flush the record before returning. An acknowledged batch must
    /// never be sent again (invariant 2), so a batch that was sent is durable
    /// before the next is planned; one that sent nothing can be redone.
    pub(crate) fn settle(
        &mut self,
        store: &Store,
        run_id: &str,
        batch: Batch<SentOp>,
        durable: bool,
    ) -> Result<(), Written> {
        let mut tally = Tally {
            skipped: batch.skipped_acked,
            unchanged: batch.unchanged,
            duplicate: batch.duplicate,
            ..Tally::default()
        };
        let mut record = batch.record(BatchState::Acked, Tally::default());
        let mut rejects: Vec<Reject> = batch.rejects;
        let mut held: Vec<Reject> = Vec::new();
        let mut partial: Vec<Reject> = Vec::new();
        // Sent rows whose bad values were left out: one rejects line each.
        let mut dropped: Vec<Reject> = Vec::new();
        let mut acked_pairs = Vec::new();
        let mut acked_events = Vec::new();
        let mut held_events = batch.held_hashes;
        for op in batch.ops {
            if !op.dropped.is_empty() && matches!(op.fate, Fate::Acked | Fate::Partial { .. }) {
                tally.dropped += op.dropped.len() as u64;
                dropped.push(batchport_transform::dropped_line(op.pos, op.record.clone(), &op.dropped));
            }
            match op.fate {
                Fate::Acked => {
                    tally.sent += 1;
                    acked_pairs.extend(op.change);
                    acked_events.extend(op.event);
                }
                Fate::Rejected { column, reason } => {
                    rejects.push(Reject { pos: op.pos, column, reason, record: op.record })
                }
                // Acknowledged (never resent), but Batch holds only part of
                // it: the ID's next row is sent whatever it says.
                Fate::Partial { column, reason } => {
                    tally.sent += 1;
                    acked_pairs.extend(op.change.map(unknown));
                    acked_events.extend(op.event);
                    partial.push(Reject { pos: op.pos, column, reason, record: op.record });
                }
                // Batch may or may not hold it: likewise.
                Fate::Held { reason } => {
                    acked_pairs.extend(op.change.map(unknown));
                    held_events.extend(op.event);
                    held.push(Reject { pos: op.pos, column: String::new(), reason, record: op.record })
                }
            }
        }
        for op in batch.held {
            acked_pairs.extend(op.change.map(unknown));
            held.push(Reject {
                pos: op.pos,
                column: String::new(),
                reason: "in flight when an earlier run or attempt stopped, or held by one: outcome unknown, held, not resent"
                    .into(),
                record: op.record,
            });
        }
        rejects.sort_by_key(|r| r.pos.record);
        held.sort_by_key(|r| r.pos.record);
        if let Some(src) = self.sources.get(batch.file).filter(|s| s.seekable) {
            reread(src, rejects.iter_mut().chain(held.iter_mut()).chain(partial.iter_mut()).chain(dropped.iter_mut()));
        }
        tally.partial = partial.len() as u64;
        if let Some(w) = self.partial.as_mut() {
            for p in &partial {
                w.write(p).map_err(Written::Rejects)?;
            }
            w.flush().map_err(Written::Rejects)?;
            tally.partial_len = w.len();
        }
        tally.rejected = rejects.len() as u64;
        tally.uncertain = held.len() as u64;
        // In row order with the rejects: a row is either rejected or sent.
        rejects.extend(dropped);
        rejects.sort_by_key(|r| r.pos.record);
        for r in &rejects {
            self.rejects.write(r).map_err(Written::Rejects)?;
        }
        for h in &held {
            self.uncertain.write(h).map_err(Written::Uncertain)?;
        }
        // The files reach the OS before the ledger says how long they are.
        self.rejects.flush().map_err(Written::Rejects)?;
        self.uncertain.flush().map_err(Written::Uncertain)?;
        tally.rejects_lens = self.rejects.lens();
        tally.uncertain_lens = self.uncertain.lens();
        tally.rejects_len = tally.rejects_lens.first().copied().unwrap_or(0);
        tally.uncertain_len = tally.uncertain_lens.first().copied().unwrap_or(0);
        let all_held = tally.uncertain > 0 && tally.sent == 0 && tally.rejected == 0;
        if all_held {
            record.state = BatchState::Held;
        }
        record.tally = tally;
        // The indexes first: a record that says "acknowledged" is never
        // recovered without them. The events share the ledger's sled log
        // (flushed below); the change index's pairs reach the OS before the
        // record is even written, since sled may flush the record on its own
        // at any time. If either write fails (a full disk), the batch has no
        // record: a resume treats it as in flight, never as settled with its
        // acknowledgements forgotten.
        if let Some(ev) = &self.events {
            ev.record_acked(&acked_events).map_err(Written::State)?;
            ev.record_held(&held_events).map_err(Written::State)?;
        }
        if let Some(ci) = &self.change
            && !acked_pairs.is_empty()
        {
            ci.record_acked(&acked_pairs).map_err(Written::State)?;
        }
        store.record_batch(run_id, &record).map_err(Written::State)?;
        if durable {
            store.flush().map_err(Written::State)?;
        }
        record.count_into(&mut self.counters);
        Ok(())
    }
}

/// The change-index pair of an operation Batch may hold only in part (or not
/// at all): its ID with an operation hash no row has, so that the ID's next
/// row is sent even if it equals the last one acknowledged whole.
fn unknown((id, _): (u64, u64)) -> (u64, u64) {
    (id, state::UNKNOWN_OP)
}

/// Fill in the source rows that were dropped while the batch was in flight,
/// reading each again at its byte offset. A row that cannot be read back keeps
/// an empty record; its line and reason still reach the report.
fn reread<'r>(src: &Source, rows: impl Iterator<Item = &'r mut Reject>) {
    use std::io::{Seek, SeekFrom};
    let mut file = None;
    for r in rows.filter(|r| r.record.is_empty()) {
        if file.is_none() {
            file = std::fs::File::open(&src.path).ok();
        }
        let Some(f) = file.as_mut() else { return };
        if f.seek(SeekFrom::Start(r.pos.byte)).is_err() {
            continue;
        }
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(src.delimiter)
            .from_reader(std::io::BufReader::new(&mut *f));
        let mut rec = csv::ByteRecord::new();
        if rdr.read_byte_record(&mut rec).unwrap_or(false) {
            r.record = rec;
        }
    }
}
