//! The hook between the CSV reader and object stores (`crate::objstore`):
//! a source `path` that is a URL (`s3://`, `gs://`, `az://`, `https://`...)
//! is expanded over a listing, fingerprinted by ETag, size and last-modified,
//! and read as a seekable byte stream ([`Raw::Object`]), so everything above
//! the raw bytes (gzip, encodings, the parser, resume by byte offset) is the
//! same for files and objects.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{SourceError, SourceOptions};
use crate::fingerprint::Fingerprint;
use crate::objstore::{self, Access, Object, ObjectReader, StoreError};

/// True when the source path names objects.
pub fn is_remote(path: &Path) -> bool {
    path.to_str().is_some_and(objstore::is_url)
}

fn access(opts: &SourceOptions) -> Access {
    Access { endpoint: opts.endpoint.clone() }
}

fn url(path: &Path) -> &str {
    path.to_str().expect("is_remote checked the path is UTF-8")
}

/// The objects a URL or URL glob names, sorted, as paths (the URLs).
pub(crate) fn expand(pattern: &str, opts: &SourceOptions) -> Result<Vec<PathBuf>, SourceError> {
    let objects = objstore::expand(pattern, &access(opts))?;
    Ok(objects.into_iter().map(|o| PathBuf::from(o.url)).collect())
}

/// An object's fingerprint: its ETag, size and last-modified (no head hash:
/// the ETag already changes with the content).
pub(crate) fn fingerprint(path: &Path, opts: &SourceOptions) -> Result<Fingerprint, SourceError> {
    let o = objstore::head(url(path), &access(opts))?;
    let mtime_ns = o.last_modified.timestamp_nanos_opt().map_or(0, i128::from);
    Ok(Fingerprint { path: path.to_path_buf(), size: o.size, mtime_ns, head_hash: 0, etag: o.etag })
}

/// The bytes under the decoders: a local file or an object.
pub(crate) enum Raw {
    Local(File),
    Object(Box<ObjectReader>),
}

impl Raw {
    /// Open `path` and say its size. An object is read at the version the run
    /// pinned (`opts.etag`): if it is another one now, the run stops here.
    pub(crate) fn open(path: &Path, opts: &SourceOptions) -> Result<(Raw, u64), SourceError> {
        if !is_remote(path) {
            // Looked at before opening: opening a FIFO blocks until a writer comes.
            super::glob::check_regular(path)?;
            let file = File::open(path).map_err(|e| SourceError::open(path, e))?;
            let meta = file.metadata().map_err(|e| SourceError::open(path, e))?;
            if !meta.is_file() {
                return Err(SourceError::NotAFile { path: path.to_path_buf() });
            }
            return Ok((Raw::Local(file), meta.len()));
        }
        let url = url(path);
        let store = objstore::connect(url, &access(opts))?;
        let now: Object = objstore::head(url, &access(opts))?;
        if let (Some(pinned), Some(current)) = (&opts.etag, &now.etag) {
            if pinned != current {
                return Err(
                    StoreError::Changed { url: url.to_string(), pinned: pinned.clone(), now: current.clone() }.into()
                );
            }
        }
        let size = now.size;
        Ok((Raw::Object(Box::new(ObjectReader::new(store, now)?)), size))
    }

    /// Objects are not read again by position when settling (rejected rows
    /// keep their own bytes): only local files are.
    pub(crate) fn rereadable(&self) -> bool {
        matches!(self, Raw::Local(_))
    }
}

impl Read for Raw {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Raw::Local(f) => f.read(buf),
            Raw::Object(o) => o.read(buf),
        }
    }
}

impl Seek for Raw {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Raw::Local(f) => f.seek(pos),
            Raw::Object(o) => o.seek(pos),
        }
    }
}
