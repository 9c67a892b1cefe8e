//! Reading DIR: every `*.toml` directly in it (not below) is a job file. A file
//! that does not load, or repeats another file's job name, is reported and
//! skipped; it never stops the other jobs. The folder is read again at every
//! wake, so added, removed and edited files are picked up without a restart.

use super::scheduler::Planned;
use batchport_transform::job::{self, Job};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What one pass over DIR found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Loaded jobs that have a `schedule`, by name.
    pub jobs: BTreeMap<String, Job>,
    /// Loaded jobs without one: `schedule` leaves them alone.
    pub unscheduled: Vec<PathBuf>,
    /// Files skipped, and why (the job error names the file and line).
    pub bad: Vec<(PathBuf, String)>,
}

impl Scan {
    /// The scheduled jobs as the [`Scheduler`](super::Scheduler) takes them.
    pub fn planned(&self) -> Vec<Planned> {
        self.jobs
            .values()
            .map(|j| Planned {
                name: j.name.clone(),
                path: j.file.clone(),
                expr: j.schedule.clone().unwrap_or_default(),
            })
            .collect()
    }
}

/// Load every job file in `dir`, in path order (so the same file wins a name clash
/// every time).
pub fn scan(dir: &Path) -> std::io::Result<Scan> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    let mut out = Scan::default();
    for path in paths {
        let job = match job::load(&path) {
            Ok(j) => j,
            Err(e) => {
                out.bad.push((path, e.to_string()));
                continue;
            }
        };
        if job.schedule.is_none() {
            out.unscheduled.push(path);
        } else if let Some(first) = out.jobs.get(&job.name) {
            let why = format!(
                "{}: job name `{}` is already used by {}; skipped (one name, one state store)",
                path.display(),
                job.name,
                first.file.display()
            );
            out.bad.push((path, why));
        } else {
            out.jobs.insert(job.name.clone(), job);
        }
    }
    Ok(out)
}

/// Says each thing about a file once: a folder read every minute must not repeat
/// the same complaint every minute. A file's note is said again when it changes,
/// or after the file went away and came back.
#[derive(Debug, Default)]
pub struct Notes {
    said: HashMap<PathBuf, String>,
}

impl Notes {
    /// `true` when `note` is news for `path`.
    pub fn fresh(&mut self, path: &Path, note: &str) -> bool {
        if self.said.get(path).is_some_and(|n| n == note) {
            return false;
        }
        self.said.insert(path.to_path_buf(), note.to_string());
        true
    }

    /// Forget files that have nothing to say any more.
    pub fn keep_only(&mut self, paths: &HashSet<PathBuf>) {
        self.said.retain(|p, _| paths.contains(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = "[job]\nname = \"NAME\"\nkind = \"profiles\"\nSCHED\n[source]\npath = \"u.csv\"\n[mapping]\ncustom_id = \"id\"\n[mapping.native]\nemail_address = \"email\"\n";

    fn job(dir: &Path, file: &str, name: &str, sched: &str) {
        std::fs::write(dir.join(file), JOB.replace("NAME", name).replace("SCHED", sched)).unwrap();
    }

    #[test]
    fn scheduled_unscheduled_bad_and_clashing_files_are_told_apart() {
        let d = tempfile::tempdir().unwrap();
        job(d.path(), "a.toml", "a", "schedule = \"0 2 * * *\"");
        job(d.path(), "b.toml", "b", "");
        job(d.path(), "c.toml", "a", "schedule = \"0 3 * * *\"");
        std::fs::write(d.path().join("d.toml"), "[job]\nname = \"d\"\nkind = \"nope\"\n").unwrap();
        std::fs::write(d.path().join("notes.txt"), "not a job").unwrap();
        std::fs::create_dir(d.path().join("sub.toml")).unwrap();
        let s = scan(d.path()).unwrap();
        assert_eq!(s.jobs.keys().collect::<Vec<_>>(), ["a"], "{:?}", s.bad);
        assert_eq!(s.planned()[0].expr, "0 2 * * *");
        assert_eq!(s.unscheduled, [d.path().join("b.toml")]);
        assert_eq!(s.bad.len(), 2);
        assert!(s.bad[0].1.contains("already used by"), "{:?}", s.bad);
        assert!(s.bad[1].1.contains("d.toml:3:"), "file and line: {:?}", s.bad);
    }

    #[test]
    fn notes_are_said_once_until_they_change_or_the_file_comes_back() {
        let mut n = Notes::default();
        let p = Path::new("/jobs/a.toml");
        assert!(n.fresh(p, "bad"));
        assert!(!n.fresh(p, "bad"));
        assert!(n.fresh(p, "worse"));
        n.keep_only(&HashSet::new());
        assert!(n.fresh(p, "worse"));
    }
}
