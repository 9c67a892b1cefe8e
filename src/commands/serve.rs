//! The schedule loop: read DIR, start what is due, log each run, sleep until the
//! next due time (or a minute, to notice new files), and stop on a signal.
//!
//! Runs are one at a time, across jobs too. Batch's rate limits are per project
//! and each run paces itself to the whole limit, so two imports side by side would
//! go over it together (invariant 5); one at a time also keeps memory and CPU to
//! one run's. A job that comes due while another runs starts when that one ends.

use crate::exit::Status;
use crate::schedule::{self as scan, Notes, Scan, Scheduler};
use anyhow::Result;
use batchport_engine::report::Summary;
use batchport_engine::run::{self, Options};
use batchport_state::StateError;
use batchport_transform::job::Job;
use chrono::{DateTime, Local};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// DIR is read again at least this often, so a new job file is seen in time for
/// its first minute.
const RESCAN: Duration = Duration::from_secs(60);

/// How `batchport schedule` was asked to run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dir: PathBuf,
    pub state_dir: PathBuf,
    pub json: bool,
    pub quiet: bool,
    /// Start what is due at this instant, once, then return (`--once --now`).
    pub once: Option<DateTime<Local>>,
    /// Cancelled on SIGTERM/SIGINT: the running job settles and checkpoints,
    /// no other starts, the loop's sleep ends.
    pub cancel: CancellationToken,
    /// `--notify-url-env`: the `[notify]` of every job without its own.
    pub notify: Option<batchport_transform::job::NotifySettings>,
}

impl Settings {
    fn stopping(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// Run the schedule until a signal (or, with `once`, one pass).
pub async fn serve(s: &Settings) -> Result<()> {
    let mut sched = Scheduler::<Local>::new();
    let mut jobs = BTreeMap::new();
    let mut notes = Notes::default();
    let mut first = true;
    if !s.quiet && s.once.is_none() {
        log(&format!(
            "watching {} (cron times are this machine's local time, UTC{})",
            s.dir.display(),
            Local::now().format("%:z")
        ));
    }
    while !s.stopping() {
        let now = s.once.unwrap_or_else(Local::now);
        match scan::scan(&s.dir) {
            Ok(found) => {
                tell(&found, &mut notes, s);
                for p in sched.sync(&found.planned(), &now) {
                    say_once(&mut notes, &found.jobs[&p.name].file, &p.reason, s, true);
                }
                if first {
                    resume_unfinished(&found, &mut sched, &now, s).await;
                }
                jobs = found.jobs;
            }
            // Keep the jobs we know: a folder briefly unreadable (a deploy
            // swapping it) must not drop the schedule.
            Err(e) => say_once(&mut notes, &s.dir, &format!("cannot read {}: {e}", s.dir.display()), s, true),
        }
        first = false;
        let due = sched.due(&now);
        for name in &due.skipped {
            log(&format!("{name}: due again while its last run is still going: skipped"));
        }
        for name in due.start {
            if let Some(job) = jobs.get(&name).filter(|_| !s.stopping()) {
                let summary = run_one(job, s).await;
                report(&summary, s);
            }
            sched.finished(&name);
        }
        if s.once.is_some() || s.stopping() {
            break;
        }
        let pause = match sched.next_wake() {
            Some(t) => (t - Local::now()).to_std().unwrap_or(Duration::ZERO).min(RESCAN),
            None => RESCAN,
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = s.cancel.cancelled() => {}
        }
    }
    if s.stopping() && !s.quiet {
        log("stopped");
    }
    Ok(())
}

/// Log what changed in DIR since the last pass: new schedules, skipped files.
fn tell(found: &Scan, notes: &mut Notes, s: &Settings) {
    let mut present = HashSet::new();
    for (path, why) in &found.bad {
        say_once(notes, path, &format!("{why}; skipped"), s, true);
        present.insert(path.clone());
    }
    for path in &found.unscheduled {
        say_once(notes, path, &format!("{}: no `schedule`: not run by `schedule`", path.display()), s, false);
        present.insert(path.clone());
    }
    for job in found.jobs.values() {
        let expr = job.schedule.as_deref().unwrap_or_default();
        say_once(notes, &job.file, &format!("{}: job {} on schedule `{expr}`", job.file.display(), job.name), s, false);
        present.insert(job.file.clone());
    }
    // Not DIR itself: read fine this time, so a later failure is news again.
    notes.keep_only(&present);
}

fn say_once(notes: &mut Notes, path: &Path, note: &str, s: &Settings, error: bool) {
    if notes.fresh(path, note) && (error || !s.quiet) {
        log(note);
    }
}

/// One line on stderr, stamped: the scheduler's log outlives any terminal.
fn log(line: &str) {
    crate::say!("{} batchport schedule: {line}", Local::now().format("%Y-%m-%dT%H:%M:%S%:z"));
}

/// A run left unfinished (the scheduler was stopped mid-run, or the machine went
/// down) is resumed at start-up rather than at its next due time: by then its
/// input may have been replaced, and the run would be abandoned. A job whose
/// slot passed while the scheduler was down runs once now (unless `catch_up =
/// false`).
async fn resume_unfinished(found: &Scan, sched: &mut Scheduler<Local>, now: &DateTime<Local>, s: &Settings) {
    for job in found.jobs.values() {
        let (dir, name) = (s.state_dir.clone(), job.name.clone());
        match batchport_engine::service::blocking(move || unfinished_run(&dir, &name)).await {
            Ok((Some(run), _)) => {
                if !s.quiet {
                    log(&format!("{}: resuming its unfinished run {run}", job.name));
                }
                sched.run_now(&job.name, now);
            }
            Ok((None, Some(last))) => {
                // A slot passed since the job last started, while nothing
                // ran it: once, now (systemd's `Persistent=true`).
                let missed =
                    job.schedule.as_deref().and_then(|e| croner::Cron::new(e).parse().ok()).and_then(|c| {
                        batchport_transform::job::cron::next_after(&c, &last.with_timezone(&Local), false)
                    });
                match missed.filter(|slot| slot <= now) {
                    Some(slot) if job.catch_up => {
                        if !s.quiet {
                            log(&format!(
                                "{}: its run of {} was missed while schedule was down: running it now",
                                job.name,
                                slot.format("%Y-%m-%d %H:%M")
                            ));
                        }
                        sched.run_now(&job.name, now);
                    }
                    Some(slot) if !s.quiet => log(&format!(
                        "{}: its run of {} was missed while schedule was down; catch_up = false: waiting for the next",
                        job.name,
                        slot.format("%Y-%m-%d %H:%M")
                    )),
                    _ => {}
                }
            }
            Ok((None, None)) => {}
            Err(e) => log(&format!("{}: cannot look for an unfinished run: {e:#}", job.name)),
        }
    }
}

/// The job's unfinished run, else when its last run started (a job never
/// run has neither: it waits for its first slot).
fn unfinished_run(state_dir: &Path, name: &str) -> Result<(Option<String>, Option<DateTime<chrono::FixedOffset>>)> {
    if !state_dir.join("jobs").join(name).is_dir() {
        return Ok((None, None));
    }
    match run::open_store_blocking(state_dir, name) {
        Ok(store) => {
            if let Some(r) = store.unfinished_run(name)? {
                return Ok((Some(r.id), None));
            }
            let last = store.last_run(name)?.and_then(|r| DateTime::parse_from_rfc3339(&r.started).ok());
            Ok((None, last))
        }
        // Someone runs it right now: that run resumes it, not us.
        Err(e) if matches!(e.downcast_ref::<StateError>(), Some(StateError::Locked { .. })) => Ok((None, None)),
        Err(e) => Err(e),
    }
}

/// Run one job to its end through the run lifecycle, like `batchport run`
/// (every kind, exports included); whatever happens, a summary comes back.
async fn run_one(job: &Job, s: &Settings) -> Summary {
    let opts = Options {
        state_dir: s.state_dir.clone(),
        progress: false,
        cancel: s.cancel.clone(),
        keys: None,
        events: super::notices_to_stderr(),
        // Nobody is there to look at a refusal: a guard is overridden by hand only.
        override_guards: Vec::new(),
        // `[job] metrics_file` of each job.
        metrics_file: None,
    };
    let mut owned = job.clone();
    if owned.notify.is_none()
        && let Some(n) = &s.notify
    {
        if n.names_a_key_of(job) {
            log(&format!("{}: --notify-url-env {} holds one of its API keys: not told", job.name, n.url_env));
        } else {
            owned.notify = Some(n.clone());
        }
    }
    // In its own task, so that even a panic in one import is a failed run, not
    // the end of the schedule.
    let task = tokio::spawn(async move { run::execute(&owned, &opts).await });
    let error = match task.await {
        Ok(Ok(summary)) => return summary,
        Ok(Err(e)) => format!("{e:#}"),
        Err(e) => format!("the run stopped unexpectedly: {e}"),
    };
    let mut summary = Summary::new(&job.name, "");
    summary.status = Status::Failed;
    summary.error = Some(error);
    summary
}

/// One JSON object per run on stdout with `--json` (NDJSON), else one line on stderr.
fn report(summary: &Summary, s: &Settings) {
    if s.json {
        match serde_json::to_string(summary) {
            Ok(j) => crate::out!("{j}"),
            Err(e) => log(&format!("cannot write the summary: {e}")),
        }
    } else if !s.quiet || summary.status != Status::Done {
        log(&one_line(summary));
    }
}

/// A run's summary on one line, so that a log of many runs greps well.
pub fn one_line(s: &Summary) -> String {
    let status = serde_json::to_value(s.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let mut line = if s.run_id.is_empty() {
        format!("{}: {status}", s.job)
    } else {
        format!(
            "{} [{}]: {status} in {:.1}s: read {}, sent {}, rejected {}, unchanged {}, uncertain {}; requests {}, retries {}, 429s {}",
            s.job,
            s.run_id,
            s.elapsed_s,
            s.rows_read,
            s.rows_sent,
            s.rows_rejected,
            s.rows_unchanged,
            s.rows_uncertain,
            s.requests,
            s.retries,
            s.http_429
        )
    };
    for (label, v) in [
        ("rejects", s.rejects_file.as_ref().map(|p| p.display().to_string())),
        ("uncertain", s.uncertain_file.as_ref().map(|p| p.display().to_string())),
        ("note", s.note.clone()),
        ("error", s.error.clone()),
    ] {
        if let Some(v) = v {
            line.push_str(&format!("; {label}: {}", v.replace('\n', " ")));
        }
    }
    line
}

/// First SIGTERM/SIGINT: the running import settles its batches in flight and
/// checkpoints, then the loop ends. A second one leaves at once with 130
/// (progress is in the ledger). The handlers are installed before this returns,
/// so a signal sent as soon as the scheduler says it is watching is not lost.
pub fn watch_signals(cancel: CancellationToken) -> std::io::Result<()> {
    let mut signals = Signals::install()?;
    crate::process::signals_handled();
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            signals.next().await;
            count += 1;
            if count == 1 {
                log("stopping: settling the batches in flight (again to quit at once)");
                // Also wakes the loop's sleep, now or when it next sleeps.
                cancel.cancel();
            } else {
                std::process::exit(Status::Interrupted.code());
            }
        }
    });
    Ok(())
}

#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Signals)
    }

    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
