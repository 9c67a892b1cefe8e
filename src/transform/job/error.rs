//! Errors in a job file: each names the file, and where it can, the line and key.

use std::path::PathBuf;

/// What is wrong with a job file, and where: found reading it (`load`,
/// `parse`) or binding its mapping to a CSV header.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    // The io::Error is in the message, not a `source`: shown with its chain
    // it would be printed twice.
    /// The file cannot be read.
    #[error("cannot read job file {path}: {error}")]
    Read {
        /// The job file.
        path: PathBuf,
        /// Why it cannot be read.
        error: std::io::Error,
    },
    /// A key or value at a line of the file is wrong.
    #[error("{path}:{line}: {message}")]
    At {
        /// The job file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong, naming the key.
        message: String,
    },
    /// The file as a whole is wrong (a section or key is missing), or a file
    /// it names does not fit it.
    #[error("{path}: {message}")]
    File {
        /// The job file, or the file it names.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Turns byte offsets into 1-based line numbers of one job file.
pub(super) struct Lines<'a> {
    pub path: &'a std::path::Path,
    text: &'a str,
}

impl<'a> Lines<'a> {
    pub fn new(path: &'a std::path::Path, text: &'a str) -> Self {
        Lines { path, text }
    }

    pub fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// An error at the line of `span`.
    pub fn at(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> JobError {
        JobError::At { path: self.path.to_path_buf(), line: self.line(span.start), message: message.into() }
    }

    pub fn file(&self, message: impl Into<String>) -> JobError {
        JobError::File { path: self.path.to_path_buf(), message: message.into() }
    }
}
