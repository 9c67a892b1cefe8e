//! Binding the mapping's column names to positions in one CSV header. A missing
//! or ambiguous column is a job error naming the key, its line and the file.

use super::error::JobError;
use super::settings::Column;
use std::path::Path;

/// The index of `col` in `headers`, or an error that says what is there instead.
pub(crate) fn find(headers: &[String], col: &Column, job_file: &Path, csv: &Path) -> Result<usize, JobError> {
    let mut hits = headers.iter().enumerate().filter(|(_, h)| **h == col.name).map(|(i, _)| i);
    let at = |message: String| JobError::At { path: job_file.to_path_buf(), line: col.line, message };
    match (hits.next(), hits.next()) {
        (Some(i), None) => Ok(i),
        (Some(a), Some(b)) => Err(at(format!(
            "{}: column `{}` appears more than once in the header of {} (columns {} and {}): rename one",
            col.key,
            col.name,
            csv.display(),
            a + 1,
            b + 1
        ))),
        (None, _) => {
            let hint = headers
                .iter()
                .find(|h| h.eq_ignore_ascii_case(&col.name) || normalise(h) == normalise(&col.name))
                .map(|h| format!(" (did you mean `{}`?)", printable(h)))
                .unwrap_or_default();
            let shown: Vec<String> = headers.iter().take(30).map(|h| printable(h)).collect();
            Err(at(format!(
                "{}: column `{}` is not in the header of {}{hint}; its columns are: {}{}",
                col.key,
                col.name,
                csv.display(),
                shown.join(", "),
                if headers.len() > 30 { ", ..." } else { "" }
            )))
        }
    }
}

/// A constant subscription guarded by `unless_columns`: refused when the
/// header has one of them (the file is another export than the one the
/// constant was read from).
pub(crate) fn check_unless(
    headers: &[String],
    n: &super::settings::NativeMap,
    job_file: &Path,
    csv: &Path,
) -> Result<(), JobError> {
    let (Some(value), unless) = (&n.rule.constant, &n.rule.unless_columns) else { return Ok(()) };
    let Some(found) = headers.iter().find(|h| unless.iter().any(|u| normalise(h) == normalise(u))) else {
        return Ok(());
    };
    Err(JobError::At {
        path: job_file.to_path_buf(),
        line: n.column.line,
        message: format!(
            "{}: the constant value \"{value}\" holds only for a file without {}, and {} has `{}`: it is another \
             export than the one this job was written for; point the job at the right file, or write a job for \
             this one (`batchport init`)",
            n.column.key,
            unless.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(" or "),
            csv.display(),
            printable(found)
        ),
    })
}

/// A header as it can be shown on a terminal: control characters escaped
/// (a binary file's "header" must not drive the terminal), long ones cut.
fn printable(h: &str) -> String {
    let mut out: String =
        h.chars().take(60).flat_map(|c| if c.is_control() { c.escape_debug().collect() } else { vec![c] }).collect();
    if h.chars().count() > 60 {
        out.push('…');
    }
    out
}

fn normalise(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}
