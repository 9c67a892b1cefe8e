//! `SourceError`: everything that can go wrong while finding and reading input
//! files. Each message names the file (or pattern) and says what to do.

use std::io;
use std::path::PathBuf;

/// An error from the source reader. `Display` is meant for people: it names the
/// file, says what is wrong and, where it helps, what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: file not found; check the `path` in the [source] section of the job")]
    NotFound { path: PathBuf },

    #[error(
        "no files match the glob `{pattern}` (relative to {base}); check the `path` in the [source] section of the job"
    )]
    NoMatch { pattern: String, base: PathBuf },

    #[error("invalid glob `{pattern}`: {reason}; use `*`, `?` and `[...]` as in shell globs")]
    BadPattern { pattern: String, reason: String },

    #[error("{path}: permission denied; make the file readable by this user")]
    PermissionDenied { path: PathBuf },

    #[error("{path}: is a directory, not a file; give a file or a glob such as `dir/*.csv`")]
    NotAFile { path: PathBuf },

    // The io::Error is in the message and not a `source`: printed with its
    // chain, it would otherwise appear twice.
    #[error("{path}: cannot open: {error}")]
    Open { path: PathBuf, error: io::Error },

    #[error(
        "{path}: is not a regular file (a FIFO, socket or device?); batchport reads a file twice (fingerprint, then data): write the data to a file first"
    )]
    NotRegular { path: PathBuf },

    #[error("{path}: the file is empty (no header row); a CSV source needs a first row naming the columns")]
    Empty { path: PathBuf },

    #[error("{path}: the name ends in .gz but the content is not gzip data; rename the file or compress it with gzip")]
    NotGzip { path: PathBuf },

    #[error(
        "{path}: does not look like a CSV file: it has NUL bytes near the start (a binary file, or compressed in a format other than gzip?)"
    )]
    Binary { path: PathBuf },

    #[error("{path}: the header row is not valid CSV: {reason}")]
    BadHeader { path: PathBuf, reason: String },

    #[error(
        "{path}: cannot read the data at line {line}: {error}; the file is truncated or corrupt (the rows before line {line} were read)"
    )]
    Corrupt { path: PathBuf, line: u64, error: io::Error },

    #[error("{path}: I/O error at line {line}: {error}")]
    Io { path: PathBuf, line: u64, error: io::Error },

    #[error(
        "{path}: a quote opened at line {line} is never closed, so every line after it would be read as one cell; \
         the rows before line {line} were read; fix the quote (a plain, uncompressed UTF-8 file is read past it, that row rejected)"
    )]
    Unclosed { path: PathBuf, line: u64 },

    #[error(
        "{path}: the file changed while it was read ({what}); the rows read so far were kept: run again once the file is complete"
    )]
    Changed { path: PathBuf, what: String },

    #[error(
        "{path}: the record starting at line {line} is larger than {limit} bytes; is this really a CSV file (an unbalanced quote can swallow the rest of the file)?"
    )]
    RecordTooLarge { path: PathBuf, line: u64, limit: usize },

    #[error(
        "{path}: cannot resume after record {record} (line {line}): {reason}; the file changed since the last run: reset the job's state to start over"
    )]
    Resume { path: PathBuf, record: u64, line: u64, reason: String },

    /// An object store URL could not be listed or read.
    #[error(transparent)]
    Store(#[from] crate::objstore::StoreError),
}

impl SourceError {
    /// Classify an error from opening `path` (or reading its metadata).
    pub(crate) fn open(path: &std::path::Path, e: io::Error) -> Self {
        let path = path.to_path_buf();
        match e.kind() {
            io::ErrorKind::NotFound => SourceError::NotFound { path },
            io::ErrorKind::PermissionDenied => SourceError::PermissionDenied { path },
            io::ErrorKind::IsADirectory => SourceError::NotAFile { path },
            _ => SourceError::Open { path, error: e },
        }
    }

    /// Classify an error met while reading `path` at (about) `line`.
    pub(crate) fn read(path: &std::path::Path, line: u64, e: io::Error) -> Self {
        let path = path.to_path_buf();
        match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof => {
                SourceError::Corrupt { path, line, error: e }
            }
            io::ErrorKind::PermissionDenied => SourceError::PermissionDenied { path },
            _ => SourceError::Io { path, line, error: e },
        }
    }
}
