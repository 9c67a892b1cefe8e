//! Many rows at once, in parallel on rayon, results in input order: rows
//! on their own (`RawRow`) or a reader's [`Block`]. A block's rows are mapped
//! where they lie; only what leaves the block (an operation's or a reject's
//! source row) is copied out. `check_block` is `validate`'s path: nothing per
//! row outlives the mapping, so the attributes are written into one reused
//! buffer and only what the caller inspects of them is kept.

use super::{Mapped, Op, Reject, Transformer};
use crate::source::{Block, BlockRow, Cells, RawRow};
use rayon::prelude::*;

/// A minimum task length amortises rayon's per-task cost over many small rows.
const MIN_LEN: usize = 256;

impl Transformer {
    /// `map_chunk` with `changed_only`: rows whose operation Batch already has
    /// (by `index`) are not transformed; the others carry their pair.
    pub fn map_chunk_changed(
        &self,
        rows: Vec<RawRow>,
        index: &crate::state::Lookup,
    ) -> Result<Vec<Mapped>, crate::state::StateError> {
        rows.into_par_iter()
            .with_min_len(MIN_LEN)
            .map_init(
                || Vec::with_capacity(256),
                |buf, r| {
                    // A row the reader flagged is rejected, never skipped as unchanged.
                    let pair = if r.flaw.is_none() { self.change_pair(&r.record, buf) } else { None };
                    if let Some((id, op)) = pair
                        && index.is_unchanged(id, op)?
                    {
                        return Ok(Mapped::Unchanged(r.pos));
                    }
                    Ok(match self.map_row(r) {
                        Ok(mut op) => {
                            op.change = pair;
                            Mapped::Op(op)
                        }
                        Err(rej) => Mapped::Reject(rej),
                    })
                },
            )
            .collect()
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
    pub fn map_block_changed(
        &self,
        block: &Block,
        index: &crate::state::Lookup,
    ) -> Result<Vec<Mapped>, crate::state::StateError> {
        (0..block.len())
            .into_par_iter()
            .with_min_len(MIN_LEN)
            .map_init(
                || Vec::with_capacity(256),
                |buf, i| {
                    let row = block.row(i);
                    // A row the reader flagged is rejected, never skipped as unchanged.
                    let pair = if row.flaw.is_none() { self.change_pair(&row.cells, buf) } else { None };
                    if let Some((id, op)) = pair
                        && index.is_unchanged(id, op)?
                    {
                        return Ok(Mapped::Unchanged(row.pos));
                    }
                    Ok(match self.map_block_row(row) {
                        Ok(mut op) => {
                            op.change = pair;
                            Mapped::Op(op)
                        }
                        Err(rej) => Mapped::Reject(rej),
                    })
                },
            )
            .collect()
    }

    /// Check every row of a block as `map_block` would map it, without
    /// keeping the operations: a valid row gives what `inspect` makes of its
    /// attributes object, a bad one its reject.
    pub fn check_block<T: Send>(&self, block: &Block, inspect: impl Fn(&[u8]) -> T + Sync) -> Vec<Result<T, Reject>> {
        (0..block.len())
            .into_par_iter()
            .with_min_len(MIN_LEN)
            .map_init(
                || Vec::with_capacity(1024),
                |attrs, i| {
                    let row = block.row(i);
                    if let Some(flaw) = row.flaw {
                        return Err(reject(row, String::new(), flaw.to_string()));
                    }
                    attrs.clear();
                    match self.write_fields(&row.cells, attrs) {
                        Ok(_) => Ok(inspect(attrs)),
                        Err((column, reason)) => Err(reject(row, column, reason)),
                    }
                },
            )
            .collect()
    }

    /// `map_row` for a row of a block.
    pub fn map_block_row(&self, row: BlockRow<'_>) -> Result<Op, Reject> {
        if let Some(flaw) = row.flaw {
            // The reader saw what the fields alone do not show.
            return Err(reject(row, String::new(), flaw.to_string()));
        }
        match self.map_fields(&row.cells) {
            Ok((key, attrs, event)) => {
                let record = if self.keep_records { row.cells.to_byte_record() } else { csv::ByteRecord::new() };
                Ok(Op { key, pos: row.pos, attrs, event, record, change: None })
            }
            Err((column, reason)) => Err(reject(row, column, reason)),
        }
    }
}

fn reject(row: BlockRow<'_>, column: String, reason: String) -> Reject {
    Reject { pos: row.pos, column, reason, record: row.cells.to_byte_record() }
}
