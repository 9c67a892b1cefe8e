//! `SourceError`: everything that can go wrong while finding and reading input
//! files. Each message names the file (or pattern) and says what to do.

use std::io;
use std::path::PathBuf;

/// An error from the source reader. `Display` is meant for people: it names the
/// file, says what is wrong and, where it helps, what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file does not exist.
    #[error("{path}: file not found; check the `path` in the [source] section of the job")]
    NotFound {
        /// The path looked for.
        path: PathBuf,
    },

    /// A glob that matches no file.
    #[error(
        "no files match the glob `{pattern}` (relative to {base}); check the `path` in the [source] section of the job"
    )]
    NoMatch {
        /// The glob as written in the job.
        pattern: String,
        /// The folder a relative glob is taken from.
        base: PathBuf,
    },

    /// The glob does not parse.
    #[error("invalid glob `{pattern}`: {reason}; use `*`, `?` and `[...]` as in shell globs")]
    BadPattern {
        /// The glob as written in the job.
        pattern: String,
        /// The glob crate's complaint.
        reason: String,
    },

    /// The file exists but this user may not read it.
    #[error("{path}: permission denied; make the file readable by this user")]
    PermissionDenied {
        /// The file.
        path: PathBuf,
    },

    /// The path names a directory.
    #[error("{path}: is a directory, not a file; give a file or a glob such as `dir/*.csv`")]
    NotAFile {
        /// The directory.
        path: PathBuf,
    },

    /// Opening the file (or reading its metadata) failed otherwise.
    // The io::Error is in the message and not a `source`: printed with its
    // chain, it would otherwise appear twice.
    #[error("{path}: cannot open: {error}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        error: io::Error,
    },

    /// A FIFO, socket or device: it cannot be read twice.
    #[error(
        "{path}: is not a regular file (a FIFO, socket or device?); batchport reads a file twice (fingerprint, then data): write the data to a file first"
    )]
    NotRegular {
        /// The FIFO, socket or device.
        path: PathBuf,
    },

    /// The file has no header row.
    #[error(
        "{path}: the file is empty (no header row, no JSON line); a CSV source needs a first row naming the columns"
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },

    /// A `.gz` name over content that is not gzip.
    #[error("{path}: the name ends in .gz but the content is not gzip data; rename the file or compress it with gzip")]
    NotGzip {
        /// The file.
        path: PathBuf,
    },

    /// Decoded, the head still has NUL bytes: not text.
    #[error(
        "{path}: does not look like a CSV file: it has NUL bytes near the start (a binary file, or compressed in a format other than gzip?)"
    )]
    Binary {
        /// The file.
        path: PathBuf,
    },

    /// Read as JSON lines (by its name or `format`), no line is an object.
    #[error(
        "{path}: no line is a JSON object with a field, so this is not JSON lines (one object per line); for a CSV file set `format = \"csv\"` in the [source] section"
    )]
    NotJson {
        /// The file.
        path: PathBuf,
    },

    /// The header row has a flaw a data row would be rejected for.
    #[error("{path}: the header row is not valid CSV: {reason}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// The flaw, as a reject would give it.
        reason: String,
    },

    /// The data stops decoding part way: a truncated or corrupt file.
    #[error(
        "{path}: cannot read the data at line {line}: {error}; the file is truncated or corrupt (the rows before line {line} were read)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The line the reader had reached.
        line: u64,
        /// What the decoder said.
        error: io::Error,
    },

    /// Reading failed for a reason that says nothing of the content.
    #[error("{path}: I/O error at line {line}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The line the reader had reached.
        line: u64,
        /// What the OS said.
        error: io::Error,
    },

    /// A quote never closed, in a stream that cannot go back past it.
    #[error(
        "{path}: a quote opened at line {line} is never closed, so every line after it would be read as one cell; \
         the rows before line {line} were read; fix the quote (a plain, uncompressed UTF-8 file is read past it, that row rejected)"
    )]
    Unclosed {
        /// The file.
        path: PathBuf,
        /// The line the quote opens on.
        line: u64,
    },

    /// The end-of-file check found the file shrunk, rewritten or gone.
    #[error(
        "{path}: the file changed while it was read ({what}); the rows read so far were kept: run again once the file is complete"
    )]
    Changed {
        /// The file.
        path: PathBuf,
        /// How it changed.
        what: String,
    },

    /// A record larger than the reader will hold, where it cannot be skipped.
    #[error(
        "{path}: the record starting at line {line} is larger than {limit} bytes; is this really a CSV file (an unbalanced quote can swallow the rest of the file)?"
    )]
    RecordTooLarge {
        /// The file.
        path: PathBuf,
        /// The line the record starts on.
        line: u64,
        /// The most bytes a record may have.
        limit: usize,
    },

    /// The reader cannot continue at a position of an earlier read (the file
    /// changed, or cannot seek).
    #[error(
        "{path}: cannot resume after record {record} (line {line}): {reason}; the file changed since the last run: reset the job's state to start over"
    )]
    Resume {
        /// The file.
        path: PathBuf,
        /// The record number of that position.
        record: u64,
        /// Its line.
        line: u64,
        /// Why the reader cannot continue there.
        reason: String,
    },

    /// An object store URL could not be listed or read.
    #[error(transparent)]
    Store(#[from] crate::objstore::StoreError),
}

impl SourceError {
    /// The input is not a file of the job's kind at all: empty, a directory,
    /// a device or FIFO, not the gzip its name says, binary, or a header row
    /// that cannot be read. Running again will not help: it is a setup
    /// mistake, like a job naming a column the file does not have (exit 2).
    /// A file that is missing, unreadable or breaks part way is not this.
    pub fn is_wrong_kind(&self) -> bool {
        matches!(
            self,
            SourceError::Empty { .. }
                | SourceError::NotGzip { .. }
                | SourceError::NotAFile { .. }
                | SourceError::NotRegular { .. }
                | SourceError::Binary { .. }
                | SourceError::NotJson { .. }
                | SourceError::BadHeader { .. }
        )
    }

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
