//! The guards' preflight pass: the input read and transformed as `validate`
//! reads it (`pipeline::for_each_checked`: the same mapping, no JSON kept),
//! counting rows, rejects and the values `blank = "clear"` would delete; and
//! for `changed_only`, the rows the change index would send (the import's own
//! first read, `pipeline::scan_changes`). Blocking: run it on the blocking pool.

use crate::pipeline;
use anyhow::{Context as _, Result};
use batchport_source::{self as source, CsvSource};
use batchport_state::Store;
use batchport_transform::Transformer;
use batchport_transform::job::Job;
use std::path::PathBuf;

/// What the preflight found in the input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measured {
    /// Rows read (all of them, unless `partial`).
    pub rows: u64,
    /// Rows the transform rejects.
    pub rejects: u64,
    /// Values the valid rows would send as `null` (`blank = "clear"`).
    pub clears: u64,
    /// Values the valid rows map (valid rows × mapped natives and
    /// attributes): what `clears` is a share of.
    pub mapped: u64,
    /// The pass stopped once it had the rows `Need::RowsUpTo` asked for.
    pub partial: bool,
    /// Every input is a rejects (or uncertain) file of batchport's, fixed
    /// and imported again: a fix-up (see [`is_report_header`]).
    pub fixup: bool,
}

/// Whether a header is that of a rejects, uncertain or partial file (the
/// source's columns plus `_line`, `_column`, `_reason`, `_raw`): importing one
/// is the README's fix-up, small by nature and never acknowledged before.
pub fn is_report_header(headers: &[String]) -> bool {
    crate::report::REPORT_COLUMNS.iter().all(|c| headers.iter().any(|h| h == c))
}

/// How much of the input the guards to judge need read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Only whether it has this many rows (no baseline: only `refuse_empty`
    /// and `min_rows` are judged), so a first import is not read twice; the
    /// rows are counted, not transformed (their rejects are not measured).
    RowsUpTo(u64),
    /// Every row.
    Everything,
}

/// Read and check `files` as `validate` does, until `need` is met or
/// `go_on` turns false (`None`: stopped).
pub fn measure(job: &Job, files: &[PathBuf], need: Need, go_on: &dyn Fn() -> bool) -> Result<Option<Measured>> {
    let src = job.source.as_ref().context("this job reads no input")?;
    let per_row = job.mapping.profile().map_or(0, |p| p.mapped_values()) as u64;
    let mut m = Measured { fixup: !files.is_empty(), ..Measured::default() };
    for file in files {
        let mut csv = CsvSource::open(file, &src.options)?;
        m.fixup &= is_report_header(csv.headers());
        if let Need::RowsUpTo(n) = need {
            // Only a count: the reader alone, no transform, no read-ahead
            // (an object is not streamed further than the rows asked for).
            let mut rows = Vec::new();
            while m.rows < n && go_on() {
                rows.clear();
                let more = csv.read_chunk((n - m.rows).min(4096) as usize, &mut rows)?;
                m.rows += rows.len() as u64;
                if !more {
                    break;
                }
            }
            if !go_on() {
                return Ok(None);
            }
            if m.rows >= n {
                m.partial = true;
                break;
            }
            continue;
        }
        let t = Transformer::bind_rows(job, csv.headers(), file)?;
        pipeline::for_each_checked(csv, &t, |chunk| {
            for r in chunk.results {
                m.rows += 1;
                match r {
                    Ok((subs, ..)) => {
                        m.clears += u64::from(subs.clears);
                        m.mapped += per_row;
                    }
                    Err(_) => m.rejects += 1,
                }
            }
            go_on()
        })?;
        if !go_on() {
            return Ok(None);
        }
    }
    Ok(Some(m))
}

/// Rows of `files` that the job's change index at `scope` holds unchanged
/// (the import's first read, done ahead). `None` when it cannot tell: the
/// index is empty (a first run, or after `reset --delta`: every row is sent),
/// an input is an object (read once, looked up row by row, not ahead), or
/// `go_on` turned false.
pub fn count_unchanged(
    job: &Job,
    store: &Store,
    scope: &str,
    files: &[PathBuf],
    go_on: &dyn Fn() -> bool,
) -> Result<Option<u64>> {
    let src = job.source.as_ref().context("this job reads no input")?;
    if files.iter().any(|f| source::is_remote(f)) {
        return Ok(None);
    }
    let index = store.change_index(scope)?;
    if index.is_empty() {
        return Ok(None);
    }
    let mut unchanged = 0;
    for (i, file) in files.iter().enumerate() {
        let lookup = if i + 1 == files.len() { index.lookup().last_file() } else { index.lookup() };
        let csv = CsvSource::open(file, &src.options)?;
        let t = Transformer::bind_rows(job, csv.headers(), file)?;
        match pipeline::scan_changes(csv, &t, &lookup, 0, go_on)? {
            Some(delta) => unchanged += delta.unchanged_count(),
            None => return Ok(None),
        }
    }
    Ok(Some(unchanged))
}
