//! The change check of a whole file at once, for a big index: a sort-merge
//! join instead of one random lookup per row.
//!
//! A random lookup in a base much bigger than memory costs a page fault or a
//! system call (1 to 10 µs on a VM: 10 M rows took 50 s), and keeping the
//! base mapped breaks the memory bound. So a file that can be read twice is:
//! 1. scanned once (`Scan::push`, rows in file order): every row's (id hash,
//!    op hash, row number) goes to one of `SCAN_PARTS` spill files by the
//!    top bits of the id hash; a checksum of each window of `WINDOW` rows is
//!    kept;
//! 2. joined (`Scan::finish`), partition by partition, in parallel: the
//!    partition's entries sorted by id, walked beside the same id range of
//!    the base (read in one `pread`); an entry whose op hash is the base's
//!    sets its row's bit in the `Delta` (1 bit per row);
//! 3. read again by the pipeline, which transforms only rows without a bit.
//!    A window is trusted only if the second read gives the same checksum
//!    over the same rows: a file rewritten between the reads never gets a
//!    row skipped, its rows are sent instead.
//!
//! Memory: the bits (12.5 MB at 100 M rows), the window sums (8 bytes per
//! 2,048 rows), the spill buffers, and two partitions being joined.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::base::{Base, PAIR, Pair, pair_at, pair_bytes};
use super::{StateError, io_err};
use batchport_source::Position;

/// Partitions of the spill, by the top `SCAN_BITS` bits of the id hash.
const SCAN_BITS: u32 = 9;
const SCAN_PARTS: usize = 1 << SCAN_BITS;
/// Rows per checksum window: the pipeline's chunk, so a chunk checks whole windows.
pub(crate) const WINDOW: u64 = batchport_source::CHUNK_ROWS as u64;
/// An entry in a spill file: id hash, op hash, row number from the first.
const ENTRY: usize = 20;
/// Bytes of spill buffer per partition.
const SPILL_BUFFER: usize = 8 << 10;

/// A row's contribution to its window's checksum. Rows without a pair (the
/// transform rejects them) count too, so the row count is checked.
pub fn row_sum(record: u64, pair: Option<Pair>) -> u64 {
    let (id, op) = pair.unwrap_or((0, 0));
    let x = id ^ op.rotate_left(29) ^ record.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x ^ (x >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (x >> 17)
}

/// The first read of a file, in progress.
pub struct Scan {
    base: std::sync::Arc<Base>,
    /// IDs already sent by this run (earlier files): never unchanged.
    sent: std::sync::Arc<super::Sent>,
    later_files: bool,
    dir: PathBuf,
    spill: Vec<BufWriter<File>>,
    counts: Vec<u64>,
    /// Record number of the first row.
    first: Option<u64>,
    /// The first record the second read will read (past what an earlier
    /// attempt settled): windows start there. The rows before it are scanned
    /// too, for the IDs that have rows on both sides.
    from: u64,
    next: u64,
    windows: Vec<(u64, u32)>,
    /// Where each window's first and last rows are.
    spans: Vec<(Position, Position)>,
}

/// What the scan found: which rows Batch already has exactly.
pub struct Delta {
    first: u64,
    /// Where the windows start (`Scan::from`).
    wfirst: u64,
    rows: u64,
    bits: Vec<u64>,
    windows: Vec<(u64, u32)>,
    spans: Vec<(Position, Position)>,
    /// The scan read the file to its end (no read error).
    complete: bool,
    /// The run's sent IDs, which the second read adds to when a file follows.
    sent: Option<std::sync::Arc<super::Sent>>,
    /// Rows of an ID with several rows in the file, all sent, but for its
    /// last: they record nothing in the index (1 bit per row).
    earlier: Vec<u64>,
    /// The last row of each such ID (row number from the first) and the
    /// hash of all its rows, which it records: sorted by row.
    groups: Vec<(u32, u64)>,
}

/// A window of rows Batch already has, all of them: the second read seeks
/// past it instead of reading it.
#[derive(Debug, Clone, Copy)]
pub struct Skip {
    /// Where the window's first row starts.
    pub first: Position,
    /// Where its last row starts.
    pub last: Position,
    /// Rows in the window.
    pub rows: u64,
    /// Where the next window starts.
    pub next: Position,
}

impl Scan {
    /// Start a scan against `base`, spilling under `dir` (removed at the end,
    /// and by the next open of the index if the process is killed).
    pub(super) fn new(
        base: std::sync::Arc<Base>,
        sent: std::sync::Arc<super::Sent>,
        later_files: bool,
        from: u64,
        dir: PathBuf,
    ) -> Result<Scan, StateError> {
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut spill = Vec::with_capacity(SCAN_PARTS);
        for p in 0..SCAN_PARTS {
            let path = dir.join(format!("{p:04}"));
            let file = File::create(&path).map_err(|e| {
                if e.raw_os_error() == Some(libc::EMFILE) {
                    // Said plainly: the fix is the user's shell, not the data.
                    let msg = format!(
                        "too many open files: the change scan keeps {SCAN_PARTS} spill files open; \
                         raise the limit (`ulimit -n 1024`) and run again"
                    );
                    io_err(&path)(std::io::Error::other(msg))
                } else {
                    io_err(&path)(e)
                }
            })?;
            spill.push(BufWriter::with_capacity(SPILL_BUFFER, file));
        }
        Ok(Scan {
            base,
            sent,
            later_files,
            dir,
            spill,
            counts: vec![0; SCAN_PARTS],
            first: None,
            from,
            next: 0,
            windows: Vec::new(),
            spans: Vec::new(),
        })
    }

    /// The next row of the file, in order: its position and its
    /// (id hash, op hash) if it has a usable key and no flaw.
    pub fn push(&mut self, pos: Position, pair: Option<Pair>) -> Result<(), StateError> {
        let record = pos.record;
        let first = *self.first.get_or_insert(record);
        if record != first + self.next || self.next >= u32::MAX as u64 {
            // Not the next row (cannot happen with one reader), or past what
            // a row number holds: the rest is simply not covered (sent).
            return Ok(());
        }
        let rel = self.next;
        self.next += 1;
        if record >= self.from {
            let w = ((record - self.from) / WINDOW) as usize;
            if w == self.windows.len() {
                self.windows.push((0, 0));
                self.spans.push((pos, pos));
            }
            self.spans[w].1 = pos;
            let win = &mut self.windows[w];
            win.0 = win.0.wrapping_add(row_sum(record, pair));
            win.1 += 1;
        }
        if let Some(pair) = pair {
            let p = (pair.0 >> (64 - SCAN_BITS)) as usize;
            let mut e = [0u8; ENTRY];
            e[..PAIR].copy_from_slice(&pair_bytes(pair));
            e[16..].copy_from_slice(&(rel as u32).to_le_bytes());
            self.spill[p].write_all(&e).map_err(io_err(&self.dir))?;
            self.counts[p] += 1;
        }
        Ok(())
    }

    /// Join the spilled rows with the base: the rows Batch already has.
    /// `complete`: the file was read to its end.
    pub fn finish(mut self, complete: bool) -> Result<Delta, StateError> {
        for w in &mut self.spill {
            w.flush().map_err(io_err(&self.dir))?;
        }
        self.spill.clear();
        let words = self.next.div_ceil(64) as usize;
        let bits: Vec<AtomicU64> = (0..words).map(|_| AtomicU64::new(0)).collect();
        let earlier: Vec<AtomicU64> = (0..words).map(|_| AtomicU64::new(0)).collect();
        let (base, dir, counts, sent) = (&*self.base, &self.dir, &self.counts, &*self.sent);
        let join = Join { base, sent, dir, unchanged: &bits, earlier: &earlier };
        let mut groups: Vec<(u32, u64)> = (0..SCAN_PARTS)
            .into_par_iter()
            .with_max_len(1)
            .map(|p| join_part(join, p, counts[p]))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        groups.sort_unstable();
        let _ = fs::remove_dir_all(&self.dir);
        Ok(Delta {
            first: self.first.unwrap_or(0),
            wfirst: self.from.max(self.first.unwrap_or(0)),
            rows: self.next,
            bits: bits.into_iter().map(AtomicU64::into_inner).collect(),
            windows: std::mem::take(&mut self.windows),
            spans: std::mem::take(&mut self.spans),
            complete,
            sent: self.later_files.then(|| self.sent.clone()),
            earlier: earlier.into_iter().map(AtomicU64::into_inner).collect(),
            groups,
        })
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        if !self.spill.is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// What a partition is joined with, and the bits it sets.
#[derive(Clone, Copy)]
struct Join<'a> {
    base: &'a Base,
    sent: &'a super::Sent,
    dir: &'a Path,
    /// Rows Batch already has.
    unchanged: &'a [AtomicU64],
    /// Rows of a repeated ID sent before its last (see `Delta::earlier`).
    earlier: &'a [AtomicU64],
}

/// The hash of all the rows of one ID in file order, as the index keeps it
/// for the ID: a lone row's own hash (so an index written row by row still
/// matches), else a fold of the rows' hashes.
pub(crate) fn group_hash(ops: impl IntoIterator<Item = u64>) -> u64 {
    let mut ops = ops.into_iter();
    let first = ops.next().unwrap_or(0);
    ops.fold(first, |h, op| xxhash_rust::xxh3::xxh3_64_with_seed(&op.to_le_bytes(), h) ^ 0x6772_6f75_7021)
}

fn set(bits: &[AtomicU64], rel: u32) {
    bits[rel as usize / 64].fetch_or(1 << (rel % 64), Ordering::Relaxed);
}

/// Join partition `p`'s entries with the base's pairs of the same id range;
/// the last rows of the repeated IDs that are sent, with their group hash.
///
/// All the rows of an ID decide together: the ID is unchanged when the hash
/// of all its rows in file order is the one the index holds for it (and no
/// earlier file of the run sent it); then none of its rows is sent.
/// Otherwise all are sent, in order, as on the first night, and the last
/// one records the group's hash. Deciding row by row would send an earlier
/// row and skip the last (equal to the index): the ID would flip between its
/// rows night after night; deciding by the last row alone would miss a
/// change in an earlier row whose value the last row leaves blank.
fn join_part(j: Join<'_>, p: usize, count: u64) -> Result<Vec<(u32, u64)>, StateError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let dir = j.dir;
    let path = dir.join(format!("{p:04}"));
    let mut r = BufReader::with_capacity(64 << 10, File::open(&path).map_err(io_err(&path))?);
    let mut entries: Vec<(u64, u64, u32)> = Vec::with_capacity(count as usize);
    let mut e = [0u8; ENTRY];
    for _ in 0..count {
        r.read_exact(&mut e).map_err(io_err(&path))?;
        entries.push((
            u64::from_le_bytes(e[..8].try_into().expect("8 bytes")),
            u64::from_le_bytes(e[8..16].try_into().expect("8 bytes")),
            u32::from_le_bytes(e[16..].try_into().expect("4 bytes")),
        ));
    }
    drop(r);
    let _ = fs::remove_file(&path);
    // By id, each id's rows in file order.
    entries.sort_unstable_by_key(|e| (e.0, e.2));
    let lo = (p as u64) << (64 - SCAN_BITS);
    let hi = (p + 1 < SCAN_PARTS).then(|| ((p + 1) as u64) << (64 - SCAN_BITS));
    let base_err = |e| io_err(dir)(e);
    let few = j.base.blocks_between(lo, hi) > entries.len() * 8;
    // Few rows for this range: a lookup each reads less than the range.
    let raw = if few { Vec::new() } else { j.base.blocks_for(lo, hi).map_err(base_err)? };
    let (n, mut at) = (raw.len() / PAIR, 0);
    let mut groups = Vec::new();
    for group in entries.chunk_by(|a, b| a.0 == b.0) {
        let id = group[0].0;
        let hash = group_hash(group.iter().map(|e| e.1));
        let held = if few {
            j.base.get(id).map_err(base_err)?
        } else {
            while at < n && pair_at(&raw, at).0 < id {
                at += 1;
            }
            (at < n && pair_at(&raw, at).0 == id).then(|| pair_at(&raw, at).1)
        };
        if held == Some(hash) && !j.sent.contains(id) {
            group.iter().for_each(|e| set(j.unchanged, e.2));
        } else if let [before @ .., last] = group
            && !before.is_empty()
        {
            before.iter().for_each(|e| set(j.earlier, e.2));
            groups.push((last.2, hash));
        }
    }
    Ok(groups)
}

impl Delta {
    /// Rows covered by the scan, from `first`.
    pub(crate) fn covers(&self, record: u64) -> bool {
        record >= self.first && record - self.first < self.rows
    }

    /// Does Batch already have row `record`'s operation? Only meaningful for a
    /// row of a window `window_matches` accepted.
    pub fn is_unchanged(&self, record: u64) -> bool {
        if !self.covers(record) {
            return false;
        }
        let rel = record - self.first;
        self.bits[(rel / 64) as usize] & (1 << (rel % 64)) != 0
    }

    /// The window of `record`, if the scan covers it from where windows start.
    pub fn window_of(&self, record: u64) -> Option<usize> {
        (self.covers(record) && record >= self.wfirst).then(|| ((record - self.wfirst) / WINDOW) as usize)
    }

    /// Whether the second read of `window` (`sum` over `rows` rows) is the
    /// first read's: then the bits of its rows can be trusted.
    pub fn window_matches(&self, window: usize, sum: u64, rows: u32) -> bool {
        self.windows.get(window) == Some(&(sum, rows))
    }

    /// The window starting at record `next` when Batch has every one of its
    /// rows, and another window follows it (the last one is always read:
    /// the reader then meets the end of the file as usual).
    pub fn skippable(&self, next: u64) -> Option<Skip> {
        if !self.complete || !self.covers(next) || next < self.wfirst || (next - self.wfirst) % WINDOW != 0 {
            return None;
        }
        let w = ((next - self.wfirst) / WINDOW) as usize;
        let (first, last) = *self.spans.get(w)?;
        let (following, _) = *self.spans.get(w + 1)?;
        if u64::from(self.windows[w].1) != WINDOW {
            return None;
        }
        let from = next - self.first;
        let all = if from % 64 == 0 {
            // Whole words of bits (WINDOW is a multiple of 64).
            let words = (WINDOW / 64) as usize;
            self.bits[(from / 64) as usize..][..words].iter().all(|&b| b == u64::MAX)
        } else {
            (from..from + WINDOW).all(|rel| self.bits[(rel / 64) as usize] & (1 << (rel % 64)) != 0)
        };
        all.then_some(Skip { first, last, rows: WINDOW, next: following })
    }

    /// The IDs this run sent: the second read marks the rows it sends, for
    /// the files after this one.
    pub fn mark_sent(&self, id_hash: u64) {
        if let Some(s) = &self.sent {
            s.mark(id_hash);
        }
    }

    /// What the row `record` (to be sent, with its own change pair `pair`)
    /// records in the index once acknowledged: its own pair for an ID on one
    /// row, the group's hash for the last row of a repeated ID, nothing for
    /// the rows before it.
    pub fn change_of(&self, record: u64, pair: Option<(u64, u64)>) -> Option<(u64, u64)> {
        let (id, _) = pair?;
        if !self.covers(record) {
            return pair;
        }
        let rel = record - self.first;
        if self.earlier[(rel / 64) as usize] & (1 << (rel % 64)) != 0 {
            return None;
        }
        match self.groups.binary_search_by_key(&(rel as u32), |g| g.0) {
            Ok(i) => Some((id, self.groups[i].1)),
            Err(_) => pair,
        }
    }

    /// Rows the scan found unchanged.
    pub fn unchanged_count(&self) -> u64 {
        self.bits.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}
