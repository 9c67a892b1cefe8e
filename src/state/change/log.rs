//! The change index's acked logs: pairs acknowledged since the last commit,
//! appended in framed, checksummed writes, one log per partition of the id
//! hash space (its top `PART_BITS` bits), so that each partition can be
//! sorted alone at commit and the partitions follow each other in id order.
//!
//! A frame: pair count (u32 LE), xxh3 of the payload (u64 LE), the pairs
//! (16 bytes each). One frame is one `write` call: a kill leaves a prefix of
//! it at most, which fails its checksum and ends the log's reading.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::base::{PAIR, Pair, pair_bytes};
use super::{CHUNK_PAIRS, StateError, io_err};

/// The acked log's partitions, by the top `PART_BITS` bits of the id hash.
pub(super) const PART_BITS: u32 = 6;
pub(super) const PARTS: usize = 1 << PART_BITS;

/// The partition of an id hash: partitions follow each other in id order.
pub(super) fn part_of(id: u64) -> usize {
    (id >> (64 - PART_BITS)) as usize
}

pub(super) fn log_name(generation: u64, part: usize) -> String {
    format!("acked-{generation:010}-p{part:02}.log")
}

/// A log file: its generation, and its partition (`None` for the one-file
/// logs of an earlier version, which hold every partition).
pub(super) struct LogFile {
    pub(super) generation: u64,
    pub(super) part: Option<usize>,
    pub(super) path: PathBuf,
}

/// The log files of `dir` in write order.
pub(super) fn logs(dir: &Path) -> Result<Vec<LogFile>, StateError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let e = e.map_err(io_err(dir))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_prefix("acked-").and_then(|s| s.strip_suffix(".log")) {
            let (generation, part) = match stem.split_once("-p") {
                Some((g, p)) => (g.parse().ok(), p.parse().ok().filter(|&p: &usize| p < PARTS).map(Some)),
                None => (stem.parse().ok(), Some(None)),
            };
            if let (Some(generation), Some(part)) = (generation, part) {
                out.push(LogFile { generation, part, path: e.path() });
            }
        } else if name.ends_with(".tmp") {
            // Left by a commit that did not finish: its inputs are all still here.
            let _ = std::fs::remove_file(e.path());
        }
    }
    out.sort_by_key(|l| (l.generation, l.part));
    Ok(out)
}

/// Read every whole, intact frame of a log; stop at a torn or damaged one.
pub(super) fn read_log(path: &Path, mut each: impl FnMut(Pair) -> Result<(), StateError>) -> Result<(), StateError> {
    let mut r = BufReader::with_capacity(256 * 1024, File::open(path).map_err(io_err(path))?);
    let mut head = [0u8; 12];
    let mut payload = Vec::new();
    loop {
        match r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(io_err(path)(e)),
        }
        let n = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let sum = u64::from_le_bytes(head[4..].try_into().expect("8 bytes"));
        if n > CHUNK_PAIRS * 4 {
            tracing::warn!(path = %path.display(), "change index log: a damaged frame; the rest is ignored");
            return Ok(());
        }
        payload.resize(n * PAIR, 0);
        match r.read_exact(&mut payload) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(io_err(path)(e)),
        }
        if xxhash_rust::xxh3::xxh3_64(&payload) != sum {
            tracing::warn!(path = %path.display(), "change index log: a torn frame; the rest is ignored");
            return Ok(());
        }
        for p in payload.chunks_exact(PAIR) {
            each((
                u64::from_le_bytes(p[..8].try_into().expect("8 bytes")),
                u64::from_le_bytes(p[8..].try_into().expect("8 bytes")),
            ))?;
        }
    }
}

/// Start a frame: pair count and checksum, filled in by `seal`.
pub(super) fn open_frame(frame: &mut Vec<u8>) {
    frame.clear();
    frame.extend_from_slice(&[0u8; 12]);
}

/// One (id hash, op hash) pair into an open frame.
pub(super) fn push_pair(frame: &mut Vec<u8>, pair: Pair) {
    frame.extend_from_slice(&pair_bytes(pair));
}

pub(super) fn seal(frame: &mut [u8]) {
    let n = ((frame.len() - 12) / PAIR) as u32;
    let sum = xxhash_rust::xxh3::xxh3_64(&frame[12..]);
    frame[..4].copy_from_slice(&n.to_le_bytes());
    frame[4..12].copy_from_slice(&sum.to_le_bytes());
}
