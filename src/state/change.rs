//! The change index (`changed_only`): per Custom ID, the hash of the last
//! operation Batch acknowledged, kept across runs, outside sled.
//!
//! A one-level LSM in a folder of its own (`<job dir>/changes/<key>/`, the key
//! naming the destination):
//! - `base.idx`: every (id hash, op hash) pair, sorted, immutable (`base.rs`).
//!   Lookups read only the base: the index as the last run left it.
//! - `acked-N.log`: pairs acknowledged since, appended in framed, checksummed
//!   writes after each ack (`record_acked`). A write reaches the OS before the
//!   batch's ledger record is flushed, so a `kill -9` loses none; only
//!   acknowledged pairs are ever written, so a kill never marks an unsent row.
//!   A torn tail frame (killed mid-write) fails its checksum and is dropped.
//! - `commit` (end of a run, or the next open after a kill) sorts the logs in
//!   bounded chunks, merges them with the base into a new base (later pairs
//!   win), renames it in and deletes the logs. Merging again a log that
//!   survived a crash after the rename gives the same base.
//!
//! Memory stays flat: the base's fences (8 bytes per 64 ids) and one sort
//! chunk at commit. Disk: 16.125 bytes per id, plus the logs of one run.

mod base;

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base::{Base, PAIR, Pair, PairReader};

use super::{StateError, Store};

/// Pairs per log file and per sorted chunk at commit (16 MB of pairs).
const CHUNK_PAIRS: usize = 1 << 20;
const BASE: &str = "base.idx";

/// A handle on one destination's change index. Cheap; clone it freely.
#[derive(Clone)]
pub struct ChangeIndex {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    /// The base as of the last commit; lookups clone the `Arc` once.
    base: Mutex<Option<Arc<Base>>>,
    log: Mutex<Log>,
    /// What happened to an index found in an older form, for the run's note.
    replaced: Option<String>,
}

#[derive(Default)]
struct Log {
    file: Option<File>,
    /// Sequence number of the next log file.
    next: u64,
    pairs_in_file: usize,
}

/// A snapshot of the index for lookups, shareable across threads.
#[derive(Clone)]
pub struct Lookup {
    base: Option<Arc<Base>>,
    dir: PathBuf,
}

impl Lookup {
    /// The op hash Batch last acknowledged for `id_hash`, if any.
    pub fn get(&self, id_hash: u64) -> Result<Option<u64>, StateError> {
        match &self.base {
            None => Ok(None),
            Some(b) => b.get(id_hash).map_err(|source| StateError::Io { path: self.dir.join(BASE), source }),
        }
    }

    /// Is `op_hash` the operation Batch last acknowledged for `id_hash`?
    pub fn is_unchanged(&self, id_hash: u64, op_hash: u64) -> Result<bool, StateError> {
        Ok(self.get(id_hash)? == Some(op_hash))
    }

    /// Whether the index holds nothing (every row is then sent).
    pub fn is_empty(&self) -> bool {
        self.base.as_ref().is_none_or(|b| b.len() == 0)
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_path_buf(), source }
}

/// A file name for `key`: readable, and unique by its hash.
fn folder_name(key: &str) -> String {
    let readable: String =
        key.chars().take(40).map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("{readable}-{:016x}", xxhash_rust::xxh3::xxh3_64(key.as_bytes()))
}

fn log_name(n: u64) -> String {
    format!("acked-{n:010}.log")
}

/// The log files of `dir` in write order.
fn logs(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StateError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let e = e.map_err(io_err(dir))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_prefix("acked-").and_then(|s| s.strip_suffix(".log")).and_then(|s| s.parse().ok()) {
            out.push((n, e.path()));
        } else if name.ends_with(".tmp") {
            // Left by a commit that did not finish: its inputs are all still here.
            let _ = fs::remove_file(e.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Read every whole, intact frame of a log; stop at a torn or damaged one.
fn read_log(path: &Path, mut each: impl FnMut(Pair) -> Result<(), StateError>) -> Result<(), StateError> {
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

impl ChangeIndex {
    /// The hash a Custom ID is indexed under.
    pub fn id_hash(custom_id: &str) -> u64 {
        xxhash_rust::xxh3::xxh3_64(custom_id.as_bytes())
    }

    /// A convenience op hash: xxh3 of the operation's serialised bytes.
    pub fn op_hash(op: &[u8]) -> u64 {
        xxhash_rust::xxh3::xxh3_64(op)
    }

    /// Open (or create) the index in `dir`, merging the logs a killed run left.
    fn open(dir: PathBuf, replaced: Option<String>) -> Result<ChangeIndex, StateError> {
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let next = logs(&dir)?.last().map_or(0, |(n, _)| n + 1);
        let shared = Shared { dir, base: Mutex::new(None), log: Mutex::new(Log { next, ..Log::default() }), replaced };
        let idx = ChangeIndex { shared: Arc::new(shared) };
        idx.load_base()?;
        idx.commit()?;
        Ok(idx)
    }

    fn load_base(&self) -> Result<(), StateError> {
        let path = self.shared.dir.join(BASE);
        let base = match Base::open(&path) {
            Ok(b) => Some(Arc::new(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) if e.kind() == io::ErrorKind::InvalidData || e.kind() == io::ErrorKind::UnexpectedEof => {
                // Written only by rename after an fsync, so damage is the disk's.
                // Forgetting it is safe: its rows are sent again.
                let aside = path.with_extension(format!("broken-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")));
                fs::rename(&path, &aside).map_err(io_err(&path))?;
                eprintln!(
                    "batchport: the change index {} cannot be read ({e}); moved aside to {}: this run sends every row",
                    path.display(),
                    aside.display()
                );
                None
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        *self.shared.base.lock().expect("no panic while holding the lock") = base;
        Ok(())
    }

    /// The folder of this index.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Set when an index of an older batchport was found and dropped: says so.
    pub fn replaced_note(&self) -> Option<&str> {
        self.shared.replaced.as_deref()
    }

    /// A snapshot for lookups (the base as of the last commit).
    pub fn lookup(&self) -> Lookup {
        let base = self.shared.base.lock().expect("no panic while holding the lock").clone();
        Lookup { base, dir: self.shared.dir.clone() }
    }

    /// Is this operation the one Batch acknowledged last, as of the last commit?
    pub fn is_unchanged(&self, id_hash: u64, op_hash: u64) -> Result<bool, StateError> {
        self.lookup().is_unchanged(id_hash, op_hash)
    }

    /// `is_unchanged` for many pairs.
    pub fn check_many(&self, pairs: &[(u64, u64)]) -> Result<Vec<bool>, StateError> {
        let l = self.lookup();
        pairs.iter().map(|&(id, op)| l.is_unchanged(id, op)).collect()
    }

    /// Record operations Batch acknowledged. Call only after the ack. The
    /// pairs reach the OS (not the disk) before this returns: they survive a
    /// killed process; `commit` makes them durable.
    pub fn record_acked(&self, pairs: &[(u64, u64)]) -> Result<(), StateError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let mut log = self.shared.log.lock().expect("no panic while holding the lock");
        for part in pairs.chunks(CHUNK_PAIRS) {
            if log.file.is_none() || log.pairs_in_file >= CHUNK_PAIRS {
                let path = self.shared.dir.join(log_name(log.next));
                let f = fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
                log.next += 1;
                log.file = Some(f);
                log.pairs_in_file = 0;
            }
            let mut frame = Vec::with_capacity(12 + part.len() * PAIR);
            frame.extend_from_slice(&(part.len() as u32).to_le_bytes());
            frame.extend_from_slice(&[0u8; 8]);
            for (id, op) in part {
                frame.extend_from_slice(&id.to_le_bytes());
                frame.extend_from_slice(&op.to_le_bytes());
            }
            let sum = xxhash_rust::xxh3::xxh3_64(&frame[12..]);
            frame[4..12].copy_from_slice(&sum.to_le_bytes());
            let f = log.file.as_mut().expect("opened above");
            // One write call per frame: a kill leaves a prefix of it at most.
            f.write_all(&frame).map_err(io_err(&self.shared.dir))?;
            log.pairs_in_file += part.len();
        }
        Ok(())
    }

    /// Merge the logs into a new base and make it durable; lookups then see
    /// everything recorded so far. Does nothing when nothing was recorded.
    pub fn commit(&self) -> Result<(), StateError> {
        let mut log = self.shared.log.lock().expect("no panic while holding the lock");
        log.file = None;
        let dir = &self.shared.dir;
        let logs = logs(dir)?;
        if logs.is_empty() {
            return Ok(());
        }
        // 1. Each chunk of logged pairs, sorted, later pairs winning, to a run file.
        let mut runs: Vec<(PathBuf, u64)> = Vec::new();
        let mut chunk: Vec<Pair> = Vec::with_capacity(CHUNK_PAIRS.min(1 << 16));
        let spill = |chunk: &mut Vec<Pair>, runs: &mut Vec<(PathBuf, u64)>| -> Result<(), StateError> {
            if chunk.is_empty() {
                return Ok(());
            }
            // Stable: among equal ids the last recorded stays last.
            chunk.sort_by_key(|p| p.0);
            let path = dir.join(format!("run-{}.tmp", runs.len()));
            let mut w = BufWriter::with_capacity(256 * 1024, File::create(&path).map_err(io_err(&path))?);
            let mut n = 0u64;
            for (i, (id, op)) in chunk.iter().enumerate() {
                if chunk.get(i + 1).is_some_and(|next| next.0 == *id) {
                    continue;
                }
                w.write_all(&id.to_le_bytes()).and_then(|()| w.write_all(&op.to_le_bytes())).map_err(io_err(&path))?;
                n += 1;
            }
            w.flush().map_err(io_err(&path))?;
            runs.push((path, n));
            chunk.clear();
            Ok(())
        };
        for (_, path) in &logs {
            read_log(path, |p| {
                chunk.push(p);
                if chunk.len() >= CHUNK_PAIRS { spill(&mut chunk, &mut runs) } else { Ok(()) }
            })?;
        }
        spill(&mut chunk, &mut runs)?;
        drop(chunk);
        // 2. Merge base (oldest) and runs (in order) into a new base.
        let tmp = dir.join("base.idx.tmp");
        let old = self.lookup().base;
        let merged = merge(old.as_deref(), &runs, &tmp);
        for (path, _) in &runs {
            let _ = fs::remove_file(path);
        }
        merged?;
        let path = dir.join(BASE);
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
        // 3. The logs are in the base now.
        for (_, p) in &logs {
            fs::remove_file(p).map_err(io_err(p))?;
        }
        drop(log);
        self.load_base()
    }

    /// The number of IDs in the index, as of the last commit.
    pub fn len(&self) -> u64 {
        self.lookup().base.map_or(0, |b| b.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// k-way merge of `base` and sorted, deduplicated `runs` (later wins) to `out`.
fn merge(base: Option<&Base>, runs: &[(PathBuf, u64)], out: &Path) -> Result<(), StateError> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut sources: Vec<PairReader<Box<dyn Read>>> = Vec::new();
    if let Some(b) = base {
        let r = b.pairs().map_err(io_err(out))?;
        sources.push(PairReader::new(Box::new(r.into_inner()), b.len()));
    }
    // 8 MB of read buffers in all, however many runs (100 at 100 M ids).
    let buffer = (8 << 20) / runs.len().max(1);
    for (path, n) in runs {
        let f = File::open(path).map_err(io_err(path))?;
        sources.push(PairReader::new(Box::new(BufReader::with_capacity(buffer.clamp(16 << 10, 256 << 10), f)), *n));
    }
    // Smallest id first; among equal ids the newest source (highest rank) first.
    let mut heap = BinaryHeap::new();
    for (rank, s) in sources.iter_mut().enumerate() {
        if let Some((id, op)) = s.next_pair().map_err(io_err(out))? {
            heap.push((Reverse(id), rank, op));
        }
    }
    let mut w = base::Writer::create(out).map_err(io_err(out))?;
    let mut last = None;
    while let Some((Reverse(id), rank, op)) = heap.pop() {
        if last != Some(id) {
            w.push((id, op)).map_err(io_err(out))?;
            last = Some(id);
        }
        if let Some((id, op)) = sources[rank].next_pair().map_err(io_err(out))? {
            heap.push((Reverse(id), rank, op));
        }
    }
    w.finish().map_err(io_err(out))?;
    Ok(())
}

impl Store {
    /// The change index of destination `key` (it outlives runs). An index of
    /// an older batchport (packed sled buckets) is dropped: the next run sends
    /// every row once, and says so.
    pub fn change_index(&self, key: &str) -> Result<ChangeIndex, StateError> {
        let replaced = self.drop_legacy_index(key)?.then(|| {
            "the change index was kept in an older form, which this version no longer reads: \
             it was dropped and every row was sent once; the next run sends only what changed"
                .to_string()
        });
        ChangeIndex::open(self.change_dir(key), replaced)
    }

    fn change_dir(&self, key: &str) -> PathBuf {
        let job_dir = self.inner.path.parent().unwrap_or(&self.inner.path);
        job_dir.join("changes").join(folder_name(key))
    }

    /// Remove the packed sled buckets an older batchport kept for `key`.
    fn drop_legacy_index(&self, key: &str) -> Result<bool, StateError> {
        let inner = &self.inner;
        let mut batch = sled::Batch::default();
        let mut had = false;
        for k in inner.changes.scan_prefix(super::name_key(b'c', key, None)).keys() {
            batch.remove(k.map_err(|e| inner.err(e))?);
            had = true;
        }
        if had {
            inner.changes.apply_batch(batch).map_err(|e| inner.err(e))?;
            inner.flush()?;
        }
        Ok(had)
    }

    /// Forget destination `key`'s change index (`reset --delta`). Returns
    /// whether it had anything. Handles opened before see it empty only once
    /// reopened.
    pub fn reset_change_index(&self, key: &str) -> Result<bool, StateError> {
        let mut had = self.drop_legacy_index(key)?;
        let dir = self.change_dir(key);
        if dir.exists() {
            had |= dir.join(BASE).exists() || !logs(&dir)?.is_empty();
            fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
        }
        Ok(had)
    }
}
