//! The change index (`changed_only`): per Custom ID, the hash of the last
//! operation Batch acknowledged, kept across runs, outside sled.
//!
//! A one-level LSM in a folder of its own (`<job dir>/changes/<key>/`, the key
//! naming the destination):
//! - `base.idx`: every (id hash, op hash) pair, sorted, immutable (`base.rs`).
//!   Lookups read only the base: the index as the last run left it.
//! - `acked-G-pNN.log`: pairs acknowledged since, appended after each ack
//!   (`record_acked`) to one of `PARTS` logs by the top bits of the id hash,
//!   in framed, checksummed writes. A write reaches the OS before the batch's
//!   ledger record is flushed, so a `kill -9` loses none; only acknowledged
//!   pairs are ever written, so a kill never marks an unsent row. A torn tail
//!   frame (killed mid-write) fails its checksum and is dropped.
//! - `commit` (end of a run, or the next open after a kill) takes the
//!   partitions in id order: each one's pairs are sorted in memory (later
//!   pairs win) and merged with the same id range of the base, straight into
//!   the new base, which is then renamed in before the logs are deleted.
//!   Merging again a log that survived a crash after the rename gives the
//!   same base. Partitioning is what keeps the first import cheap: 10 M
//!   pairs are 64 sorts of 2.5 MB, not 10 sorted run files merged again.
//!
//! Memory stays flat: the base's fences (8 bytes per 64 ids) and one
//! partition at commit (a partition past `CHUNK_PAIRS` is sorted in chunks
//! spilled to run files). Disk: 16.125 bytes per id, plus the logs of one run.

mod base;
mod log;
mod merge;
mod scan;
mod sent;

pub use scan::{Delta, Scan, Skip, row_sum};
pub(crate) use sent::Sent;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base::{Base, Pair};
use log::{PARTS, log_name, logs, open_frame, part_of, push_pair, seal};
use merge::merge;

use super::{StateError, Store};

/// The operation hash recorded for an ID whose last operation Batch may hold
/// only in part (partially applied, or an outcome unknown): no row hashes to
/// it (but with odds of 2^-64), so the ID's next row is always sent.
pub const UNKNOWN_OP: u64 = 0x756e_6b6e_6f77_6e21;

/// Pairs sorted in memory at once at commit (16 MB of pairs); a partition
/// past it is sorted in chunks spilled to run files and merged.
pub(super) const CHUNK_PAIRS: usize = 1 << 20;
const BASE: &str = "base.idx";
/// Where a scan spills (left by a killed run: removed at the next open).
const SCAN_DIR: &str = "scan.tmp";

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
    /// The IDs this handle's run sent (a handle is opened per attempt).
    sent: Arc<Sent>,
}

struct Log {
    /// One append-only file per partition, opened on first use.
    files: Vec<Option<File>>,
    /// Generation of the log files this handle writes.
    generation: u64,
    /// Frames under construction, one per partition (reused across calls).
    frames: Vec<Vec<u8>>,
}

impl Log {
    fn new(generation: u64) -> Log {
        Log { files: (0..PARTS).map(|_| None).collect(), generation, frames: vec![Vec::new(); PARTS] }
    }
}

/// A snapshot of the index for lookups, shareable across threads.
#[derive(Clone)]
pub struct Lookup {
    base: Option<Arc<Base>>,
    dir: PathBuf,
    sent: Arc<Sent>,
    /// Whether a scanned file's second read marks the IDs it sends: only
    /// files after it need them.
    later_files: bool,
}

impl Lookup {
    /// The op hash Batch last acknowledged for `id_hash`, if any.
    pub(crate) fn get(&self, id_hash: u64) -> Result<Option<u64>, StateError> {
        match &self.base {
            None => Ok(None),
            Some(b) => b.get(id_hash).map_err(|source| StateError::Io { path: self.dir.join(BASE), source }),
        }
    }

    /// Is `op_hash` the operation Batch last acknowledged for `id_hash`?
    pub fn is_unchanged(&self, id_hash: u64, op_hash: u64) -> Result<bool, StateError> {
        Ok(self.get(id_hash)? == Some(op_hash))
    }

    /// No file of the run follows this one: a scanned read need not mark
    /// the IDs it sends.
    pub fn last_file(mut self) -> Lookup {
        self.later_files = false;
        self
    }

    /// The IDs sent so far by this run (see `Sent`): a row of one of them
    /// is never skipped as unchanged.
    pub fn sent(&self) -> &Sent {
        &self.sent
    }

    /// A whole-file check (`scan.rs`) against this snapshot, or `None` when
    /// the index is empty (every row is then sent). `from`: the first record
    /// the import will read (the file is scanned whole all the same).
    pub fn scan(&self, from: u64) -> Result<Option<Scan>, StateError> {
        match &self.base {
            Some(b) if b.len() > 0 => {
                Scan::new(b.clone(), self.sent.clone(), self.later_files, from, self.dir.join(SCAN_DIR)).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Whether the index holds nothing (every row is then sent).
    pub fn is_empty(&self) -> bool {
        self.base.as_ref().is_none_or(|b| b.len() == 0)
    }
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_path_buf(), source }
}

/// A file name for `key`: readable, and unique by its hash.
fn folder_name(key: &str) -> String {
    let readable: String =
        key.chars().take(40).map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("{readable}-{:016x}", xxhash_rust::xxh3::xxh3_64(key.as_bytes()))
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
        let _ = fs::remove_dir_all(dir.join(SCAN_DIR));
        let generation = logs(&dir)?.last().map_or(0, |l| l.generation + 1);
        let shared = Shared {
            dir,
            base: Mutex::new(None),
            log: Mutex::new(Log::new(generation)),
            replaced,
            sent: Arc::default(),
        };
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
                tracing::warn!(
                    "the change index {} cannot be read ({e}); moved aside to {}: this run sends every row",
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
        Lookup { base, dir: self.shared.dir.clone(), sent: self.shared.sent.clone(), later_files: true }
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

    /// Record operations Batch acknowledged (or, with [`UNKNOWN_OP`], may
    /// hold in part). Call only after the answer. The
    /// pairs reach the OS (not the disk) before this returns: they survive a
    /// killed process; `commit` makes them durable.
    pub fn record_acked(&self, pairs: &[(u64, u64)]) -> Result<(), StateError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let mut log = self.shared.log.lock().expect("no panic while holding the lock");
        let generation = log.generation;
        let written = self.append(&mut log, generation, pairs);
        if written.is_err() {
            // A failed write (a full disk) may have left part of a frame,
            // which ends the reading of its log: later frames go to the next
            // generation's files, which are read on their own.
            log.files.iter_mut().for_each(|f| *f = None);
            log.generation += 1;
        }
        written
    }

    /// Append `pairs` to the partition logs of `generation`, one frame per
    /// partition touched, each in one write call: a kill leaves a prefix of
    /// a frame at most, and only acknowledged pairs, whichever were written.
    fn append(&self, log: &mut Log, generation: u64, pairs: &[Pair]) -> Result<(), StateError> {
        let Log { files, frames, .. } = log;
        for part in pairs.chunks(CHUNK_PAIRS) {
            frames.iter_mut().for_each(open_frame);
            for &pair in part {
                push_pair(&mut frames[part_of(pair.0)], pair);
            }
            for (p, frame) in frames.iter_mut().enumerate() {
                if frame.len() == 12 {
                    continue;
                }
                seal(frame);
                let file = match &mut files[p] {
                    Some(f) => f,
                    slot => {
                        let path = self.shared.dir.join(log_name(generation, p));
                        let f = fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
                        slot.insert(f)
                    }
                };
                file.write_all(frame).map_err(io_err(&self.shared.dir))?;
            }
        }
        Ok(())
    }

    /// Merge the logs into a new base and make it durable; lookups then see
    /// everything recorded so far. Does nothing when nothing was recorded.
    pub fn commit(&self) -> Result<(), StateError> {
        let mut log = self.shared.log.lock().expect("no panic while holding the lock");
        log.files.iter_mut().for_each(|f| *f = None);
        let dir = &self.shared.dir;
        let logs = logs(dir)?;
        if logs.is_empty() {
            return Ok(());
        }
        // In write order. A log of an earlier version (one file for every
        // partition, left by a killed run) is read for each partition, its
        // other pairs skipped: once, after an upgrade.
        let mut by_part: Vec<Vec<&Path>> = vec![Vec::new(); PARTS];
        for l in &logs {
            match l.part {
                Some(p) => by_part[p].push(&l.path),
                None => by_part.iter_mut().for_each(|paths| paths.push(&l.path)),
            }
        }
        let tmp = dir.join("base.idx.tmp");
        let old = self.lookup().base;
        let written = merge(old.as_deref(), &by_part, dir, &tmp, CHUNK_PAIRS);
        drop(old);
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let path = dir.join(BASE);
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
        // The logs are in the base now.
        for l in &logs {
            fs::remove_file(&l.path).map_err(io_err(&l.path))?;
        }
        log.generation += 1;
        drop(log);
        self.load_base()
    }

    /// The number of IDs in the index, as of the last commit.
    pub fn len(&self) -> u64 {
        self.lookup().base.map_or(0, |b| b.len())
    }

    /// Whether the index holds no ID, as of the last commit.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A partition bigger than the in-memory cap is sorted in spilled runs,
    /// merged with the base: same answers, later pairs winning.
    #[test]
    fn a_partition_past_the_cap_is_merged_from_spilled_runs() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ChangeIndex::open(dir.path().join("i"), None).unwrap();
        // Base: ids 0..3000 step 3 in partition 0 and a few in the last one.
        let first: Vec<Pair> = (0..1000u64).map(|i| (i * 3, 1)).chain([(u64::MAX - 5, 1)]).collect();
        idx.record_acked(&first).unwrap();
        idx.commit().unwrap();
        // Then 2,500 pairs in partition 0 (cap 100: 25 runs), overwriting some ids twice.
        let later: Vec<Pair> = (0..2500u64).map(|i| ((i * 7) % 4000, 2 + i / 1250)).collect();
        idx.record_acked(&later).unwrap();
        let mut log = idx.shared.log.lock().unwrap();
        log.files.iter_mut().for_each(|f| *f = None);
        let found = logs(idx.dir()).unwrap();
        let mut by_part: Vec<Vec<&Path>> = vec![Vec::new(); PARTS];
        for l in &found {
            by_part[l.part.unwrap()].push(&l.path);
        }
        let out = idx.dir().join("merged.idx");
        let base = idx.lookup().base;
        merge(base.as_deref(), &by_part, idx.dir(), &out, 100).unwrap();
        let merged = Base::open(&out).unwrap();
        let mut want = std::collections::BTreeMap::new();
        want.extend(first.iter().copied());
        want.extend(later.iter().copied());
        assert_eq!(merged.len(), want.len() as u64);
        for (&id, &op) in &want {
            assert_eq!(merged.get(id).unwrap(), Some(op), "id {id}");
        }
        assert!(!fs::read_dir(idx.dir()).unwrap().any(|e| e.unwrap().path().to_string_lossy().contains("run-")));
    }

    /// A write that fails (a full disk: here a log that is `/dev/full`) may
    /// leave part of a frame, which ends its log's reading: the writes after
    /// it go to the next generation's logs, so none of them is lost.
    #[test]
    fn pairs_recorded_after_a_failed_write_survive_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ChangeIndex::open(dir.path().join("i"), None).unwrap();
        let in_part = |p: u64, i: u64| (p << (64 - log::PART_BITS)) | i;
        let full = idx.dir().join(log_name(idx.shared.log.lock().unwrap().generation, 3));
        std::os::unix::fs::symlink("/dev/full", &full).unwrap();
        let first: Vec<Pair> = vec![(in_part(2, 1), 10), (in_part(3, 1), 11)];
        assert!(idx.record_acked(&first).is_err(), "the log of partition 3 is full");
        // Not acknowledged as recorded: the caller sends these again later.
        let later: Vec<Pair> = vec![(in_part(3, 2), 12), (in_part(3, 1), 13), (in_part(5, 1), 14)];
        idx.record_acked(&later).unwrap();
        idx.commit().unwrap();
        for &(id, op) in &later {
            assert!(idx.is_unchanged(id, op).unwrap(), "{id:x}");
        }
    }

    /// Logs written by the one-file format of an earlier version are read.
    #[test]
    fn logs_of_the_earlier_one_file_form_are_merged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i");
        fs::create_dir_all(&path).unwrap();
        let pairs: Vec<Pair> = (0..500u64).map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15), i)).collect();
        // One frame of `pairs`, as the one-file form wrote it.
        let write_log = |name: &str, pairs: &[Pair]| {
            let mut frame = Vec::new();
            open_frame(&mut frame);
            for &pair in pairs {
                push_pair(&mut frame, pair);
            }
            seal(&mut frame);
            fs::write(path.join(name), &frame).unwrap();
        };
        write_log("acked-0000000004.log", &pairs);
        // A later log of the same form overrides the first ids: later pairs win.
        let later: Vec<Pair> = pairs[..10].iter().map(|&(id, op)| (id, op + 1000)).collect();
        write_log("acked-0000000005.log", &later);
        let idx = ChangeIndex::open(path.clone(), None).unwrap();
        assert_eq!(idx.len(), 500);
        assert!(later.iter().chain(&pairs[10..]).all(|&(id, op)| idx.is_unchanged(id, op).unwrap()));
        assert_eq!(logs(&path).unwrap().len(), 0);
        // New records go to a later generation than the old logs'.
        idx.record_acked(&pairs[..1]).unwrap();
        assert!(logs(&path).unwrap().iter().all(|l| l.generation > 5 && l.part.is_some()));
    }
}
