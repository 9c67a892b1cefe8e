//! Reading CSV sources: find the files (`expand`), then stream each one
//! (`CsvSource`) as chunks of raw rows with exact positions, whatever its
//! encoding, delimiter, line endings or compression. Memory stays flat: the
//! file is read through a fixed buffer, never whole.
//!
//! Submodules: `options` (how to read: delimiter, encoding, format),
//! `csv_source` (the reader over one file), `block` (rows read in bulk, for
//! the pipeline), `glob` (file lists), `encoding` (byte stack: gzip, encoding
//! detection, transcoding), `sniff` (delimiter), `reader` (record parser and
//! positions), `split` (the parser's fast path), `quotes` (quoting faults
//! csv-core lets through), `ndjson` (JSON lines read as CSV), `error`,
//! `fingerprint` (what a resumable run pins its files by), `remote` (object
//! store URLs: `crate::objstore`).
//!
//! Rows the reader can tell are wrong (a repeated header, a quote closed in
//! the middle of a cell or never closed) come out with a `flaw`, for the
//! transform to reject. At the end of each file its size, modification time
//! and head are checked again: a file that shrank or changed while it was read
//! fails the read; one that grew is reported (`grew`).

mod block;
mod csv_source;
mod encoding;
mod error;
pub mod fingerprint;
mod glob;
mod ndjson;
pub mod objstore;
mod options;
mod quotes;
mod reader;
mod remote;
mod sniff;
mod split;

use std::path::{Path, PathBuf};

pub use block::{Block, BlockRow, Cells, RowCells};
pub use csv_source::CsvSource;
pub use error::SourceError;
pub use glob::expand;
pub use options::{Delimiter, Encoding, Format, SourceOptions};
pub use remote::is_remote;

/// Rows per chunk, the unit rows are read, mapped and handed on in: large
/// enough to amortise the hand-off, small enough that a chunk in flight is a
/// few megabytes. The change index's windows are chunks too, so the scan and
/// the pipeline agree on it here, below both.
pub const CHUNK_ROWS: usize = 2_048;

/// Expand the job's `path`: a local file or glob (see [`expand`]), or an
/// object URL or URL glob (`s3://bucket/exports/users-*.csv.gz`), sorted.
pub fn expand_with(pattern: &str, base: &Path, opts: &SourceOptions) -> Result<Vec<PathBuf>, SourceError> {
    if crate::objstore::is_url(pattern) { remote::expand(pattern, opts) } else { expand(pattern, base) }
}

/// The fingerprint of an input: a file's size, mtime and head hash, or an
/// object's ETag, size and last-modified.
pub fn fingerprint(path: &Path, opts: &SourceOptions) -> Result<fingerprint::Fingerprint, SourceError> {
    if is_remote(path) {
        remote::fingerprint(path, opts)
    } else {
        fingerprint::fingerprint(path).map_err(|e| SourceError::open(path, e))
    }
}

/// Where a record starts: 1-based physical line in the source file, the byte
/// offset in the (decoded) stream (only meaningful to seek when
/// `CsvSource::seekable()`; then it is the offset in the file), and the
/// 0-based index of the data record (the header is not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// The physical line the record starts on, from 1.
    pub line: u64,
    /// The offset of its first byte in the decoded stream (in the file when
    /// the source is seekable).
    pub byte: u64,
    /// The index of the data record, from 0 (the header is not counted).
    pub record: u64,
}

/// One data record, fields exactly as in the file (after transcoding).
#[derive(Debug, Clone)]
pub struct RawRow {
    /// Where the record starts.
    pub pos: Position,
    /// The record's fields, bytes as read.
    pub record: csv::ByteRecord,
    /// What the reader found wrong with the row (the transform rejects it
    /// with this reason): `None` for nearly every row.
    pub flaw: Option<String>,
}

impl RawRow {
    /// A row without a flaw.
    pub fn new(pos: Position, record: csv::ByteRecord) -> Self {
        RawRow { pos, record, flaw: None }
    }
}
