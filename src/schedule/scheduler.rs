//! The schedule's decisions, apart from clocks and files: which jobs are due at
//! an instant, when to wake next, and never two runs of one job at once. Every
//! instant comes in as an argument, so the tests drive it with made-up times.
//!
//! Jobs are keyed by their name, not their file: the name keys the state store,
//! so it is what "one run at a time" has to hold for.
//!
//! Occurrences missed while the job was running (or the machine slept) are not
//! queued: when a job comes due its next time is counted from *now*, so a backlog
//! collapses into one run. An import catches up on everything in one run anyway.
//! Slots missed while `schedule` itself was down are found at start-up by the
//! command (from each job's last run in the store) and run once (`run_now`).

use batchport_transform::job::cron::next_after;
use chrono::{DateTime, TimeZone};
use croner::Cron;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A job with a schedule, as the directory scan found it.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The job's name: what one run at a time holds for.
    pub(crate) name: String,
    /// Its job file.
    pub(crate) path: PathBuf,
    /// The cron expression, already checked by `job::load`.
    pub(crate) expr: String,
}

#[derive(Debug)]
struct Entry<Tz: TimeZone> {
    path: PathBuf,
    expr: String,
    cron: Option<Cron>,
    /// `None`: the expression never matches (say `0 0 30 2 *`).
    next: Option<DateTime<Tz>>,
    running: bool,
    /// Its file went away while it ran: forget it when the run ends.
    gone: bool,
}

/// What `due` decided at one instant.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Due {
    /// Start these, in this order (earliest due first, then by name).
    pub start: Vec<String>,
    /// Due again while still running: not started, never two runs at once.
    pub skipped: Vec<String>,
}

/// A job whose schedule cannot be followed, for the log.
#[derive(Debug, PartialEq, Eq)]
pub struct Problem {
    /// The job's name.
    pub name: String,
    /// What is wrong with its schedule, for people.
    pub reason: String,
}

/// The scheduled jobs and their next due times, in the time zone `Tz` that the
/// cron expressions are read in (the machine's local time in the command).
#[derive(Debug)]
pub struct Scheduler<Tz: TimeZone> {
    jobs: BTreeMap<String, Entry<Tz>>,
}

impl<Tz: TimeZone> Default for Scheduler<Tz> {
    fn default() -> Self {
        Scheduler { jobs: BTreeMap::new() }
    }
}

impl<Tz: TimeZone> Scheduler<Tz> {
    /// No jobs yet: [`sync`](Self::sync) brings them in.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bring the job list in line with a fresh scan made at `now`. A job seen
    /// before with the same expression keeps its due time, so editing its mapping
    /// neither skips nor repeats a run; a new job, or a changed expression, is due
    /// at its first occurrence at or after `now`. Jobs missing from the scan are
    /// dropped (a running one when its run ends).
    pub fn sync(&mut self, scan: &[Planned], now: &DateTime<Tz>) -> Vec<Problem> {
        let mut problems = Vec::new();
        for entry in self.jobs.values_mut() {
            entry.gone = true;
        }
        for p in scan {
            if let Some(e) = self.jobs.get_mut(&p.name)
                && e.expr == p.expr
            {
                e.gone = false;
                e.path = p.path.clone();
                continue;
            }
            let cron = Cron::new(&p.expr).parse().ok();
            let next = cron.as_ref().and_then(|c| next_after(c, now, true));
            if next.is_none() {
                problems.push(Problem {
                    name: p.name.clone(),
                    reason: format!("schedule `{}` never comes due; the job will not run", p.expr),
                });
            }
            // A running job whose expression changed keeps running; its new
            // expression applies from now on.
            let running = self.jobs.get(&p.name).is_some_and(|e| e.running);
            let entry = Entry { path: p.path.clone(), expr: p.expr.clone(), cron, next, running, gone: false };
            self.jobs.insert(p.name.clone(), entry);
        }
        self.jobs.retain(|_, e| !e.gone || e.running);
        problems
    }

    /// Make `name` due at `now` (an unfinished run to resume at start-up).
    pub fn run_now(&mut self, name: &str, now: &DateTime<Tz>) {
        if let Some(e) = self.jobs.get_mut(name) {
            e.next = Some(now.clone());
        }
    }

    /// The jobs due at `now`: those to start are marked running until
    /// `finished`. Every due job's next time moves past `now`.
    pub fn due(&mut self, now: &DateTime<Tz>) -> Due {
        let mut hits: Vec<(DateTime<Tz>, String)> = self
            .jobs
            .iter()
            .filter_map(|(name, e)| e.next.clone().filter(|n| n <= now).map(|n| (n, name.clone())))
            .collect();
        hits.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let mut due = Due::default();
        for (_, name) in hits {
            let Some(e) = self.jobs.get_mut(&name) else { continue };
            e.next = e.cron.as_ref().and_then(|c| next_after(c, now, false));
            if e.running {
                due.skipped.push(name);
            } else {
                e.running = true;
                due.start.push(name);
            }
        }
        due
    }

    /// The run of `name` ended (whatever its outcome).
    pub fn finished(&mut self, name: &str) {
        if let Some(e) = self.jobs.get_mut(name) {
            e.running = false;
            if e.gone {
                self.jobs.remove(name);
            }
        }
    }

    /// The earliest next due time, if any job will ever come due.
    pub fn next_wake(&self) -> Option<DateTime<Tz>> {
        self.jobs.values().filter_map(|e| e.next.clone()).min()
    }

    /// The job file of `name`.
    pub fn path(&self, name: &str) -> Option<&PathBuf> {
        self.jobs.get(name).map(|e| &e.path)
    }

    /// When `name` is next due, if ever.
    pub fn next_of(&self, name: &str) -> Option<DateTime<Tz>> {
        self.jobs.get(name).and_then(|e| e.next.clone())
    }

    /// Whether a run of `name` started and has not `finished`.
    pub fn is_running(&self, name: &str) -> bool {
        self.jobs.get(name).is_some_and(|e| e.running)
    }

    /// How many jobs it follows (running ones whose file went away included).
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// It follows no job.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn job(name: &str, expr: &str) -> Planned {
        Planned { name: name.into(), path: format!("/jobs/{name}.toml").into(), expr: expr.into() }
    }

    fn started(names: &[&str]) -> Due {
        Due { start: names.iter().map(|n| n.to_string()).collect(), skipped: Vec::new() }
    }

    #[test]
    fn a_nightly_job_is_due_once_at_its_minute_and_then_tomorrow() {
        let mut s = Scheduler::new();
        assert!(s.sync(&[job("nightly", "0 2 * * *")], &at("2026-11-26T23:10:00Z")).is_empty());
        assert_eq!(s.next_wake(), Some(at("2026-11-27T02:00:00Z")));
        assert_eq!(s.due(&at("2026-11-27T01:59:59.999Z")), Due::default());
        // A timer may fire a little late: still due, once.
        assert_eq!(s.due(&at("2026-11-27T02:00:00.250Z")), started(&["nightly"]));
        assert_eq!(s.due(&at("2026-11-27T02:00:00.900Z")), Due::default());
        s.finished("nightly");
        assert_eq!(s.next_wake(), Some(at("2026-11-28T02:00:00Z")));
    }

    #[test]
    fn jobs_due_the_same_minute_start_in_name_order_earliest_first() {
        let mut s = Scheduler::new();
        let jobs = [job("b", "0 2 * * *"), job("a", "0 2 * * *"), job("early", "30 1 * * *"), job("late", "0 3 * * *")];
        s.sync(&jobs, &at("2026-11-27T00:00:00Z"));
        assert_eq!(s.next_wake(), Some(at("2026-11-27T01:30:00Z")));
        // Woken late (say after a suspend): the earlier due time goes first, ties by name.
        assert_eq!(s.due(&at("2026-11-27T02:00:05Z")), started(&["early", "a", "b"]));
        assert_eq!(s.next_wake(), Some(at("2026-11-27T03:00:00Z")));
    }

    #[test]
    fn a_job_still_running_when_due_again_is_skipped_not_doubled() {
        let mut s = Scheduler::new();
        s.sync(&[job("often", "*/5 * * * *"), job("other", "*/5 * * * *")], &at("2026-11-27T10:01:00Z"));
        assert_eq!(s.due(&at("2026-11-27T10:05:00Z")), started(&["often", "other"]));
        s.finished("other");
        let d = s.due(&at("2026-11-27T10:10:00Z"));
        assert_eq!(d.start, ["other"]);
        assert_eq!(d.skipped, ["often"]);
        assert!(s.is_running("often"));
        s.finished("often");
        s.finished("other");
        // Missed occurrences collapse: one run, then the next one after now.
        assert_eq!(s.due(&at("2026-11-27T10:27:00Z")), started(&["often", "other"]));
        assert_eq!(s.next_of("often"), Some(at("2026-11-27T10:30:00Z")));
    }

    #[test]
    fn a_rescan_keeps_due_times_adds_new_jobs_and_drops_removed_ones() {
        let mut s = Scheduler::new();
        s.sync(&[job("a", "0 2 * * *"), job("b", "0 4 * * *")], &at("2026-11-27T00:00:00Z"));
        // Same expression: due time kept, even if the file moved.
        let moved = Planned { path: "/jobs/renamed.toml".into(), ..job("a", "0 2 * * *") };
        s.sync(&[moved, job("c", "0 1 * * *")], &at("2026-11-27T00:30:00Z"));
        assert_eq!(s.len(), 2, "b is gone");
        assert_eq!(s.path("a").unwrap().to_str(), Some("/jobs/renamed.toml"));
        assert_eq!(s.next_of("a"), Some(at("2026-11-27T02:00:00Z")));
        assert_eq!(s.next_of("c"), Some(at("2026-11-27T01:00:00Z")));
        // A changed expression counts from the rescan.
        s.sync(&[job("a", "15 * * * *"), job("c", "0 1 * * *")], &at("2026-11-27T00:30:00Z"));
        assert_eq!(s.next_of("a"), Some(at("2026-11-27T01:15:00Z")));
    }

    #[test]
    fn a_job_removed_while_running_cannot_be_started_twice() {
        let mut s = Scheduler::new();
        s.sync(&[job("a", "* * * * *")], &at("2026-11-27T00:00:00Z"));
        assert_eq!(s.due(&at("2026-11-27T00:00:00Z")), started(&["a"]));
        s.sync(&[], &at("2026-11-27T00:00:30Z"));
        assert!(s.is_running("a"), "kept until its run ends");
        // Put back (or edited) while the first run is still going: skipped.
        s.sync(&[job("a", "*/2 * * * *")], &at("2026-11-27T00:01:00Z"));
        assert_eq!(s.due(&at("2026-11-27T00:02:00Z")).skipped, ["a"]);
        s.finished("a");
        s.sync(&[], &at("2026-11-27T00:03:00Z"));
        s.finished("a");
        assert!(s.is_empty());
    }

    #[test]
    fn a_job_due_at_the_instant_the_scheduler_starts_runs() {
        let mut s = Scheduler::new();
        s.sync(&[job("a", "0 2 * * *")], &at("2026-11-27T02:00:00.400Z"));
        assert_eq!(s.due(&at("2026-11-27T02:00:00.400Z")), started(&["a"]));
    }

    #[test]
    fn run_now_makes_a_job_due_at_once_then_it_follows_its_schedule() {
        let mut s = Scheduler::new();
        let now = at("2026-11-27T09:00:00Z");
        s.sync(&[job("a", "0 2 * * *")], &now);
        s.run_now("a", &now);
        assert_eq!(s.next_wake(), Some(now));
        assert_eq!(s.due(&now), started(&["a"]));
        assert_eq!(s.next_of("a"), Some(at("2026-11-28T02:00:00Z")));
    }

    #[test]
    fn an_expression_that_never_matches_is_reported_and_never_due() {
        let mut s = Scheduler::new();
        let p = s.sync(&[job("feb30", "0 0 30 2 *")], &at("2026-11-27T00:00:00Z"));
        assert_eq!(p.len(), 1);
        assert!(p[0].reason.contains("never"), "{p:?}");
        assert_eq!(s.next_wake(), None);
    }

    #[test]
    fn cron_is_read_in_the_schedulers_time_zone() {
        // 02:00 in UTC+01:00 is 01:00 UTC: the zone decides, not UTC.
        let paris = FixedOffset::east_opt(3600).unwrap();
        let now = at("2026-11-27T00:00:00Z").with_timezone(&paris);
        let mut s = Scheduler::new();
        s.sync(&[job("a", "0 2 * * *")], &now);
        assert_eq!(s.next_wake().unwrap().with_timezone(&Utc), at("2026-11-27T01:00:00Z"));
    }
}
