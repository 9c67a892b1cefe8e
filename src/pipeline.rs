//! Reading and transforming overlap: a reader thread parses CSV chunks while
//! rayon maps the previous one. The bounded channel between them keeps memory
//! flat whatever the file size.
//!
//! With `changed_only`, a file that can be read twice is first scanned
//! (`scan_changes`: every row checked against the index at once, see
//! `state::change::scan`), then read again (`for_each_chunk_delta`), only the
//! rows that changed being transformed.

use crate::source::{CsvSource, Position, RawRow, SourceError};
use crate::state::{Delta, Lookup};
use crate::transform::{Mapped, Transformer};
use rayon::prelude::*;
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
    chunks(src, |rows| Ok(t.map_chunk(rows).into_iter().map(Mapped::from).collect()), chunk_to(f))
}

fn chunk_to(mut f: impl FnMut(Chunk) -> bool) -> impl FnMut(Vec<Mapped>, Position, u64) -> bool {
    move |results, last, bytes_read| f(Chunk { results, last, bytes_read })
}

/// `for_each_chunk` with `changed_only`: rows `index` knows unchanged come as
/// `Mapped::Unchanged`, untransformed.
pub fn for_each_chunk_changed(
    src: CsvSource,
    t: &Transformer,
    index: &Lookup,
    f: impl FnMut(Chunk) -> bool,
) -> anyhow::Result<()> {
    chunks(src, |rows| Ok(t.map_chunk_changed(rows, index)?), chunk_to(f))
}

/// The first read of a `changed_only` run over a file that can be read
/// twice: every row's change pair, joined with `index` at once. `None` when
/// the index is empty or `go_on` turned false. A read error ends the scan
/// early: the rows after it are simply not covered (the second read meets
/// the same error and reports it).
pub fn scan_changes(
    src: CsvSource,
    t: &Transformer,
    index: &Lookup,
    go_on: impl Fn() -> bool,
) -> anyhow::Result<Option<Delta>> {
    let Some(mut scan) = index.scan()? else { return Ok(None) };
    let pairs = |rows: Vec<RawRow>| -> Result<Vec<(u64, Option<(u64, u64)>)>, SourceError> {
        Ok(rows
            .par_iter()
            .with_min_len(256)
            .map_init(|| Vec::with_capacity(256), |buf, r| (r.pos.record, pair_of(t, r, buf)))
            .collect())
    };
    let mut failed = None;
    let read = chunks(src, pairs, |rows, _, _| {
        for &(record, pair) in &rows {
            if let Err(e) = scan.push(record, pair) {
                failed = Some(e);
                return false;
            }
        }
        go_on()
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    if !go_on() {
        return Ok(None);
    }
    if let Err(e) = read {
        tracing::debug!("the change scan stopped at a read error, met again by the import: {e}");
    }
    Ok(Some(scan.finish()?))
}

/// A row's change pair, unless the reader flagged it (then it is rejected,
/// never skipped as unchanged).
fn pair_of(t: &Transformer, r: &RawRow, buf: &mut Vec<u8>) -> Option<(u64, u64)> {
    if r.flaw.is_none() { t.change_pair(&r.record, buf) } else { None }
}

/// The second read of a scanned file: rows `delta` found unchanged come as
/// `Mapped::Unchanged`, untransformed, if their window reads as in the scan.
pub fn for_each_chunk_delta(
    src: CsvSource,
    t: &Transformer,
    delta: &Delta,
    f: impl FnMut(Chunk) -> bool,
) -> Result<(), SourceError> {
    chunks(src, |rows| Ok::<_, SourceError>(map_chunk_delta(t, rows, delta)), chunk_to(f))
}

fn map_chunk_delta(t: &Transformer, rows: Vec<RawRow>, delta: &Delta) -> Vec<Mapped> {
    let pairs: Vec<Option<(u64, u64)>> =
        rows.par_iter().with_min_len(256).map_init(|| Vec::with_capacity(256), |buf, r| pair_of(t, r, buf)).collect();
    // The windows this chunk holds, with this read's sums: trusted if equal.
    let mut windows: Vec<(usize, u64, u32)> = Vec::new();
    for (r, pair) in rows.iter().zip(&pairs) {
        let Some(w) = delta.window_of(r.pos.record) else { continue };
        if windows.last().is_none_or(|l| l.0 != w) {
            windows.push((w, 0, 0));
        }
        let last = windows.last_mut().expect("pushed");
        last.1 = last.1.wrapping_add(crate::state::change_row_sum(r.pos.record, *pair));
        last.2 += 1;
    }
    let trusted: Vec<usize> =
        windows.iter().filter(|(w, sum, n)| delta.window_matches(*w, *sum, *n)).map(|(w, ..)| *w).collect();
    if trusted.len() < windows.len() {
        tracing::warn!("rows read differently from the change scan (the file changed?): they are sent");
    }
    rows.into_par_iter()
        .zip(pairs)
        .with_min_len(256)
        .map(|(r, pair)| {
            let known = delta.window_of(r.pos.record).is_some_and(|w| trusted.contains(&w));
            if known && pair.is_some() && delta.is_unchanged(r.pos.record) {
                return Mapped::Unchanged(r.pos);
            }
            match t.map_row(r) {
                Ok(mut op) => {
                    op.change = pair;
                    Mapped::Op(op)
                }
                Err(rej) => Mapped::Reject(rej),
            }
        })
        .collect()
}

/// The reader thread and the mapping loop: `map` each chunk read, then `f`
/// the result with the chunk's last position and the bytes read so far.
fn chunks<T, E: From<SourceError>>(
    mut src: CsvSource,
    map: impl Fn(Vec<RawRow>) -> Result<T, E>,
    mut f: impl FnMut(T, Position, u64) -> bool,
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
            if !f(results, last, bytes_read) {
                break;
            }
        }
        Ok(())
    })
}
