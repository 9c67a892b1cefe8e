//! The durable state store: one sled database per job (`<state>/jobs/<job>/store`),
//! holding the runs (`runs.rs`: typed status and kind, per-kind progress; their
//! stored, versioned form and its migrations in `record.rs`) and the per-batch
//! ledger (`ledger.rs`). All sled use in batchport goes through this module;
//! every call blocks (the run lifecycle makes them on tokio's blocking pool).
//! The change index (`change.rs`) lives in files of its own beside the store.
//!
//! sled's exclusive file lock doubles as the run lock: a second process that
//! opens the same folder gets `StateError::Locked`. Keys are few by design
//! (one per run, one per batch in flight)
//! because sled's memory and disk grow with the number of keys.

mod change;
mod error;
mod events;
mod imported;
mod ledger;
mod record;
mod runs;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use batchport_source::fingerprint::{Fingerprint, fingerprint, still_begins_as};
pub use change::{ChangeIndex, Delta, Lookup, Scan, Skip, UNKNOWN_OP, row_sum as change_row_sum};
pub use error::StateError;
pub use events::{EventIndex, Known};
pub use imported::Imported;
pub use ledger::{BatchRecord, BatchState, Tally};
pub use runs::{Counters, ExportProgress, GuardNote, ImportProgress, PartDone, Run, RunProgress, RunStatus};

/// sled's page cache. Its default (1 GB) would blow the 64 MB memory target;
/// the hot data (a run, the batches in flight, the buckets being checked) is
/// small, and bulk change-index reads are sequential.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// How often sled writes buffered updates in the background. Settled batches
/// of idempotent kinds rely on it (see `Store::record_batch`).
const FLUSH_EVERY_MS: u64 = 200;

/// sled's I/O threads can hold the database file for a moment after the last
/// handle is dropped, so reopening a store in the same process (tests,
/// `schedule`) may briefly see our own lock. Another process holds it for
/// the length of a run: waiting this long before saying so costs nothing.
const LOCK_GRACE: Duration = Duration::from_secs(1);

/// The store. Cheap to clone (the clones share one database); every method
/// takes `&self`.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// What a `Store` and its `ChangeIndex` handles share.
pub(crate) struct Inner {
    path: PathBuf,
    db: sled::Db,
    runs: sled::Tree,
    ledger: sled::Tree,
    /// Only read to drop the packed buckets of an older change index (the
    /// index now lives in files of its own: `change.rs`).
    changes: sled::Tree,
    /// The event index (`events.rs`).
    events: sled::Tree,
}

impl Store {
    /// Open or create `<dir>/store`.
    ///
    /// Another process holding it gives `Locked`. A store that exists but
    /// cannot be read gives `Corrupt`: it is never silently replaced, because
    /// an events run that starts over sends events twice. With
    /// `move_aside_if_corrupt`, the broken store is renamed to
    /// `store.broken-<UTC timestamp>` (so the next open starts fresh) and the
    /// error says where; the error is returned either way.
    pub fn open(dir: &Path, move_aside_if_corrupt: bool) -> Result<Store, StateError> {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Io { path: dir.to_path_buf(), source })?;
        let path = dir.join("store");
        let config = sled::Config::new()
            .path(&path)
            .cache_capacity(CACHE_BYTES)
            .flush_every_ms(Some(FLUSH_EVERY_MS))
            .mode(sled::Mode::LowSpace);
        let started = Instant::now();
        let opened = loop {
            // sled 0.34 panics on some damaged files instead of returning an error.
            let attempt = std::panic::catch_unwind(AssertUnwindSafe(|| -> sled::Result<_> {
                let db = config.open()?;
                let runs = db.open_tree("runs")?;
                let ledger = db.open_tree("ledger")?;
                let changes = db.open_tree("changes")?;
                let events = db.open_tree("events")?;
                Ok((db, runs, ledger, changes, events))
            }));
            match &attempt {
                Ok(Err(e)) if matches!(classify(e), Failure::Locked) && started.elapsed() < LOCK_GRACE => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => break attempt,
            }
        };
        let cause = match opened {
            Ok(Ok((db, runs, ledger, changes, events))) => match check_identity(&db, &path) {
                Ok(()) => {
                    let inner = Inner { path, db, runs, ledger, changes, events };
                    return Ok(Store { inner: Arc::new(inner) });
                }
                // Dropping the handles releases sled's lock before a move.
                Err(cause) => cause,
            },
            Ok(Err(e)) => match classify(&e) {
                Failure::Locked => return Err(StateError::Locked { path }),
                Failure::Io(source) => return Err(StateError::Io { path, source }),
                Failure::Corrupt => e.to_string(),
            },
            Err(panic) => format!("sled failed while reading it: {}", panic_message(&panic)),
        };
        let moved_to = if move_aside_if_corrupt {
            Some(move_aside(&path).map_err(|source| StateError::Io { path: path.clone(), source })?)
        } else {
            None
        };
        Err(StateError::Corrupt { path, cause, moved_to })
    }

    /// The sled database folder (`<dir>/store`).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Make everything written so far durable (fsync). The change index
    /// has its own files: see `ChangeIndex::commit`.
    pub fn flush(&self) -> Result<(), StateError> {
        self.inner.flush()
    }
}

impl Inner {
    pub(crate) fn flush(&self) -> Result<(), StateError> {
        self.db.flush().map(drop).map_err(|e| self.err(e))
    }

    pub(crate) fn err(&self, e: sled::Error) -> StateError {
        StateError::Store { path: self.path.clone(), cause: e.to_string() }
    }

    pub(crate) fn bad_record(&self, key: &[u8], cause: impl ToString) -> StateError {
        StateError::BadRecord {
            path: self.path.clone(),
            key: String::from_utf8_lossy(key).into_owned(),
            cause: cause.to_string(),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!("{e}");
        }
    }
}

/// The file next to sled's own, holding the store's identity.
const MARKER: &str = "batchport-store-id";
const IDENTITY_KEY: &[u8] = b"batchport-store-id";

/// sled recovers a damaged log by keeping what precedes the damage: a store
/// whose first bytes are damaged opens as an empty database, without error.
/// That would silently start every run over. So the store's identity is kept
/// twice: in sled and in a marker file written once sled has it durably. A
/// marker without the identity in sled means sled lost the data.
fn check_identity(db: &sled::Db, path: &Path) -> Result<(), String> {
    let marker = path.join(MARKER);
    let in_sled = db.get(IDENTITY_KEY).map_err(|e| e.to_string())?;
    let in_file = match std::fs::read(&marker) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("its marker file {} cannot be read: {e}", marker.display())),
    };
    match (in_sled, in_file) {
        (Some(id), Some(file)) if *id == *file => Ok(()),
        (Some(_), Some(_)) => Err(format!("its marker file {} names another database", marker.display())),
        (None, Some(_)) => {
            Err("it holds no data although it was written to before; its database file was damaged".into())
        }
        // A new store (or one killed before its marker was written).
        (id, None) => {
            let id = match id {
                Some(id) => id.to_vec(),
                None => {
                    let id = format!("{:032x}", rand::random::<u128>()).into_bytes();
                    db.insert(IDENTITY_KEY, id.as_slice()).map_err(|e| e.to_string())?;
                    db.flush().map_err(|e| e.to_string())?;
                    id
                }
            };
            std::fs::write(&marker, id)
                .map_err(|e| format!("its marker file {} cannot be written: {e}", marker.display()))
        }
    }
}

enum Failure {
    Locked,
    Corrupt,
    Io(std::io::Error),
}

/// Sort sled's open errors into: the run lock, a damaged store, or a file
/// system problem that says nothing about the store (and must not move it).
fn classify(e: &sled::Error) -> Failure {
    use std::io::ErrorKind;
    match e {
        // sled wraps fs2's WouldBlock into an `Other` error with this text.
        sled::Error::Io(io)
            if io.kind() == ErrorKind::WouldBlock || io.to_string().contains("could not acquire lock") =>
        {
            Failure::Locked
        }
        sled::Error::Io(io) if matches!(io.kind(), ErrorKind::UnexpectedEof | ErrorKind::InvalidData) => {
            Failure::Corrupt
        }
        sled::Error::Io(io) => Failure::Io(std::io::Error::new(io.kind(), io.to_string())),
        _ => Failure::Corrupt,
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic".to_string()
    }
}

/// Rename `path` to `path.broken-<UTC timestamp>` (with a counter if taken).
fn move_aside(path: &Path) -> std::io::Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "store".into());
    let mut to = path.with_file_name(format!("{name}.broken-{stamp}"));
    let mut n = 1;
    while to.exists() {
        n += 1;
        to = path.with_file_name(format!("{name}.broken-{stamp}-{n}"));
    }
    std::fs::rename(path, &to)?;
    Ok(to)
}

/// A key made of a length-prefixed name then a big-endian number, so that a
/// name's keys are contiguous, in number order, and never mix with another
/// name that shares its first bytes.
pub(crate) fn name_key(tag: u8, name: &str, n: Option<u64>) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 13);
    k.push(tag);
    k.extend_from_slice(&(name.len() as u32).to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    if let Some(n) = n {
        k.extend_from_slice(&n.to_be_bytes());
    }
    k
}

/// The key a job's per-destination records are kept under: the job name and
/// a hash of the destination's text. Every scope of one job has the same
/// length, so `scopes_prefix` finds them all.
pub fn scope(job: &str, destination: &str) -> String {
    format!("{job}#{:016x}", xxhash_rust::xxh3::xxh3_64(destination.as_bytes()))
}

/// The key prefix of every scope of `job` under `tag` (see [`name_key`]).
pub(crate) fn scopes_prefix(tag: u8, job: &str) -> Vec<u8> {
    let mut k = name_key(tag, &format!("{job}#{:016x}", 0), None);
    k.truncate(k.len() - 16);
    k
}

/// UTC now as RFC 3339 with microseconds: sorts as text in time order.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
