//! Reading, transforming and consuming overlap: a reader thread parses CSV
//! into blocks, a mapper thread has rayon map one block while the reader fills
//! the next, and the caller consumes the results of the block before. Bounded
//! channels between the stages keep memory flat whatever the file size, and
//! the blocks go back to the reader once mapped, so their buffers are reused.
//!
//! With `changed_only`, a file that can be read twice is first scanned
//! (`scan_changes`: every row checked against the index at once, see
//! `state::change::scan`), then read again (`for_each_chunk_delta`), only the
//! rows that changed being transformed.

use batchport_source::{Block, BlockRow, CsvSource, Position, SourceError};
use batchport_state::{Delta, Lookup, Skip};
use batchport_transform::{ChangeLookup, Checked, Mapped, Reject, Transformer};
use rayon::prelude::*;
use std::sync::mpsc::{channel, sync_channel};

pub use batchport_source::CHUNK_ROWS;

/// The results of one block of rows, handed to the consumer in file order.
pub struct Chunk<T = Mapped> {
    /// In input order.
    pub results: Vec<T>,
    /// Position of the last row of the chunk.
    pub last: Position,
    /// Bytes of the file consumed so far, for progress.
    pub(crate) bytes_read: u64,
}

/// Feed every chunk of `src`, mapped by `t`, to `f`, in order, until the end or
/// until `f` returns false.
pub fn for_each_chunk(src: CsvSource, t: &Transformer, f: impl FnMut(Chunk) -> bool) -> Result<(), SourceError> {
    blocks(src, |b| Ok(t.map_block(b)), f)
}

/// `for_each_chunk` with `changed_only`: rows `index` knows unchanged come as
/// `Mapped::Unchanged`, untransformed.
pub(crate) fn for_each_chunk_changed(
    src: CsvSource,
    t: &Transformer,
    index: &Lookup,
    f: impl FnMut(Chunk) -> bool,
) -> anyhow::Result<()> {
    blocks(src, |b| Ok(t.map_block_changed(b, &Changes(index))?), f)
}

/// The state store's lookup as the transform asks it (the trait is the
/// transform's, the lookup the store's: they meet here, above both).
struct Changes<'a>(&'a Lookup);

impl ChangeLookup for Changes<'_> {
    type Error = batchport_state::StateError;

    fn is_unchanged(&self, id: u64, op: u64) -> Result<bool, Self::Error> {
        self.0.is_unchanged(id, op)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn was_sent(&self, id: u64) -> bool {
        self.0.sent().contains(id)
    }

    fn mark_sent(&self, id: u64) {
        self.0.sent().mark(id)
    }
}

/// `validate`'s pass: every row checked as `for_each_chunk` would map it,
/// without writing the operations; a valid row gives the subscriptions it
/// would send (see [`Transformer::check_block`]).
pub fn for_each_checked(
    src: CsvSource,
    t: &Transformer,
    f: impl FnMut(Chunk<Result<Checked, Reject>>) -> bool,
) -> Result<(), SourceError> {
    blocks(src, |b| Ok(t.check_block(b)), f)
}

/// A row's position and change pair (none: never skipped).
type RowPair = (Position, Option<(u64, u64)>);

/// The first read of a `changed_only` run over a file that can be read
/// twice: every row's change pair, joined with `index` at once. `src` reads
/// the whole file, also on a resume (`from`: the first record the second
/// read reads): an ID's rows are decided together, those already settled
/// included. `None` when
/// the index is empty or `go_on` turned false. A read error ends the scan
/// early: the rows after it are simply not covered (the second read meets
/// the same error and reports it).
pub fn scan_changes(
    src: CsvSource,
    t: &Transformer,
    index: &Lookup,
    from: u64,
    go_on: impl Fn() -> bool,
) -> anyhow::Result<Option<Delta>> {
    let Some(mut scan) = index.scan(from)? else { return Ok(None) };
    let pairs = |b: &Block| -> Result<Vec<RowPair>, SourceError> {
        Ok(block_pairs(t, b).into_iter().enumerate().map(|(i, pair)| (b.row(i).pos, pair)).collect())
    };
    let mut failed = None;
    let read = blocks(src, pairs, |chunk| {
        for &(pos, pair) in &chunk.results {
            if let Err(e) = scan.push(pos, pair) {
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
    if let Err(e) = &read {
        tracing::debug!("the change scan stopped at a read error, met again by the import: {e}");
    }
    Ok(Some(scan.finish(read.is_ok())?))
}

/// Every row of `src` through `map`, on the rayon workers, handed to `f`
/// in file order: for passes that need more of a row than its operation
/// (`verify`: its change pair too).
pub(crate) fn for_each_row_mapped<T: Send>(
    src: CsvSource,
    map: impl Fn(BlockRow<'_>, &mut Vec<u8>) -> T + Sync,
    f: impl FnMut(Chunk<T>) -> bool,
) -> Result<(), SourceError> {
    blocks(
        src,
        |b| {
            Ok((0..b.len())
                .into_par_iter()
                .with_min_len(256)
                .map_init(|| Vec::with_capacity(256), |buf, i| map(b.row(i), buf))
                .collect())
        },
        f,
    )
}

/// Every row's change pair, in order, hashed on the rayon workers.
fn block_pairs(t: &Transformer, b: &Block) -> Vec<Option<(u64, u64)>> {
    (0..b.len())
        .into_par_iter()
        .with_min_len(256)
        .map_init(|| Vec::with_capacity(256), |buf, i| pair_of(t, b.row(i), buf))
        .collect()
}

/// A row's change pair, unless the reader flagged it (then it is rejected,
/// never skipped as unchanged).
fn pair_of(t: &Transformer, r: BlockRow<'_>, buf: &mut Vec<u8>) -> Option<(u64, u64)> {
    if r.flaw.is_none() { t.change_pair(&r.cells, buf) } else { None }
}

/// The second read of a scanned file: rows `delta` found unchanged come as
/// `Mapped::Unchanged`, untransformed, if their window reads as in the scan.
///
/// With `seek_past` (a seekable file, nothing of it settled by an earlier
/// attempt), a window of 2,048 rows the scan found all unchanged is not read
/// at all: the reader seeks past it and it comes as one
/// `Mapped::UnchangedRun`. Its rows are then not checked against a second
/// read; a file changed since it was opened is still caught, by the reader's
/// check at its end (size, time, first bytes), which fails the run.
pub fn for_each_chunk_delta(
    src: CsvSource,
    t: &Transformer,
    delta: &Delta,
    seek_past: bool,
    f: impl FnMut(Chunk) -> bool,
) -> Result<(), SourceError> {
    let seek_past = seek_past && src.seekable();
    blocks_skipping(
        src,
        |b| Ok::<_, SourceError>(map_block_delta(t, b, delta)),
        |next| if seek_past { delta.skippable(next) } else { None },
        |w| vec![Mapped::UnchangedRun { first: w.first, last: w.last, rows: w.rows }],
        f,
    )
}

fn map_block_delta(t: &Transformer, b: &Block, delta: &Delta) -> Vec<Mapped> {
    let pairs = block_pairs(t, b);
    // The windows this chunk holds, with this read's sums: trusted if equal.
    let mut windows: Vec<(usize, u64, u32)> = Vec::new();
    for (i, pair) in pairs.iter().enumerate() {
        let record = b.row(i).pos.record;
        let Some(w) = delta.window_of(record) else { continue };
        if windows.last().is_none_or(|l| l.0 != w) {
            windows.push((w, 0, 0));
        }
        let last = windows.last_mut().expect("pushed");
        last.1 = last.1.wrapping_add(batchport_state::change_row_sum(record, *pair));
        last.2 += 1;
    }
    let trusted: Vec<usize> =
        windows.iter().filter(|(w, sum, n)| delta.window_matches(*w, *sum, *n)).map(|(w, ..)| *w).collect();
    if trusted.len() < windows.len() {
        tracing::warn!("rows read differently from the change scan (the file changed?): they are sent");
    }
    (0..b.len())
        .into_par_iter()
        .zip(pairs)
        .with_min_len(256)
        .map(|(i, pair)| {
            let r = b.row(i);
            let known = delta.window_of(r.pos.record).is_some_and(|w| trusted.contains(&w));
            if known && pair.is_some() && delta.is_unchanged(r.pos.record) {
                return Mapped::Unchanged(r.pos);
            }
            if let Some((id, _)) = pair {
                delta.mark_sent(id);
            }
            match t.map_block_row(r) {
                Ok(mut op) => {
                    // A row read differently from the scan records nothing: sent again next time.
                    op.change = if known { delta.change_of(r.pos.record, pair) } else { None };
                    Mapped::Op(op)
                }
                Err(rej) => Mapped::Reject(rej),
            }
        })
        .collect()
}

fn blocks<T: Send, E: From<SourceError> + Send>(
    src: CsvSource,
    map: impl Fn(&Block) -> Result<Vec<T>, E> + Sync,
    f: impl FnMut(Chunk<T>) -> bool,
) -> Result<(), E> {
    blocks_skipping(src, map, |_| None, |_| Vec::new(), f)
}

/// What the reader hands the mapper.
enum Read {
    Rows(Block),
    /// A window the reader sought past, and the bytes read so far.
    Skipped(Skip, u64),
}

/// `blocks`, with windows `skip` names (by the record they start at) sought
/// past unread, `on_skip` standing for their rows.
fn blocks_skipping<T: Send, E: From<SourceError> + Send>(
    mut src: CsvSource,
    map: impl Fn(&Block) -> Result<Vec<T>, E> + Sync,
    skip: impl Fn(u64) -> Option<Skip> + Send,
    on_skip: impl Fn(&Skip) -> Vec<T> + Sync,
    mut f: impl FnMut(Chunk<T>) -> bool,
) -> Result<(), E> {
    let (raw_tx, raw_rx) = sync_channel::<Result<Read, SourceError>>(2);
    let (done_tx, done_rx) = sync_channel::<Result<Chunk<T>, E>>(2);
    // Mapped blocks return to the reader (never more than are in flight).
    let (spare_tx, spare_rx) = channel::<Block>();
    std::thread::scope(|s| {
        s.spawn(move || {
            loop {
                if let Some(window) = skip(src.next_record()) {
                    let sent = match src.skip_to(window.next) {
                        Ok(()) => raw_tx.send(Ok(Read::Skipped(window, src.bytes_read()))),
                        Err(e) => {
                            let _ = raw_tx.send(Err(e));
                            return;
                        }
                    };
                    if sent.is_err() {
                        return;
                    }
                    continue;
                }
                let mut block = spare_rx.try_recv().unwrap_or_default();
                block.clear();
                match src.read_block(CHUNK_ROWS, &mut block) {
                    Ok(more) => {
                        if !block.is_empty() && raw_tx.send(Ok(Read::Rows(block))).is_err() {
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
        let (map, on_skip) = (&map, &on_skip);
        s.spawn(move || {
            for msg in raw_rx.iter() {
                let mapped = msg.map_err(E::from).and_then(|read| match read {
                    Read::Rows(block) => {
                        let results = map(&block)?;
                        let last = block.last_pos().unwrap_or_default();
                        let bytes_read = block.bytes_read;
                        let _ = spare_tx.send(block);
                        Ok(Chunk { results, last, bytes_read })
                    }
                    Read::Skipped(window, bytes_read) => {
                        Ok(Chunk { results: on_skip(&window), last: window.last, bytes_read })
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use batchport_source::RawRow;
    use batchport_transform::Op;

    /// A generated file with a bad row every 7, and its job.
    fn file(rows: u64) -> (tempfile::TempDir, std::path::PathBuf, batchport_transform::job::Job) {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("p.csv");
        let mut out = Vec::new();
        batchport_testdata::write_profiles(&mut out, rows, 3, 7).unwrap();
        std::fs::write(&csv, out).unwrap();
        let toml = dir.path().join("p.toml");
        std::fs::write(&toml, batchport_testdata::profiles_job("p", "p.csv", "base_url = \"emulator\"")).unwrap();
        let job = batchport_transform::job::load(&toml).unwrap();
        (dir, csv, job)
    }

    /// Rows read one record at a time and mapped one by one: the reference.
    fn reference(csv: &std::path::Path, job: &batchport_transform::job::Job) -> Vec<Result<Op, Reject>> {
        let opts = &job.source.as_ref().unwrap().options;
        let mut src = CsvSource::open(csv, opts).unwrap();
        let t = Transformer::bind(job, src.headers(), csv).unwrap();
        let mut rows: Vec<RawRow> = Vec::new();
        while src.read_chunk(1000, &mut rows).unwrap() {}
        rows.into_iter().map(|r| t.map_row(r)).collect()
    }

    #[test]
    fn blocks_map_and_check_as_rows_do() {
        let (_dir, csv, job) = file(5_000);
        let want = reference(&csv, &job);
        assert!(want.iter().any(Result::is_err) && want.iter().any(Result::is_ok));
        let opts = &job.source.as_ref().unwrap().options;
        let src = CsvSource::open(&csv, opts).unwrap();
        let t = Transformer::bind(&job, src.headers(), &csv).unwrap();
        let (mut got, mut lasts) = (Vec::new(), Vec::new());
        for_each_chunk(src, &t, |c| {
            lasts.push(c.last);
            got.extend(c.results);
            true
        })
        .unwrap();
        assert_eq!(got.len(), want.len());
        assert_eq!(lasts.len(), want.len().div_ceil(CHUNK_ROWS), "chunks of CHUNK_ROWS rows");
        for (g, w) in got.iter().zip(&want) {
            match (g, w) {
                (Mapped::Op(g), Ok(w)) => assert_eq!(g, w),
                (Mapped::Reject(g), Err(w)) => {
                    assert_eq!((g.pos, &g.column, &g.reason, &g.record), (w.pos, &w.column, &w.reason, &w.record))
                }
                _ => panic!("{g:?} against {w:?}"),
            }
        }
        let src = CsvSource::open(&csv, opts).unwrap();
        let mut checked = Vec::new();
        for_each_checked(src, &t, |c| {
            checked.extend(c.results);
            true
        })
        .unwrap();
        assert_eq!(checked.len(), want.len());
        for (c, w) in checked.iter().zip(&want) {
            match (c, w) {
                (Ok(subs), Ok(op)) => {
                    use crate::report::forecast::Consent;
                    let sent = (Consent::sent(subs.0.email), Consent::sent(subs.0.sms));
                    assert_eq!(sent, Consent::both(&op.attrs));
                }
                (Err(c), Err(w)) => assert_eq!((c.pos, &c.reason, &c.record), (w.pos, &w.reason, &w.record)),
                _ => panic!("{c:?} against {w:?}"),
            }
        }
    }

    #[test]
    fn stopping_early_ends_every_stage() {
        let (_dir, csv, job) = file(20_000);
        let opts = &job.source.as_ref().unwrap().options;
        let src = CsvSource::open(&csv, opts).unwrap();
        let t = Transformer::bind(&job, src.headers(), &csv).unwrap();
        let mut seen = 0;
        // Returns (the scope joined the reader and the mapper) after one chunk.
        for_each_chunk(src, &t, |_| {
            seen += 1;
            false
        })
        .unwrap();
        assert_eq!(seen, 1);
    }
}
