//! Reading and transforming overlap: a reader thread parses CSV chunks while
//! rayon maps the previous one. The bounded channel between them keeps memory
//! flat whatever the file size.

use crate::source::{CsvSource, Position, RawRow, SourceError};
use crate::state::Lookup;
use crate::transform::{Mapped, Transformer};
use std::sync::mpsc::sync_channel;

/// Rows per chunk: large enough to amortise the hand-off, small enough that a
/// chunk in flight is a few megabytes.
pub const CHUNK_ROWS: usize = 2_048;

pub struct Chunk {
    /// In input order.
    pub results: Vec<Mapped>,
    /// Position of the last row of the chunk.
    pub last: Position,
    /// Bytes of the file consumed so far, for progress.
    pub bytes_read: u64,
}

/// Feed every chunk of `src`, mapped by `t`, to `f`, in order, until the end or
/// until `f` returns false.
pub fn for_each_chunk(src: CsvSource, t: &Transformer, f: impl FnMut(Chunk) -> bool) -> Result<(), SourceError> {
    chunks(src, |rows| Ok(t.map_chunk(rows).into_iter().map(Mapped::from).collect()), f)
}

/// `for_each_chunk` with `changed_only`: rows `index` knows unchanged come as
/// `Mapped::Unchanged`, untransformed.
pub fn for_each_chunk_changed(
    src: CsvSource,
    t: &Transformer,
    index: &Lookup,
    f: impl FnMut(Chunk) -> bool,
) -> anyhow::Result<()> {
    chunks(src, |rows| Ok(t.map_chunk_changed(rows, index)?), f)
}

fn chunks<E: From<SourceError>>(
    mut src: CsvSource,
    map: impl Fn(Vec<RawRow>) -> Result<Vec<Mapped>, E>,
    mut f: impl FnMut(Chunk) -> bool,
) -> Result<(), E> {
    let (tx, rx) = sync_channel::<Result<(Vec<RawRow>, u64), SourceError>>(2);
    std::thread::scope(|s| {
        s.spawn(move || {
            loop {
                let mut rows = Vec::with_capacity(CHUNK_ROWS);
                match src.read_chunk(CHUNK_ROWS, &mut rows) {
                    Ok(more) => {
                        let done = !more;
                        if !rows.is_empty() && tx.send(Ok((rows, src.bytes_read()))).is_err() {
                            return;
                        }
                        if done {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        // Owned here, so that stopping early drops it before the scope joins
        // the reader, whose blocked send then fails instead of waiting forever.
        let rx = rx;
        for msg in rx.iter() {
            let (rows, bytes_read) = msg?;
            let Some(last) = rows.last().map(|r| r.pos) else { continue };
            let results = map(rows)?;
            if !f(Chunk { results, last, bytes_read }) {
                break;
            }
        }
        Ok(())
    })
}
