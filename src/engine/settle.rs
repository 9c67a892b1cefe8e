//! Settling a batch once its fate is known: rejects and held rows to their
//! files (in row order), the ledger record, the counters and the change index.
//! One batch at a time, in the order the engine's task settles them (on the
//! blocking pool), so files are written in settle order and each ledger
//! record can say how long they were.

use super::Written;
use crate::dispatch::batch::Batch;
use crate::dispatch::send::{Fate, SentOp};
use crate::report::RejectsWriter;
use crate::state::{self, BatchState, ChangeIndex, Store, Tally};
use crate::transform::Reject;

/// Where a file's rows can be read again, for the rows the API refuses.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: std::path::PathBuf,
    pub delimiter: u8,
    pub seekable: bool,
}

/// What an import attempt has settled so far, and where it writes it.
pub struct Accounts {
    /// Per input file, once it has been opened in this attempt.
    pub sources: Vec<Source>,
    pub rejects: RejectsWriter,
    pub uncertain: RejectsWriter,
    /// Rows applied but for a refused attribute (partial errors): apart from
    /// the rejects, so that re-importing the rejects never resends them.
    pub partial: Option<RejectsWriter>,
    pub counters: state::Counters,
    pub change: Option<ChangeIndex>,
}

impl Accounts {
    pub fn new(rejects: RejectsWriter, uncertain: RejectsWriter, counters: state::Counters) -> Self {
        Accounts { sources: Vec::new(), rejects, uncertain, partial: None, counters, change: None }
    }

    pub fn set_source(&mut self, file: usize, s: Source) {
        while self.sources.len() <= file {
            self.sources.push(s.clone());
        }
        self.sources[file] = s;
    }

    /// Settle `batch`, each operation's fate known (an empty batch sent nothing).
    /// `durable`: flush the record before returning. An acknowledged batch must
    /// never be sent again (invariant 2), so a batch that was sent is durable
    /// before the next is planned; one that sent nothing can be redone.
    pub fn settle(&mut self, store: &Store, run_id: &str, batch: Batch<SentOp>, durable: bool) -> Result<(), Written> {
        let mut tally = Tally { skipped: batch.skipped_acked, unchanged: batch.unchanged, ..Tally::default() };
        let mut record = batch.record(BatchState::Acked, Tally::default());
        let mut rejects: Vec<Reject> = batch.rejects;
        let mut held: Vec<Reject> = Vec::new();
        let mut partial: Vec<Reject> = Vec::new();
        let mut acked_pairs = Vec::new();
        for op in batch.ops {
            match op.fate {
                Fate::Acked => {
                    tally.sent += 1;
                    acked_pairs.extend(op.change);
                }
                Fate::Rejected { column, reason } => {
                    rejects.push(Reject { pos: op.pos, column, reason, record: op.record })
                }
                // Acknowledged (never resent), but not whole in the change index.
                Fate::Partial { column, reason } => {
                    tally.sent += 1;
                    partial.push(Reject { pos: op.pos, column, reason, record: op.record });
                }
                Fate::Held { reason } => {
                    held.push(Reject { pos: op.pos, column: String::new(), reason, record: op.record })
                }
            }
        }
        for op in batch.held {
            held.push(Reject {
                pos: op.pos,
                column: String::new(),
                reason: "in flight when an earlier attempt of this run stopped: outcome unknown, held, not resent"
                    .into(),
                record: op.record,
            });
        }
        rejects.sort_by_key(|r| r.pos.record);
        held.sort_by_key(|r| r.pos.record);
        if let Some(src) = self.sources.get(batch.file).filter(|s| s.seekable) {
            reread(src, rejects.iter_mut().chain(held.iter_mut()).chain(partial.iter_mut()));
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
        for r in &rejects {
            self.rejects.write(r).map_err(Written::Rejects)?;
        }
        for h in &held {
            self.uncertain.write(h).map_err(Written::Uncertain)?;
        }
        // The files reach the OS before the ledger says how long they are.
        self.rejects.flush().map_err(Written::Rejects)?;
        self.uncertain.flush().map_err(Written::Uncertain)?;
        tally.rejects_len = self.rejects.len();
        tally.uncertain_len = self.uncertain.len();
        let all_held = tally.uncertain > 0 && tally.sent == 0 && tally.rejected == 0;
        if all_held {
            record.state = BatchState::Held;
        }
        record.tally = tally;
        store.record_batch(run_id, &record).map_err(Written::State)?;
        if let Some(ci) = &self.change
            && !acked_pairs.is_empty()
        {
            ci.record_acked(&acked_pairs).map_err(Written::State)?;
        }
        if durable {
            store.flush().map_err(Written::State)?;
        }
        record.count_into(&mut self.counters);
        Ok(())
    }
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
