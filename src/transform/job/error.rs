//! Errors in a job file: each names the file, and where it can, the line and key.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    // The io::Error is in the message, not a `source`: shown with its chain
    // it would be printed twice.
    #[error("cannot read job file {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}:{line}: {message}")]
    At { path: PathBuf, line: usize, message: String },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

/// Turns byte offsets into 1-based line numbers of one job file.
pub struct Lines<'a> {
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
