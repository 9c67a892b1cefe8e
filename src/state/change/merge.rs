//! The change index's commit merge: the base and every partition's acked
//! pairs into a new base, one partition after the other. A partition's pairs
//! are sorted in memory (later pairs win); one past the in-memory cap is
//! sorted in chunks spilled to run files, merged back with the base's range.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

use super::base::{self, Base, Pair, PairReader, pair_bytes};
use super::log::{PART_BITS, PARTS, part_of, read_log};
use super::{StateError, io_err};

/// One source of sorted pairs for a partition's merge.
enum Sorted {
    Memory { pairs: Vec<Pair>, at: usize },
    Run(PairReader<BufReader<File>>),
}

impl Sorted {
    fn next_pair(&mut self) -> io::Result<Option<Pair>> {
        match self {
            Sorted::Memory { pairs, at } => {
                let p = pairs.get(*at).copied();
                *at += 1;
                Ok(p)
            }
            Sorted::Run(r) => r.next_pair(),
        }
    }
}

/// Sort a partition's pairs by id, stably, and keep the last of each id.
fn sort_dedup(chunk: &mut Vec<Pair>) {
    chunk.sort_by_key(|p| p.0);
    let mut keep = 0;
    for i in 0..chunk.len() {
        if chunk.get(i + 1).is_some_and(|next| next.0 == chunk[i].0) {
            continue;
        }
        chunk[keep] = chunk[i];
        keep += 1;
    }
    chunk.truncate(keep);
}

/// The new base: `base` merged with every partition's logs (later pairs
/// win), written to `out` one partition after the other; at most `cap`
/// pairs sorted in memory at once.
pub(super) fn merge(
    base: Option<&Base>,
    by_part: &[Vec<&Path>],
    dir: &Path,
    out: &Path,
    cap: usize,
) -> Result<(), StateError> {
    let err = |e| io_err(out)(e);
    let mut old = match base {
        Some(b) => Some(b.pairs().map_err(err)?),
        None => None,
    };
    // The base's next pair, read ahead across partition bounds.
    let mut ahead: Option<Pair> = match old.as_mut() {
        Some(r) => r.next_pair().map_err(err)?,
        None => None,
    };
    let mut w = base::Writer::create(out).map_err(err)?;
    let mut chunk: Vec<Pair> = Vec::new();
    for (p, paths) in by_part.iter().enumerate() {
        // Ids of partition `p` are below `end` (none above the last).
        let end = (p + 1 < PARTS).then(|| ((p + 1) as u64) << (64 - PART_BITS));
        let in_part = |id: u64| end.is_none_or(|e| id < e);
        // Newest last: sorted runs spilled from big partitions, then the rest in memory.
        let mut newer: Vec<Sorted> = Vec::new();
        let mut runs = Vec::new();
        chunk.clear();
        for path in paths {
            read_log(path, |pair| {
                if part_of(pair.0) != p {
                    // An earlier version's log holds every partition.
                    return Ok(());
                }
                chunk.push(pair);
                if chunk.len() >= cap {
                    sort_dedup(&mut chunk);
                    let run = dir.join(format!("run-{p:02}-{}.tmp", runs.len()));
                    write_run(&run, &chunk)?;
                    let f = File::open(&run).map_err(io_err(&run))?;
                    newer.push(Sorted::Run(PairReader::new(BufReader::with_capacity(64 << 10, f), chunk.len() as u64)));
                    runs.push(run);
                    chunk.clear();
                }
                Ok(())
            })?;
        }
        sort_dedup(&mut chunk);
        newer.push(Sorted::Memory { pairs: std::mem::take(&mut chunk), at: 0 });
        let merged = merge_part(&mut w, &mut old, &mut ahead, &in_part, &mut newer);
        for run in &runs {
            let _ = fs::remove_file(run);
        }
        merged.map_err(err)?;
        // Keep the allocation for the next partition.
        if let Some(Sorted::Memory { pairs, .. }) = newer.pop() {
            chunk = pairs;
        }
    }
    // The last partition has no upper bound: the base is read to its end.
    debug_assert!(ahead.is_none());
    w.finish().map_err(err)?;
    Ok(())
}

/// Merge the base's pairs of one partition (`ahead` and on, while `in_part`)
/// with `newer` sources (later ones win) into `w`.
fn merge_part(
    w: &mut base::Writer,
    old: &mut Option<PairReader<BufReader<File>>>,
    ahead: &mut Option<Pair>,
    in_part: &impl Fn(u64) -> bool,
    newer: &mut [Sorted],
) -> io::Result<()> {
    let mut heads: Vec<Option<Pair>> = newer.iter_mut().map(|s| s.next_pair()).collect::<io::Result<_>>()?;
    loop {
        // The smallest id among the newer sources; on a tie the newest one.
        let mut best: Option<(usize, u64)> = None;
        for (i, h) in heads.iter().enumerate() {
            if let Some((id, _)) = h
                && best.is_none_or(|(_, b)| *id <= b)
            {
                best = Some((i, *id));
            }
        }
        let base_id = ahead.filter(|(id, _)| in_part(*id)).map(|(id, _)| id);
        match (best, base_id) {
            (None, None) => return Ok(()),
            (Some((_, id)), Some(b)) if b < id => {}
            (None, Some(_)) => {}
            (Some((i, id)), _) => {
                let pair = heads[i].expect("a head");
                w.push(pair)?;
                // Every source at this id is consumed: the newest one was written.
                for (h, s) in heads.iter_mut().zip(newer.iter_mut()) {
                    if h.is_some_and(|(hid, _)| hid == id) {
                        *h = s.next_pair()?;
                    }
                }
                if base_id == Some(id) {
                    *ahead = next_old(old)?;
                }
                continue;
            }
        }
        // The base's pair comes first and nothing newer replaces it.
        w.push(ahead.expect("in part"))?;
        *ahead = next_old(old)?;
    }
}

fn next_old(old: &mut Option<PairReader<BufReader<File>>>) -> io::Result<Option<Pair>> {
    match old.as_mut() {
        Some(r) => r.next_pair(),
        None => Ok(None),
    }
}

/// A sorted run of pairs, raw, for a partition too big to sort at once.
fn write_run(path: &Path, pairs: &[Pair]) -> Result<(), StateError> {
    let mut w = BufWriter::with_capacity(256 * 1024, File::create(path).map_err(io_err(path))?);
    for &pair in pairs {
        w.write_all(&pair_bytes(pair)).map_err(io_err(path))?;
    }
    w.flush().map_err(io_err(path))
}
