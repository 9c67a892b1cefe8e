//! Many rows at once, in parallel on rayon, results in input order: rows
//! on their own (`RawRow`) or a reader's [`Block`]. A block's rows are mapped
//! where they lie; only what leaves the block (an operation's or a reject's
//! source row) is copied out. `check_block` is `validate`'s path: the same
//! mapping, its JSON written nowhere, only the subscriptions kept.

use super::{Mapped, Op, Reject, Transformer, json};
use crate::source::{Block, BlockRow, Cells, RawRow};
use rayon::prelude::*;

/// What a valid row would send of the email and SMS subscriptions: `None`
/// where it sends no such member, `Some(None)` where it sends `null`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Subscriptions {
    pub email: Option<Option<&'static str>>,
    pub sms: Option<Option<&'static str>>,
}

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
    /// writing the operations (the same code, writing to [`json::Discard`]):
    /// a valid row gives the email and SMS subscription values it would send
    /// (`None` inside: `null`), a bad one its reject.
    pub fn check_block(&self, block: &Block) -> Vec<Result<Subscriptions, Reject>> {
        (0..block.len())
            .into_par_iter()
            .with_min_len(MIN_LEN)
            .map(|i| {
                let row = block.row(i);
                if let Some(flaw) = row.flaw {
                    return Err(reject(row, String::new(), flaw.to_string()));
                }
                let mut out = json::Discard::default();
                match self.write_fields(&row.cells, &mut out) {
                    Ok(_) => Ok(Subscriptions { email: out.email, sms: out.sms }),
                    Err((column, reason)) => Err(reject(row, column, reason)),
                }
            })
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
