//! Input fingerprints: what makes a run resumable only over the very same
//! files (invariant 4). Size and mtime catch appends and rewrites cheaply; the
//! head hash catches a file replaced by one of the same size and time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

/// How much of the head is hashed.
const HEAD_BYTES: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Absolute when it could be made so: a run started from another working
    /// directory still matches.
    pub path: PathBuf,
    pub size: u64,
    /// Nanoseconds since the Unix epoch (negative before it).
    pub mtime_ns: i128,
    /// xxh3 of the first 64 KiB (0 for an object: its ETag says more).
    pub head_hash: u64,
    /// An object's ETag (`source::fingerprint`); none for a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// The fingerprint of a file on disk.
pub fn fingerprint(path: &Path) -> std::io::Result<Fingerprint> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let mtime = meta.modified()?;
    let mtime_ns = match mtime.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    };
    let mut head = Vec::with_capacity(HEAD_BYTES as usize);
    file.take(HEAD_BYTES).read_to_end(&mut head)?;
    Ok(Fingerprint {
        path: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
        size: meta.len(),
        mtime_ns,
        head_hash: xxhash_rust::xxh3::xxh3_64(&head),
        etag: None,
    })
}
