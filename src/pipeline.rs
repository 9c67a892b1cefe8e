//! Reading, transforming and consuming overlap: a reader thread parses CSV
//! into blocks, a mapper thread has rayon map one block while the reader fills
//! the next, and the caller consumes the results of the block before. Bounded
//! channels between the stages keep memory flat whatever the file size, and
//! the blocks go back to the reader once mapped, so their buffers are reused.

use crate::source::{Block, CsvSource, Position, SourceError};
use crate::state::Lookup;
use crate::transform::{Mapped, Reject, Transformer};
use std::sync::mpsc::{channel, sync_channel};

/// Rows per chunk: large enough to amortise the hand-off, small enough that a
/// chunk in flight is a few megabytes.
pub const CHUNK_ROWS: usize = 2_048;

pub struct Chunk<T = Mapped> {
    /// In input order.
    pub results: Vec<T>,
    /// Position of the last row of the chunk.
    pub last: Position,
    /// Bytes of the file consumed so far, for progress.
    pub bytes_read: u64,
}

/// Feed every chunk of `src`, mapped by `t`, to `f`, in order, until the end or
/// until `f` returns false.
pub fn for_each_chunk(src: CsvSource, t: &Transformer, f: impl FnMut(Chunk) -> bool) -> Result<(), SourceError> {
    blocks(src, |b| Ok(t.map_block(b)), f)
}

/// `for_each_chunk` with `changed_only`: rows `index` knows unchanged come as
/// `Mapped::Unchanged`, untransformed.
pub fn for_each_chunk_changed(
    src: CsvSource,
    t: &Transformer,
    index: &Lookup,
    f: impl FnMut(Chunk) -> bool,
) -> anyhow::Result<()> {
    blocks(src, |b| Ok(t.map_block_changed(b, index)?), f)
}

/// `validate`'s pass: every row checked as `for_each_chunk` would map it,
/// without keeping the operations; a valid row gives what `inspect` makes of
/// its attributes object (see [`Transformer::check_block`]).
pub fn for_each_checked<T: Send>(
    src: CsvSource,
    t: &Transformer,
    inspect: impl Fn(&[u8]) -> T + Sync,
    f: impl FnMut(Chunk<Result<T, Reject>>) -> bool,
) -> Result<(), SourceError> {
    blocks(src, |b| Ok(t.check_block(b, &inspect)), f)
}

fn blocks<T: Send, E: From<SourceError> + Send>(
    mut src: CsvSource,
    map: impl Fn(&Block) -> Result<Vec<T>, E> + Sync,
    mut f: impl FnMut(Chunk<T>) -> bool,
) -> Result<(), E> {
    let (raw_tx, raw_rx) = sync_channel::<Result<Block, SourceError>>(2);
    let (done_tx, done_rx) = sync_channel::<Result<Chunk<T>, E>>(2);
    // Mapped blocks return to the reader (never more than are in flight).
    let (spare_tx, spare_rx) = channel::<Block>();
    std::thread::scope(|s| {
        s.spawn(move || {
            loop {
                let mut block = spare_rx.try_recv().unwrap_or_default();
                block.clear();
                match src.read_block(CHUNK_ROWS, &mut block) {
                    Ok(more) => {
                        if !block.is_empty() && raw_tx.send(Ok(block)).is_err() {
                            return;
                        }
                        if !more {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = raw_tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        let map = &map;
        s.spawn(move || {
            for msg in raw_rx.iter() {
                let mapped = msg.map_err(E::from).and_then(|block| {
                    let results = map(&block)?;
                    let last = block.last_pos().unwrap_or_default();
                    let bytes_read = block.bytes_read;
                    let _ = spare_tx.send(block);
                    Ok(Chunk { results, last, bytes_read })
                });
                let failed = mapped.is_err();
                if done_tx.send(mapped).is_err() || failed {
                    return;
                }
            }
        });
        // Owned here, so that stopping early drops it before the scope joins
        // the other stages, whose blocked sends then fail instead of waiting
        // forever (the mapper's first, then, its receiver dropped, the reader's).
        let done_rx = done_rx;
        for msg in done_rx.iter() {
            if !f(msg?) {
                break;
            }
        }
        Ok(())
    })
}
