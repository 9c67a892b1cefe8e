//! The run lifecycle: the one way a job is run, whatever its kind and
//! whoever asks (`batchport run`, `batchport schedule`, the library).
//!
//! 1. **Connect**: keys and client first, so a missing key is reported before
//!    anything is read (`service/connect.rs`).
//! 2. **Identify the input**: what a run of this job is about (an import's
//!    input fingerprints, an export's request and output).
//! 3. **Open or resume**: the job's store; its unfinished run is resumed when
//!    it was about the same input, abandoned (with a note) otherwise; an
//!    import whose unchanged input was already imported has nothing to do.
//! 4. **Execute the kind**: imports (`crate::import`) and exports
//!    (`crate::export`) plug in here, with the run record to keep their
//!    progress in and the run's retry driver.
//! 5. **Settle**: the run's status from how the kind ended, saved durably.
//! 6. **Summarise**: the typed [`Summary`], whose status gives the exit code.
//!
//! Blocking work (sled, fsync, file opens) goes to tokio's blocking pool
//! through [`blocking`], so this works on any tokio runtime, current-thread
//! included.

pub use crate::service::Options;
use crate::service::{Connection, Context, Ended, Event, Events, Interrupted, blocking};

use crate::report::Summary;
use crate::status::{Status, UsageError};
use anyhow::{Context as _, Result};
use batchport_dispatch::{Driver, RetryPolicy};
use batchport_state::{Run, RunStatus, Store};
use batchport_transform::job::{Job, Kind};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A kind of work, ready to run: what identifies its input, and how to run it.
enum Work {
    Import(crate::import::Import),
    Export(crate::export::Export),
}

impl Work {
    async fn prepare(job: &Job) -> Result<Work> {
        Ok(match job.kind {
            Kind::Export => Work::Export(crate::export::Export::prepare(job)?),
            _ => Work::Import(crate::import::Import::prepare(job).await?),
        })
    }

    /// Whether an unfinished `run` was about this same input.
    fn resumes(&self, run: &Run) -> bool {
        match self {
            Work::Import(w) => w.resumes(run),
            Work::Export(w) => w.resumes(run),
        }
    }

    /// Whether an unfinished `run` is continued over this input (its files
    /// and new ones).
    fn continues(&self, run: &Run) -> bool {
        match self {
            Work::Import(w) => w.resumes(run) || w.extends(run),
            Work::Export(w) => w.resumes(run),
        }
    }

    /// What a new run records as its input.
    fn inputs(&self) -> Vec<batchport_state::Fingerprint> {
        match self {
            Work::Import(w) => w.inputs(),
            Work::Export(_) => Vec::new(),
        }
    }

    fn abandon_note(&self, job: &Job, run: &Run) -> String {
        match self {
            Work::Import(_) => format!(
                "the input of {}'s unfinished run {} has changed since it stopped; that run is abandoned and a new one starts",
                job.name, run.id
            ),
            Work::Export(_) => format!(
                "the [export] settings of {} changed since its unfinished run {} stopped; that run is abandoned and a new export starts",
                job.name, run.id
            ),
        }
    }

    async fn execute(&mut self, cx: &Context<'_>, run: &mut Run) -> Result<Ended> {
        match self {
            Work::Import(w) => w.execute(cx, run).await,
            Work::Export(w) => w.execute(cx, run).await,
        }
    }

    fn files(&self, run: &Run) -> Vec<PathBuf> {
        match self {
            Work::Import(_) => run.inputs.iter().map(|f| f.path.clone()).collect(),
            Work::Export(w) => vec![w.output().to_path_buf()],
        }
    }
}

/// Run `job` to its end (or resume its unfinished run): the whole lifecycle.
/// An `Err` is a run that could not start (keys, input, store); a run that
/// started and failed is an `Ok` summary with `Status::Failed`.
pub async fn execute(job: &Job, opts: &Options) -> Result<Summary> {
    let started = Instant::now();
    let connection = Connection::open(job, opts.keys.as_ref()).await?;
    let mut work = Work::prepare(job).await?;
    let store = open_store(opts.state_dir.clone(), job.name.clone()).await?;
    let dest = connection.destination.text.clone();
    let mut run = match open_or_resume(&store, job, &work, &dest, &opts.events).await? {
        Opened::Run(run) => {
            prune_reports(job, opts, &run.id).await;
            run
        }
        Opened::AlreadyDone(last) => {
            prune_reports(job, opts, &last.id).await;
            // The original run's status, rejects and all: a rerun does not
            // turn a run with rejects or held rows into a clean one.
            let mut s = summary_of(&last, work.files(&last), started).into_already_imported();
            s.destination = Some(dest);
            s.note = Some(format!(
                "already imported to this destination by run {} (same files, unchanged): nothing to do; `batchport reset` first to import it again",
                last.id
            ));
            return Ok(s);
        }
    };
    // A child of the run's token: a kind that fails can stop its own waits
    // (to settle what is in flight) without the run counting as interrupted.
    let driver = Driver::new(RetryPolicy::default(), crate::import::limiter(job), opts.cancel.child_token());
    let scope = connection.destination.scope(&job.name);
    let cx = Context { job, options: opts, store: &store, connection: &connection, scope, driver };
    let read_before = run.counters.rows_read;
    let ended = match work.execute(&cx, &mut run).await {
        Err(e) if e.is::<Interrupted>() => Ok(Ended::Interrupted),
        other => other,
    };

    // Settle: the status from how the kind ended, durably.
    run.status = match &ended {
        Err(_) => RunStatus::Failed,
        Ok(Ended::Interrupted) => RunStatus::Interrupted,
        Ok(Ended::Refused { .. }) => RunStatus::Refused,
        // Held rows first: a row whose outcome is unknown is not delivered.
        Ok(Ended::Done { .. }) if run.counters.rows_uncertain > 0 => RunStatus::DoneWithUncertain,
        // Partially applied rows are refusals too: the user has to look.
        Ok(Ended::Done { .. })
            if run.counters.rows_rejected > 0 || run.counters.rows_partial > 0 || run.counters.values_dropped > 0 =>
        {
            RunStatus::DoneWithRejects
        }
        Ok(Ended::Done { .. }) => RunStatus::Done,
    };
    run.last_error = match &ended {
        Err(e) => Some(format!("{e:#}")),
        Ok(Ended::Refused { reason }) => Some(reason.clone()),
        Ok(_) => None,
    };
    let finished = run.clone();
    let store2 = store.clone();
    if let Err(e) = blocking(move || store2.finish_run(&finished)).await {
        // The run's record keeps its last saved state (and `status` the
        // ledger's counts); the summary still says what was sent.
        run.status = RunStatus::Failed;
        let unsaved = format!("the run's record could not be saved: {e:#}");
        run.last_error = Some(match run.last_error.take() {
            Some(first) => format!("{first}; {unsaved}"),
            None => unsaved,
        });
    }

    // Summarise.
    let mut s = summary_of(&run, work.files(&run), started);
    s.rows_read_before = read_before;
    if let Ok(Ended::Done { note }) = ended {
        s.note = note;
    }
    s.destination = Some(dest);
    drop(connection);
    Ok(s)
}

enum Opened {
    Run(Run),
    /// The job's last run finished over this same input: nothing to do.
    AlreadyDone(Run),
}

/// Which runs and records count for `dest`. A run recorded without a
/// destination (by an earlier batchport) is "unknown": an unfinished one is
/// resumed where it is run again (it was stopped mid-way, and starting over
/// would resend what it had sent), a finished one never makes a new run
/// "already imported", since the destination it reached cannot be known.
async fn open_or_resume(store: &Store, job: &Job, work: &Work, dest: &str, events: &Events) -> Result<Opened> {
    let (s, name) = (store.clone(), job.name.clone());
    let scope = batchport_state::scope(&job.name, dest);
    let prints = work.inputs();
    let mapping = job.mapping_print.clone();
    let (unfinished, last, imported_by) = blocking(move || {
        let imported_by = imported_by(&s, &scope, &prints, &mapping)?;
        Ok::<_, batchport_state::StateError>((s.unfinished_run(&name)?, s.last_run(&name)?, imported_by))
    })
    .await?;
    let same_dest = |r: &Run| r.destination.as_deref().is_none_or(|d| d == dest);
    let run = match unfinished {
        Some(r) if same_dest(&r) && work.continues(&r) && !r.same_mapping(&job.mapping_print) => {
            // Half the rows one way and half the other is never what anyone
            // wants: the user decides.
            return Err(UsageError(format!(
                "the [mapping] of {} changed since its unfinished run {} stopped ({} rows sent under the old mapping): \
                 run the job file as it was to finish that run, or `batchport reset {}` to start over under the new mapping",
                job.name,
                r.id,
                r.counters.rows_sent,
                job.file.display()
            ))
            .into());
        }
        Some(mut r) if same_dest(&r) && work.continues(&r) => {
            tracing::info!(run = %r.id, "resuming");
            r.destination = Some(dest.to_string());
            events.send(Event::Started { run_id: r.id.clone(), resumed: true });
            return Ok(Opened::Run(r));
        }
        Some(r) => {
            let note = if same_dest(&r) {
                work.abandon_note(job, &r)
            } else {
                format!(
                    "{}'s unfinished run {} sent to another destination ({}); that run is abandoned and a new one starts for {dest}",
                    job.name,
                    r.id,
                    r.destination.as_deref().unwrap_or("unknown")
                )
            };
            events.notice(note);
            create(store, job, work, dest).await?
        }
        None => {
            if let Work::Import(_) = work {
                if let Some(last) = last
                    && last.is_finished()
                    && !last.reset
                    && last.destination.as_deref() == Some(dest)
                    && last.same_mapping(&job.mapping_print)
                    && work.resumes(&last)
                {
                    return Ok(Opened::AlreadyDone(last));
                }
                if let Some(by) = imported_by {
                    return Ok(Opened::AlreadyDone(by));
                }
            }
            create(store, job, work, dest).await?
        }
    };
    events.send(Event::Started { run_id: run.id.clone(), resumed: false });
    Ok(Opened::Run(run))
}

/// The run that imported the last of `prints` to `scope`, when every one of
/// them was imported there unchanged (and that run is still known).
fn imported_by(
    store: &Store,
    scope: &str,
    prints: &[batchport_state::Fingerprint],
    mapping: &str,
) -> Result<Option<Run>, batchport_state::StateError> {
    let mut by: Option<Run> = None;
    for p in prints {
        match store.imported(scope, &p.path)? {
            Some(rec) if rec.is(p, mapping) => {
                let Some(run) = store.run(&rec.run_id)? else { return Ok(None) };
                if by.as_ref().is_none_or(|b| run.started > b.started) {
                    by = Some(run);
                }
            }
            _ => return Ok(None),
        }
    }
    Ok(by.filter(|r| r.is_finished()))
}

async fn create(store: &Store, job: &Job, work: &Work, dest: &str) -> Result<Run> {
    let (s, name, kind, inputs) = (store.clone(), job.name.clone(), job.kind, work.inputs());
    let (dest, mapping) = (Some(dest.to_string()), Some(job.mapping_print.clone()));
    // Creating a run flushes sled: off the async workers like every fsync.
    blocking(move || s.create_run_for(&name, kind, inputs, dest, mapping)).await
}

/// The summary of `run` as it stands.
fn summary_of(run: &Run, files: Vec<PathBuf>, started: Instant) -> Summary {
    let mut s = Summary::new(&run.job, &run.id);
    s.count(&run.counters);
    s.partial_file = run.partial_file.clone();
    s.rejects_file = run.rejects_file.clone();
    s.uncertain_file = run.uncertain_file.clone();
    s.rejects_files = run.rejects_files.clone();
    s.uncertain_files = run.uncertain_files.clone();
    s.destination = run.destination.clone();
    s.files = files;
    s.elapsed_s = started.elapsed().as_secs_f64();
    s.status = match run.status {
        RunStatus::Done => Status::Done,
        RunStatus::DoneWithRejects => Status::DoneWithRejects,
        RunStatus::DoneWithUncertain => Status::DoneWithUncertain,
        RunStatus::Refused => Status::Refused,
        RunStatus::Interrupted => Status::Interrupted,
        _ => Status::Failed,
    };
    s.error = run.last_error.clone();
    s
}

/// `[job] keep_reports_days`: the job's older rejects, uncertain and partial
/// files go (never those of run `keep`, which is under way or is the one a
/// summary names); what went is told as a notice.
async fn prune_reports(job: &Job, opts: &Options, keep: &str) {
    let Some(days) = job.keep_reports_days else { return };
    let dir = job.rejects_dir.clone().unwrap_or_else(|| opts.state_dir.join("rejects"));
    let (name, keep) = (job.name.clone(), keep.to_string());
    let gone = blocking(move || {
        Ok::<_, std::convert::Infallible>(crate::report::retention::prune(
            &dir,
            &name,
            &keep,
            days,
            std::time::SystemTime::now(),
        ))
    })
    .await
    .unwrap_or_default();
    if !gone.is_empty() {
        opts.events.notice(format!(
            "deleted {} report file(s) of {} older than {days} days (keep_reports_days)",
            gone.len(),
            job.name
        ));
    }
}

/// A state folder others can read or enter holds people's rows for them
/// to read: say so, with the fix, and change nothing (it is the user's).
fn warn_if_shared(state_dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(state_dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                "the state folder {} is open to other accounts (mode {:o}): it holds people's rows (rejects, \
                 the ledger); make it private with `chmod -R go-rwx {}`",
                state_dir.display(),
                meta.permissions().mode() & 0o777,
                state_dir.display()
            );
        }
    }
}

/// The state store of one job: one sled database per job, so that its lock is
/// the job's run lock and different jobs can run side by side. Blocking: call
/// it from sync code (a run opens its store on the blocking pool).
pub fn open_store_blocking(state_dir: &Path, job: &str) -> Result<Store> {
    warn_if_shared(state_dir);
    let dir = state_dir.join("jobs").join(job);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create the state folder {}", dir.display()))?;
    Ok(Store::open(&dir, true)?)
}

/// [`open_store_blocking`] on the blocking pool.
async fn open_store(state_dir: PathBuf, job: String) -> Result<Store> {
    blocking(move || open_store_blocking(&state_dir, &job)).await
}
