//! Turning the job's `[source] path` (a file or a glob) into a sorted list of
//! files.

use std::path::{Path, PathBuf};

use super::SourceError;

/// Expand `pattern` (a path or a glob; relative patterns are relative to `base`)
/// into files, sorted by path so runs see them in a stable order. A plain path
/// must exist and be a file (an existing file is taken literally even if its
/// name looks like a glob); a glob must match at least one file (directories
/// it matches are left out).
pub fn expand(pattern: &str, base: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let relative = Path::new(pattern).is_relative();
    let path = if relative { base.join(pattern) } else { PathBuf::from(pattern) };
    // An existing file is taken literally, even if its name has `[` or `*`.
    if path.is_file() {
        return Ok(vec![path]);
    }
    if !pattern.contains(['*', '?', '[']) {
        check_regular(&path)?;
        return Ok(vec![path]);
    }

    // The base directory is literal text: escape it so a `[` in it is not a class.
    let full = if relative {
        let base = glob::Pattern::escape(&base.to_string_lossy());
        let sep = std::path::MAIN_SEPARATOR;
        if base.is_empty() || base.ends_with(sep) || base.ends_with('/') {
            format!("{base}{pattern}")
        } else {
            format!("{base}{sep}{pattern}")
        }
    } else {
        pattern.to_string()
    };
    let opts =
        glob::MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: true };
    let paths = glob::glob_with(&full, opts)
        .map_err(|e| SourceError::BadPattern { pattern: pattern.to_string(), reason: e.msg.to_string() })?;
    let mut files = Vec::new();
    for entry in paths {
        match entry {
            // Only regular files: a FIFO or a device in the folder is left out.
            Ok(p) if p.is_file() => files.push(p),
            Ok(_) => {}
            Err(e) => {
                let path = e.path().to_path_buf();
                return Err(SourceError::open(&path, e.into()));
            }
        }
    }
    if files.is_empty() {
        // A job file in the working folder has an empty base: name the folder.
        let base = match base.as_os_str().is_empty() {
            true => std::env::current_dir().unwrap_or_else(|_| ".".into()),
            false => base.to_path_buf(),
        };
        return Err(SourceError::NoMatch { pattern: pattern.to_string(), base });
    }
    files.sort();
    Ok(files)
}

/// Refuse what is not a regular file, without opening it: opening a FIFO
/// blocks until something writes to it, and reading one consumes its data.
pub(crate) fn check_regular(path: &Path) -> Result<(), SourceError> {
    let meta = std::fs::metadata(path).map_err(|e| SourceError::open(path, e))?;
    if meta.is_dir() {
        return Err(SourceError::NotAFile { path: path.to_path_buf() });
    }
    if !meta.is_file() {
        return Err(SourceError::NotRegular { path: path.to_path_buf() });
    }
    Ok(())
}
