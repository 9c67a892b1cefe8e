//! Rejects, uncertain and partial files hold people's rows. A job that says
//! `[job] keep_reports_days = N` has those of its runs older than N days
//! deleted each time it runs (by hand, from cron or from `schedule`): only
//! its own (the run id begins with the job's name and a timestamp), never
//! those of the run under way.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Delete `job`'s report files in `dir` last written before `now` minus
/// `days`, except those of run `keep`. Returns what was deleted; a file that
/// cannot be read or removed is left (and not an error: the run goes on).
pub(crate) fn prune(dir: &Path, job: &str, keep: &str, days: u32, now: SystemTime) -> Vec<PathBuf> {
    let Some(before) = now.checked_sub(Duration::from_secs(u64::from(days) * 86_400)) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut gone = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_report_of(&name, job) || name.starts_with(&format!("{keep}-")) {
            continue;
        }
        let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < before);
        if old && std::fs::remove_file(entry.path()).is_ok() {
            gone.push(entry.path());
        }
    }
    gone
}

/// `JOB-20261207T101500Z-ab12-rejects.csv` (a run's, also `-uncertain`,
/// `-partial`, with a `-2` for a second header) or
/// `JOB-validate-20261207T101500Z-rejects.csv` (`validate`'s). Job `a` does
/// not claim job `a-b`'s files: a timestamp must follow the name.
fn is_report_of(name: &str, job: &str) -> bool {
    let Some(rest) = name.strip_prefix(job).and_then(|r| r.strip_prefix('-')) else { return false };
    let rest = rest.strip_prefix("validate-").unwrap_or(rest);
    let b = rest.as_bytes();
    let stamp = b.len() > 17
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-';
    stamp && rest.ends_with(".csv") && ["-rejects", "-uncertain", "-partial"].iter().any(|k| rest.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_job_s_own_reports_are_recognised() {
        assert!(is_report_of("nightly-20261207T101500Z-ab12-rejects.csv", "nightly"));
        assert!(is_report_of("nightly-20261207T101500Z-ab12-uncertain-2.csv", "nightly"));
        assert!(is_report_of("nightly-validate-20261207T101500Z-rejects.csv", "nightly"));
        assert!(!is_report_of("nightly-b-20261207T101500Z-ab12-rejects.csv", "nightly"), "another job");
        assert!(!is_report_of("nightly-20261207T101500Z-ab12-notes.txt", "nightly"));
        assert!(!is_report_of("users.csv", "nightly"));
    }

    #[test]
    fn old_reports_go_the_rest_stay() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let file = |name: &str, age_days: u64| {
            let p = dir.path().join(name);
            std::fs::write(&p, "x").unwrap();
            let f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
            f.set_modified(now - Duration::from_secs(age_days * 86_400)).unwrap();
        };
        file("j-20260101T000000Z-0001-rejects.csv", 40);
        file("j-20261201T000000Z-0002-partial.csv", 6);
        file("j-20260102T000000Z-0003-uncertain.csv", 40);
        file("k-20260101T000000Z-0004-rejects.csv", 40);
        let gone = prune(dir.path(), "j", "j-20260102T000000Z-0003", 30, now);
        let names: Vec<String> = gone.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["j-20260101T000000Z-0001-rejects.csv"]);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "the recent one, the run under way's, another job's"
        );
    }
}
