//! Input fingerprints: what makes a run resumable only over the very same
//! files (invariant 4). Size and mtime catch appends and rewrites cheaply; the
//! head hash catches a file replaced by one of the same size and time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

/// How much of the head is hashed.
const HEAD_BYTES: u64 = 64 * 1024;

/// An input as a run found it: a run resumes only over inputs whose
/// fingerprints still match, and a file is "already imported" only as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Absolute when it could be made so: a run started from another working
    /// directory still matches.
    pub path: PathBuf,
    /// Length in bytes (on disk: compressed for a `.gz`).
    pub size: u64,
    /// Nanoseconds since the Unix epoch (negative before it).
    pub mtime_ns: i128,
    /// xxh3 of the first 64 KiB (0 for an object: its ETag says more).
    pub head_hash: u64,
    /// An object's ETag (`source::fingerprint`); none for a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// Whether the file at `old.path` still begins with what `old` described:
/// no smaller, and the same first bytes (as many as `old`'s head hash
/// covered). True for a file that only grew; false for one rewritten, whose
/// rows no longer sit at the record numbers an earlier run knew them by.
/// An object (no head hash) is the same only under the same ETag.
pub fn still_begins_as(old: &Fingerprint) -> bool {
    if old.etag.is_some() || old.head_hash == 0 {
        return false;
    }
    let Ok(file) = std::fs::File::open(&old.path) else { return false };
    if file.metadata().map(|m| m.len()).unwrap_or(0) < old.size {
        return false;
    }
    let mut head = Vec::with_capacity(HEAD_BYTES as usize);
    if file.take(HEAD_BYTES.min(old.size)).read_to_end(&mut head).is_err() {
        return false;
    }
    xxhash_rust::xxh3::xxh3_64(&head) == old.head_hash
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_grew_still_begins_as_before_and_a_rewritten_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.csv");
        std::fs::write(&path, "id,event\nu1,a\nu2,b\n").unwrap();
        let old = fingerprint(&path).unwrap();
        assert!(still_begins_as(&old));
        std::fs::write(&path, "id,event\nu1,a\nu2,b\nu3,c\n").unwrap();
        assert!(still_begins_as(&old), "appended");
        std::fs::write(&path, "id,event\nu2,b\nu1,a\nu3,c\n").unwrap();
        assert!(!still_begins_as(&old), "rewritten in another order");
        std::fs::write(&path, "id,event\nu1,a\n").unwrap();
        assert!(!still_begins_as(&old), "cut short");
        std::fs::remove_file(&path).unwrap();
        assert!(!still_begins_as(&old), "gone");
    }
}
