//! Many rows at once, in parallel on rayon, results in input order: rows
//! on their own (`RawRow`) or a reader's [`Block`]. A block's rows are mapped
//! where they lie; only what leaves the block (an operation's or a reject's
//! source row) is copied out. `check_block` is `validate`'s path: the same
//! mapping, its JSON written nowhere, only the subscriptions kept.

use super::json::{Discard, Subscriptions};
use super::{Mapped, Op, Reject, Transformer};
use batchport_source::{Block, BlockRow, Cells, RawRow};
use rayon::prelude::*;

/// A valid row as `validate` sees it: the subscriptions it would send, the
/// values it would leave out (column, reason), then its rejects-file line,
/// and the cells its email and SMS consent were read from (trimmed; `None`
/// where the job maps no such column).
pub type Checked = (Subscriptions, Vec<(String, String)>, Option<Reject>, [Option<String>; 2]);

/// What `changed_only` asks of the change index, owned here so that the
/// transform stays pure (the engine implements it over the state store's
/// lookup). IDs and operations are the pair's hashes (`change_pair`).
pub trait ChangeLookup: Sync {
    /// The index's read error.
    type Error: Send;
    /// Whether the base holds exactly operation `op` for ID `id`.
    fn is_unchanged(&self, id: u64, op: u64) -> Result<bool, Self::Error>;
    /// Whether the base is empty (a first run: nothing is unchanged).
    fn is_empty(&self) -> bool;
    /// Whether a row of ID `id` was already sent in this run.
    fn was_sent(&self, id: u64) -> bool;
    /// Record that a row of ID `id` is sent in this run.
    fn mark_sent(&self, id: u64);
}

/// A minimum task length amortises rayon's per-task cost over many small rows.
const MIN_LEN: usize = 256;

impl Transformer {
    /// `map_chunk` with `changed_only`: rows whose operation Batch already has
    /// (by `index`) are not transformed; the others carry their pair.
    pub fn map_chunk_changed<L: ChangeLookup>(&self, rows: Vec<RawRow>, index: &L) -> Result<Vec<Mapped>, L::Error> {
        let looked: Vec<_> = rows
            .par_iter()
            .with_min_len(MIN_LEN)
            .map_init(|| Vec::with_capacity(256), |buf, r| self.look_up(&r.record, r.flaw.is_some(), buf, index))
            .collect();
        let decided = decide(looked, index)?;
        Ok(rows
            .into_par_iter()
            .zip(decided)
            .with_min_len(MIN_LEN)
            .map(|(r, d)| match d {
                None => Mapped::Unchanged(r.pos),
                Some(pair) => with_pair(self.map_row(r), pair),
            })
            .collect())
    }

    /// Map a chunk of rows in parallel; the result is in input order.
    pub fn map_chunk(&self, rows: Vec<RawRow>) -> Vec<Result<Op, Reject>> {
        rows.into_par_iter().with_min_len(MIN_LEN).map(|r| self.map_row(r)).collect()
    }

    /// `map_chunk` over a block's rows.
    pub fn map_block(&self, block: &Block) -> Vec<Mapped> {
        (0..block.len())
            .into_par_iter()
            .with_min_len(MIN_LEN)
            .map(|i| self.map_block_row(block.row(i)).into())
            .collect()
    }

    /// `map_chunk_changed` over a block's rows.
    pub fn map_block_changed<L: ChangeLookup>(&self, block: &Block, index: &L) -> Result<Vec<Mapped>, L::Error> {
        let looked: Vec<_> = (0..block.len())
            .into_par_iter()
            .with_min_len(MIN_LEN)
            .map_init(
                || Vec::with_capacity(256),
                |buf, i| {
                    let row = block.row(i);
                    self.look_up(&row.cells, row.flaw.is_some(), buf, index)
                },
            )
            .collect();
        let decided = decide(looked, index)?;
        Ok((0..block.len())
            .into_par_iter()
            .zip(decided)
            .with_min_len(MIN_LEN)
            .map(|(i, d)| {
                let row = block.row(i);
                match d {
                    None => Mapped::Unchanged(row.pos),
                    Some(pair) => with_pair(self.map_block_row(row), pair),
                }
            })
            .collect())
    }

    /// Check every row of a block as `map_block` would map it, without
    /// writing the operations (the same code, writing to `Discard`):
    /// a valid row gives the email and SMS subscription values it would send
    /// (`None` inside: `null`), a bad one its reject.
    pub fn check_block(&self, block: &Block) -> Vec<Result<Checked, Reject>> {
        (0..block.len())
            .into_par_iter()
            .with_min_len(MIN_LEN)
            .map(|i| {
                let row = block.row(i);
                if let Some(flaw) = row.flaw {
                    return Err(reject(row, String::new(), flaw.to_string()));
                }
                let (mut out, mut dropped) = (Discard::default(), Vec::new());
                match self.write_fields(&row.cells, &mut out, &mut dropped) {
                    Ok(_) if dropped.is_empty() => Ok((out.0, dropped, None, self.consent_cells(&row.cells))),
                    Ok(_) => {
                        let line = super::dropped_line(row.pos, row.cells.to_byte_record(), &dropped);
                        Ok((out.0, dropped, Some(line), self.consent_cells(&row.cells)))
                    }
                    Err((column, reason)) => Err(reject(row, column, reason)),
                }
            })
            .collect()
    }

    /// The cells the row's email and SMS consent are read from (the opt-in
    /// column each maps, trimmed), for `validate`'s table per source value.
    fn consent_cells(&self, cells: &impl Cells) -> [Option<String>; 2] {
        let mut out = [None, None];
        for n in &self.native {
            let slot = match n.kind {
                crate::job::NativeKind::EmailMarketing(_) => 0,
                crate::job::NativeKind::SmsMarketing(_) => 1,
                _ => continue,
            };
            if let (None, Some(f)) = (&out[slot], &n.field) {
                out[slot] = Some(String::from_utf8_lossy(cells.field(f.index)).trim().to_string());
            }
        }
        out
    }

    /// `changed_only`: the row's change pair (none for a row the reader
    /// flagged: it is rejected, never skipped) and whether `index`'s base
    /// holds exactly it.
    fn look_up<L: ChangeLookup>(
        &self,
        cells: &impl Cells,
        flawed: bool,
        buf: &mut Vec<u8>,
        index: &L,
    ) -> Result<Looked, L::Error> {
        let pair = if flawed { None } else { self.change_pair(cells, buf) };
        let same = match pair {
            Some((id, op)) => index.is_unchanged(id, op)?,
            None => false,
        };
        Ok((pair, same))
    }

    /// `map_row` for a row of a block.
    pub fn map_block_row(&self, row: BlockRow<'_>) -> Result<Op, Reject> {
        if let Some(flaw) = row.flaw {
            // The reader saw what the fields alone do not show.
            return Err(reject(row, String::new(), flaw.to_string()));
        }
        match self.map_fields(&row.cells) {
            Ok((key, attrs, event, dropped)) => {
                let record = if self.keep_records { row.cells.to_byte_record() } else { csv::ByteRecord::new() };
                let hash = self.row_hash(&row.cells);
                Ok(Op { key, pos: row.pos, attrs, event, record, change: None, dropped, row: hash })
            }
            Err((column, reason)) => Err(reject(row, column, reason)),
        }
    }
}

/// A row's change pair, and whether the index's base holds it.
type Looked = (Option<(u64, u64)>, bool);
/// A row's fate: `None` unchanged, else sent with its change pair (if any).
type Decided = Option<Option<(u64, u64)>>;

/// A read-once stream's rows, in input order: `None` for a row Batch already
/// has (its pair is the base's and no earlier row of its ID was sent in this
/// run), else the row's pair. A row that is sent marks its ID, so that a
/// later row of the same ID, even one equal to the base, follows it: the
/// last row of an ID always ends in Batch. (A file read twice decides by each
/// ID's last row instead: `state::change::scan`.)
fn decide<L: ChangeLookup>(looked: Vec<Result<Looked, L::Error>>, index: &L) -> Result<Vec<Decided>, L::Error> {
    // With an empty base nothing is unchanged: no ID needs marking.
    let marking = !index.is_empty();
    looked
        .into_iter()
        .map(|l| {
            let (pair, same) = l?;
            match pair {
                Some((id, _)) if same && !index.was_sent(id) => Ok(None),
                Some((id, _)) => {
                    if marking {
                        index.mark_sent(id);
                    }
                    Ok(Some(pair))
                }
                None => Ok(Some(None)),
            }
        })
        .collect()
}

/// A changed row's mapping, the operation carrying its change pair.
fn with_pair(mapped: Result<Op, Reject>, pair: Option<(u64, u64)>) -> Mapped {
    match mapped {
        Ok(mut op) => {
            op.change = pair;
            Mapped::Op(op)
        }
        Err(rej) => Mapped::Reject(rej),
    }
}

fn reject(row: BlockRow<'_>, column: String, reason: String) -> Reject {
    Reject { pos: row.pos, column, reason, record: row.cells.to_byte_record() }
}
