//! The import engine: reads, transforms, batches, plans in the ledger, sends
//! with limits and retries, settles, and resumes. It is the import kinds'
//! part of the run lifecycle (`crate::run`): `Import::execute` runs one
//! attempt of a run. One task owns the state and the report files; requests
//! run concurrently beside it; blocking work goes to the blocking pool.
//!
//! `execute` sets the attempt up (resume plan, report files, indexes, sender)
//! and drives its engine (`attempt`) file by file; the engine's parts are
//! `order` (per-ID order), `settle`, `history` (what the destination already
//! has) and `progress`.

mod attempt;
mod history;
pub(crate) mod lists;
mod order;
mod progress;
pub mod resume;
mod sender;
mod settle;

use crate::report::RejectsWriter;
use crate::sending::batch::{BatchLimits, Batcher};
use crate::sending::body::BodyKind;
use crate::sending::send::SendStats;
use crate::service::{Context, Ended, blocking};
use anyhow::{Context as _, Result};
use attempt::Engine;
use batchport_dispatch::Limiter;
use batchport_source::{self as source, CsvSource};
use batchport_state::{self as state, Fingerprint, Run, RunProgress};
use batchport_transform::Transformer;
use batchport_transform::job::{Job, Kind, Mapping, OnUncertain};
use settle::Accounts;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;

/// How long a failed attempt waits for its other batches in flight (whose
/// waits it cancelled) before leaving them planned.
const DRAIN_AFTER_FAILURE: std::time::Duration = std::time::Duration::from_secs(10);

/// A report file could not be written, or the store failed.
#[derive(Debug, thiserror::Error)]
enum Written {
    #[error("cannot write the rejects file: {0}")]
    Rejects(std::io::Error),
    #[error("cannot write the uncertain file: {0}")]
    Uncertain(std::io::Error),
    #[error(transparent)]
    State(state::StateError),
}

/// An import job ready to run: its input files and their fingerprints.
pub(crate) struct Import {
    files: Vec<PathBuf>,
    prints: Vec<Fingerprint>,
}

impl Import {
    /// Expand the job's input pattern, fingerprint every file, and check
    /// that the job fits each file's header: a missing or doubled column, or
    /// a file that is not CSV at all, is a bad job for this input (exit 2),
    /// found before any run is recorded.
    pub(crate) async fn prepare(job: &Job) -> Result<Import> {
        let src = job.source.as_ref().context("this job reads no CSV")?.clone();
        let job = job.clone();
        blocking(move || {
            let files = source::expand_with(&src.pattern, &src.base_dir, &src.options)?;
            let prints = files
                .iter()
                .map(|f| source::fingerprint(f, &src.options).with_context(|| format!("cannot read {}", f.display())))
                .collect::<Result<Vec<_>>>()?;
            for f in &files {
                let csv = CsvSource::open(f, &src.options)?;
                // Headers only: the opt-out read-ahead (if any) runs once, when the file is imported.
                Transformer::bind_rows(&job, csv.headers(), f)?;
            }
            Ok::<_, anyhow::Error>(Import { files, prints })
        })
        .await
    }

    /// A run is about this input when its files are the same, unchanged.
    pub(crate) fn resumes(&self, run: &Run) -> bool {
        run.inputs == self.prints
    }

    /// The input files, expanded.
    pub(crate) fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// What a new run records as its input: the files' fingerprints.
    pub(crate) fn inputs(&self) -> Vec<Fingerprint> {
        self.prints.clone()
    }

    /// One attempt at `run`: resume from its ledger, read every file not
    /// done, send, settle. Progress is kept in `run` (and saved) as it goes.
    pub(crate) async fn execute(&mut self, cx: &Context<'_>, run: &mut Run) -> Result<Ended> {
        let job = cx.job;
        let src = job.source.as_ref().context("this job reads no CSV")?;
        let store = cx.store.clone();
        let hold = job.on_uncertain == OnUncertain::Hold;
        self.adopt(run);
        let (s, id) = (store.clone(), run.id.clone());
        let ledger = blocking(move || s.batches(&id)).await?;
        let plan = resume::plan(run, &ledger, hold);
        if !ledger.is_empty() {
            let c = &plan.counters;
            cx.options.events.notice(format!(
                "resuming run {}: {} rows already acknowledged, {} rejected, {} held: none is sent again",
                run.id, c.rows_sent, c.rows_rejected, c.rows_uncertain
            ));
        }
        // Sequence numbers key the ledger: never reuse one an earlier attempt planned.
        run.next_seq = run.next_seq.max(ledger.iter().map(|b| b.seq + 1).max().unwrap_or(0));
        let rejects_dir = job.rejects_dir.clone().unwrap_or_else(|| cx.options.state_dir.join("rejects"));
        // Several input files: each report row says which one it came from.
        let several = self.files.len() > 1;
        let mut rejects = RejectsWriter::new(&rejects_dir, &format!("{}-rejects", run.id)).with_file_column(several);
        let mut uncertain =
            RejectsWriter::new(&rejects_dir, &format!("{}-uncertain", run.id)).with_file_column(several);
        let (rejects_lens, uncertain_lens) = (plan.rejects_lens.clone(), plan.uncertain_lens.clone());
        let (rejects, uncertain) = blocking(move || {
            rejects.resume(&rejects_lens).context("cannot reopen the rejects file")?;
            uncertain.resume(&uncertain_lens).context("cannot reopen the uncertain file")?;
            Ok::<_, anyhow::Error>((rejects, uncertain))
        })
        .await?;
        let mut counters = plan.counters.clone();
        // Request counts are not in the ledger: carry them from the run record.
        (counters.requests, counters.retries, counters.http_429) =
            (run.counters.requests, run.counters.retries, run.counters.http_429);
        (counters.updates_accepted, counters.send_ms) = (run.counters.updates_accepted, run.counters.send_ms);
        let mut acc = Accounts::new(rejects, uncertain, counters);
        let mut partial = RejectsWriter::new(&rejects_dir, &format!("{}-partial", run.id));
        let partial_len = plan.partial_len;
        acc.partial = Some(
            blocking(move || partial.resume(&[partial_len]).map(|()| partial))
                .await
                .context("cannot reopen the partial file")?,
        );
        let changed_only = matches!(&job.mapping, Mapping::Profiles(p) if p.changed_only);
        if changed_only {
            // Opening merges what a killed run left: not on an async worker.
            let (s, key) = (store.clone(), cx.scope.clone());
            acc.change = Some(blocking(move || s.change_index(&key)).await?);
        }
        // The first `changed_only` run to a destination has nothing to diff
        // against: it sends every row, and says so.
        let index_was_empty = acc.change.as_ref().is_some_and(|c| c.is_empty());
        if job.kind == Kind::Events {
            acc.events = Some(history::open_events(job, &store, &cx.scope, run, hold && ledger.is_empty()).await?);
        }
        // Events batches record when their request leaves: one killed while it
        // waited is resent, not held.
        let marks_sent = hold && matches!(&run.progress, RunProgress::Import(p) if p.marks_sent);
        let client = &cx.connection.client;
        lists::prepare(job, client, &cx.driver).await?;
        let stats = Arc::new(SendStats::default());
        let sender = sender::sender(cx.connection, job, hold, stats.clone(), cx.driver.clone());
        // A replace accepted by an earlier attempt of this run is not redone: the
        // rest of the rows are added to what it left.
        if plan.counters.rows_sent > 0 {
            sender.replace.resumed_after_send();
        }
        let (base, cancel) = (acc.counters.clone(), cx.options.cancel.clone());
        // Read ahead once over every file, done or not: an opt-out in any of
        // them holds for the person's rows in all of them.
        let (j, files) = (job.clone(), self.files.clone());
        let opt_outs =
            blocking(move || Ok::<_, anyhow::Error>(batchport_transform::optouts::of_run(&j, &files)?)).await?;
        let mut eng = Engine {
            job,
            files: self.files.len(),
            opt_outs,
            store: store.clone(),
            sender,
            acc: Arc::new(Mutex::new(acc)),
            inflight: JoinSet::new(),
            batcher: Batcher::new(batch_limits(job, changed_only), run.next_seq),
            progress: progress::ImportBar::new(cx.options.progress, self.prints.iter().map(|f| f.size).sum())
                .after(base.rows_read),
            run_id: run.id.clone(),
            cancel: cancel.clone(),
            checkpoint: None,
            events: cx.options.events.clone(),
            keys: order::InFlight::default(),
            marks_sent,
        };
        let mut outcome: Result<()> = Ok(());
        let mut files_done: Vec<bool> = plan.files.iter().map(|f| f.done).collect();
        let seen = history::Seen::check(job, &store, &cx.scope, &self.prints, &mut files_done).await?;
        for (i, file) in self.files.iter().enumerate() {
            if files_done[i] || cancel.is_cancelled() {
                continue;
            }
            eng.checkpoint = Some((run.clone(), base.clone()));
            // An object is read at the version fingerprinted when the run began.
            let options = source::SourceOptions { etag: self.prints[i].etag.clone(), ..src.options.clone() };
            outcome = eng.file(i, file, &plan.files[i], &options).await;
            // A file that broke part way (a truncated .gz, a file changed while
            // read): the whole rows before the break are still sent and settled.
            let read_failed = outcome.as_ref().err().is_some_and(|e| e.is::<source::SourceError>());
            if outcome.is_ok() || read_failed {
                let drained = eng.drain().await;
                if outcome.is_ok() {
                    outcome = drained;
                }
            }
            if outcome.is_err() {
                break;
            }
            if !cancel.is_cancelled() {
                files_done[i] = true;
                outcome = history::imported(&store, &cx.scope, &self.prints[i], &run.id, &job.mapping_print).await;
            }
            if outcome.is_ok() {
                outcome = save(run, &eng, &base, &files_done, true).await;
            }
            if outcome.is_err() {
                break;
            }
        }
        if eng.keys.waits > 0 {
            tracing::info!(waits = eng.keys.waits, "batches waited for an earlier batch holding one of their IDs");
        }
        if outcome.is_err() {
            // Stop the other batches' waits, settle what Batch answered and forget
            // what never left; past the grace, what is still in flight stays
            // planned in the ledger (resent or held on resume).
            eng.sender.driver.cancel_token().cancel();
            let _ = tokio::time::timeout(DRAIN_AFTER_FAILURE, eng.drain_after_failure()).await;
            eng.inflight.abort_all();
        }
        // What was acknowledged, whatever the outcome, into the index's base.
        let change = eng.accounts().change.clone();
        let committed = match change {
            Some(ci) => blocking(move || ci.commit().map(|()| ci.replaced_note().map(str::to_string))).await,
            None => Ok(None),
        };
        eng.progress.finish();
        {
            let acc = eng.accounts();
            run.rejects_file = acc.rejects.paths.first().cloned();
            run.uncertain_file = acc.uncertain.paths.first().cloned();
            run.rejects_files = acc.rejects.paths.clone();
            run.uncertain_files = acc.uncertain.paths.clone();
            run.partial_file = acc.partial.as_ref().and_then(|p| p.paths.first().cloned());
        }
        // The counts of what was sent are kept whatever failed (a full disk
        // fails the commit, and maybe this save: the run's record then keeps
        // its last counts, the summary these). The first failure is the one
        // reported; a commit that failed leaves its logs for the next open.
        let saved = save(run, &eng, &base, &files_done, false).await;
        outcome?;
        let change_note = committed?.or_else(|| {
            index_was_empty.then(|| {
                "the change index was empty (the first changed_only run to this destination): no row was skipped as unchanged; \
                 the next run sends only what changed"
                    .to_string()
            })
        });
        saved?;
        if cancel.is_cancelled() {
            return Ok(Ended::Interrupted);
        }
        if let Some(refused) = lists::replace_nothing(job, &eng.sender, &run.counters).await? {
            return Ok(refused);
        }
        let token = stats.last_token.lock().ok().and_then(|t| t.clone());
        let mut note = lists::finish(job, client, &cx.driver, token).await?;
        if let Some(n) = change_note {
            note = Some(note.map_or(n.clone(), |o| format!("{o}; {n}")));
        }
        Ok(Ended::Done { note: seen.note(job.kind == Kind::Events, note) })
    }
}

/// Keep the attempt's progress in the run record; `flush` makes it durable now.
async fn save(run: &mut Run, eng: &Engine<'_>, base: &state::Counters, files_done: &[bool], flush: bool) -> Result<()> {
    let stats = eng.sender.driver.stats();
    // The row counts as settled (a new counter cannot be forgotten here);
    // the request counts, set below, from the driver.
    run.counters = eng.accounts().counters.clone();
    run.counters.requests = base.requests + stats.requests.load(Relaxed);
    run.counters.retries = base.retries + stats.retries.load(Relaxed);
    run.counters.http_429 = base.http_429 + stats.http_429.load(Relaxed);
    let sending = eng.sender.driver.limiter().sending().unwrap_or_default();
    run.counters.updates_accepted = base.updates_accepted + sending.updates;
    run.counters.send_ms = base.send_ms + (sending.seconds * 1e3) as u64;
    run.next_seq = eng.batcher.next_seq();
    let marks_sent = matches!(&run.progress, RunProgress::Import(p) if p.marks_sent);
    let mapping = run.mapping().map(str::to_string);
    run.progress = RunProgress::Import(state::ImportProgress { files_done: files_done.to_vec(), marks_sent, mapping });
    let (store, record) = (eng.store.clone(), run.clone());
    blocking(move || {
        store.save_run(&record)?;
        if flush {
            store.flush()?;
        }
        Ok::<_, state::StateError>(())
    })
    .await
}

/// The limits of the job's batches: its endpoint's, and how many rows a
/// segment may keep in memory or span.
fn batch_limits(job: &Job, changed_only: bool) -> BatchLimits {
    let max_rows = (job.api.batch_size as u64 * 4).max(10_000);
    BatchLimits {
        max_ops: job.api.batch_size,
        max_bytes: job.api.limits.max_body_bytes,
        max_events_per_key: (job.kind == Kind::Events).then_some(batchport_api::rules::MAX_EVENTS_PER_OPERATION),
        max_rows,
        max_segment_rows: if changed_only { (job.api.batch_size as u64 * 128).max(max_rows) } else { max_rows },
    }
}

/// The body kind and endpoint of a job's batches.
fn body_kind(job: &Job) -> BodyKind {
    match &job.mapping {
        Mapping::Events(_) => BodyKind::Events,
        Mapping::Audience(a) => BodyKind::Audience {
            name: a.name.clone(),
            action: Some(if a.mode == batchport_transform::job::AudienceMode::Remove { "remove" } else { "add" }),
        },
        Mapping::Catalog(c) => BodyKind::Catalog { name: c.name.clone(), remove: c.remove },
        _ => BodyKind::Profiles,
    }
}

/// The job's limiter: its endpoint's documented rates, or `rate = N`; the
/// limiter plans a little below either (`dispatch::limiter::PLANNED_SHARE`).
pub(crate) fn limiter(job: &Job) -> Limiter {
    Limiter::new(job.api.limits.rates, job.api.rate)
}
