//! The import engine: reads, transforms, batches, plans in the ledger, sends
//! with limits and retries, settles, and resumes. It is the import kinds'
//! part of the run lifecycle (`crate::run`): [`Import::execute`] runs one
//! attempt of a run. One task owns the state and the report files; requests
//! run concurrently beside it; blocking work goes to the blocking pool.

mod history;
use history::event_hash;
pub(crate) mod lists;
mod order;
mod progress;
pub mod resume;
mod sender;
mod settle;

use crate::pipeline::{self, Chunk};
use crate::report::RejectsWriter;
use crate::sending::batch::{Batch, BatchLimits, Batcher, Row};
use crate::sending::body::BodyKind;
use crate::sending::send::{SendError, SendStats, Sender, SentOp};
use crate::service::{Context, Ended, blocking};
use anyhow::{Context as _, Result};
use batchport_dispatch::Limiter;
use batchport_source::{self as source, CsvSource};
use batchport_state::{self as state, Fingerprint, Run, RunProgress, Store};
use batchport_transform::job::{Job, Kind, Mapping, OnUncertain};
use batchport_transform::{Mapped, Transformer};
use settle::Accounts;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long a failed attempt waits for its other batches in flight (whose
/// waits it cancelled) before leaving them planned.
const DRAIN_AFTER_FAILURE: std::time::Duration = std::time::Duration::from_secs(10);

/// A report file could not be written, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum Written {
    #[error("cannot write the rejects file: {0}")]
    Rejects(std::io::Error),
    #[error("cannot write the uncertain file: {0}")]
    Uncertain(std::io::Error),
    #[error(transparent)]
    State(state::StateError),
}

/// An import job ready to run: its input files and their fingerprints.
pub struct Import {
    files: Vec<PathBuf>,
    prints: Vec<Fingerprint>,
}

impl Import {
    /// Expand the job's input pattern, fingerprint every file, and check
    /// that the job fits each file's header: a missing or doubled column, or
    /// a file that is not CSV at all, is a bad job for this input (exit 2),
    /// found before any run is recorded.
    pub async fn prepare(job: &Job) -> Result<Import> {
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
    pub fn resumes(&self, run: &Run) -> bool {
        run.inputs == self.prints
    }

    pub fn inputs(&self) -> Vec<Fingerprint> {
        self.prints.clone()
    }

    /// One attempt at `run`: resume from its ledger, read every file not
    /// done, send, settle. Progress is kept in `run` (and saved) as it goes.
    pub async fn execute(&mut self, cx: &Context<'_>, run: &mut Run) -> Result<Ended> {
        let job = cx.job;
        let src = job.source.as_ref().context("this job reads no CSV")?;
        let store = cx.store.clone();
        let hold = job.on_uncertain == OnUncertain::Hold;
        self.adopt(run);
        let (s, id) = (store.clone(), run.id.clone());
        let ledger = blocking(move || s.batches(&id)).await?;
        let plan = resume::plan(run, &ledger, hold);
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
            progress: progress::ImportBar::new(cx.options.progress, self.prints.iter().map(|f| f.size).sum()),
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
                history::imported(&store, &cx.scope, &self.prints[i], &run.id, &job.mapping_print).await?;
            }
            save(run, &eng, &base, &files_done, true).await?;
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
        let change_note = match change {
            Some(ci) => blocking(move || ci.commit().map(|()| ci.replaced_note().map(str::to_string))).await?,
            None => None,
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
        save(run, &eng, &base, &files_done, false).await?;
        outcome?;
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

type Sent = (Batch<SentOp>, Result<(), SendError>);

struct Engine<'a> {
    job: &'a Job,
    /// How many input files the run has.
    files: usize,
    /// Who opted out over the run's whole input, for jobs whose people span
    /// several rows (`transform::optouts`).
    opt_outs: Option<Arc<batchport_transform::optouts::OptOuts>>,
    store: Store,
    sender: Sender,
    /// Only the engine's task uses it; behind a mutex so that settling (file
    /// writes, sled, fsync) can run on the blocking pool.
    acc: Arc<Mutex<Accounts>>,
    inflight: JoinSet<Sent>,
    batcher: Batcher,
    progress: progress::ImportBar,
    run_id: String,
    cancel: CancellationToken,
    /// The run record as of the file being read, and the request counts the
    /// attempt started from: each settled batch writes the counts into it, in
    /// the same flush as the batch, so a kill loses at most the requests of the
    /// batches then in flight (the ledger does not count requests).
    checkpoint: Option<(Run, state::Counters)>,
    events: crate::service::Events,
    /// The IDs of the batches in flight (per-ID order).
    keys: order::InFlight,
    /// Record in the ledger when a batch's first request leaves.
    marks_sent: bool,
}

impl Engine<'_> {
    fn accounts(&self) -> std::sync::MutexGuard<'_, Accounts> {
        // A panic while settling ends the run; the counts it left are still the truth.
        self.acc.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn show_progress(&mut self) {
        let counters = self.accounts().counters.clone();
        self.progress.update(&counters);
        self.events.rows(&counters);
    }

    /// Read, transform and send one file, resuming where its plan says.
    async fn file(
        &mut self,
        index: usize,
        path: &std::path::Path,
        plan: &resume::FilePlan,
        options: &source::SourceOptions,
    ) -> Result<()> {
        let (owned, opts, after) = (path.to_path_buf(), options.clone(), plan.after);
        // Opening may decompress a whole `.gz` prefix: not on an async worker.
        let csv = blocking(move || CsvSource::open_from(&owned, &opts, after)).await?;
        let t = Transformer::bind_rows(self.job, csv.headers(), path)?.with_opt_outs(self.opt_outs.clone());
        // Settling reads a plain local file's rows again where it needs them.
        let t = if csv.rereadable() { t.without_records() } else { t };
        {
            let mut acc = self.accounts();
            acc.rejects.set_source(csv.raw_headers(), csv.delimiter());
            acc.rejects.set_source_path(path);
            acc.uncertain.set_source_path(path);
            acc.set_source(
                index,
                settle::Source { path: path.to_path_buf(), delimiter: csv.delimiter(), seekable: csv.rereadable() },
            );
            acc.uncertain.set_source(csv.raw_headers(), csv.delimiter());
            if let Some(p) = acc.partial.as_mut() {
                p.set_source(csv.raw_headers(), csv.delimiter());
            }
        }
        self.batcher.set_file(index);
        let base_bytes = self.progress.position();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(2);
        // With `changed_only`, unchanged rows are not transformed: a local
        // file is scanned first (every row checked against the index at once,
        // then read again); an object is read once, each row looked up.
        let last = index + 1 == self.files;
        let lookup = self.accounts().change.as_ref().map(|ci| if last { ci.lookup().last_file() } else { ci.lookup() });
        let again = (!source::is_remote(path)).then(|| (path.to_path_buf(), options.clone(), plan.after));
        let no_replays = plan.ranges.is_empty();
        let reader = tokio::task::spawn_blocking(move || match (lookup, again) {
            (Some(index), Some((path, opts, after))) if !index.is_empty() => {
                tracing::info!(path = %path.display(), "checking every row against the change index");
                // The whole file, also on a resume: an ID with rows on both sides
                // of what an earlier attempt settled is decided by all of them.
                let first = CsvSource::open(&path, &opts)?;
                let from = after.map_or(0, |a| a.record + 1);
                match pipeline::scan_changes(first, &t, &index, from, || !tx.is_closed())? {
                    Some(delta) => {
                        // Windows are sought past only where no row has a fate from an earlier attempt.
                        let send = |chunk| tx.blocking_send(chunk).is_ok();
                        Ok(pipeline::for_each_chunk_delta(csv, &t, &delta, no_replays, send)?)
                    }
                    None => Ok(()),
                }
            }
            (Some(index), _) => {
                pipeline::for_each_chunk_changed(csv, &t, &index, |chunk| tx.blocking_send(chunk).is_ok())
            }
            (None, _) => Ok(pipeline::for_each_chunk(csv, &t, |chunk| tx.blocking_send(chunk).is_ok())?),
        });
        let mut cursor = 0usize;
        while let Some(chunk) = rx.recv().await {
            self.progress.set_position(base_bytes + chunk.bytes_read);
            let events = self.accounts().events.clone();
            let (chunk, known) = history::duplicates(events, chunk).await?;
            for (i, r) in chunk.results.into_iter().enumerate() {
                let row = match (plan.fate(r.pos().record, &mut cursor), r) {
                    (Some(resume::Replay::Skip), r) => Row::SkipAcked(r.pos()),
                    (Some(resume::Replay::Hold), Mapped::Op(op)) => Row::Held(op),
                    (_, Mapped::Reject(rej)) => Row::Reject(rej),
                    // Batch already has this exact operation: nothing is uncertain.
                    (_, Mapped::Unchanged(pos)) => Row::Unchanged(pos),
                    // Only when nothing of the file was settled before (no fate).
                    (_, Mapped::UnchangedRun { first, last, rows }) => Row::UnchangedRun { first, last, rows },
                    (None, Mapped::Op(mut op)) => match known.get(i) {
                        // The event is Batch's already, but the row's profile
                        // part (consent above all) is still sent, without it.
                        Some(state::Known::Sent) if op.attrs.len() > 2 => {
                            op.event = None;
                            Row::Op(op)
                        }
                        Some(state::Known::Sent) => Row::Duplicate(op.pos),
                        Some(state::Known::Held) => Row::Held(op),
                        _ => Row::Op(op),
                    },
                };
                if let Some(batch) = self.batcher.push(row) {
                    self.dispatch(batch).await?;
                }
            }
            self.show_progress();
            if self.cancel.is_cancelled() {
                break;
            }
        }
        drop(rx);
        if !self.cancel.is_cancelled() {
            let read = reader.await.context("the reader stopped")?;
            if let Some(batch) = self.batcher.close() {
                self.dispatch(batch).await?;
            }
            read?;
        } else {
            // The partial segment is dropped unplanned: its rows are re-read on resume.
            let _ = self.batcher.close();
            let _ = reader.await;
        }
        Ok(())
    }

    /// Plan `batch` durably, then send it (or settle it at once if it sends nothing).
    async fn dispatch(&mut self, mut batch: Batch) -> Result<()> {
        let events = self.accounts().events.is_some();
        if events {
            // Held rows stay held for every later run: the index keeps them.
            batch.held_hashes = batch.held.iter().map(event_hash).collect();
        }
        if batch.ops.is_empty() {
            // Nothing leaves: no plan, no flush. Lost in a crash, the segment is
            // simply read and settled again, its report lines cut back and rewritten.
            return self.settle_off_thread(batch.map_ops(|op| SentOp::new(op, true, None)), false).await;
        }
        // A free slot first, then the plan: a failure met while waiting must
        // not leave behind a batch planned but never sent (held on resume).
        // Until an audience replace is accepted, nothing may overtake it.
        let concurrency = if self.sender.replace.is_pending() { 1 } else { self.job.api.concurrency };
        while self.inflight.len() >= concurrency {
            self.settle_next().await?;
        }
        // Per-ID order: wait while an earlier batch holding one of its IDs is unsettled.
        if self.keys.conflicts(&batch.keys) {
            self.keys.waits += 1;
            while self.keys.conflicts(&batch.keys) {
                self.settle_next().await?;
            }
        }
        let record = batch.record(state::BatchState::Planned, state::Tally::default());
        let (store, id, planned) = (self.store.clone(), self.run_id.clone(), record.clone());
        blocking(move || store.plan_batch(&id, &planned)).await?;
        self.keys.add(&batch.keys);
        let (endpoint, kind) = self.sender.target();
        let reread = self.accounts().sources.get(batch.file).is_some_and(|s| s.seekable);
        let (batch, body) = blocking(move || {
            let body = crate::sending::body::build(&kind, &batch.ops);
            // The body holds the attributes now: the operations in flight keep only
            // what settling needs (key, position, the change-index pair; the source
            // row itself only where the file cannot be read again at that position).
            let batch = batch.map_ops(|op| {
                let change = op.change;
                // An operation whose event was a duplicate carries none: nothing to index.
                let event = (events && op.event.is_some()).then(|| event_hash(&op));
                SentOp { event, ..SentOp::new(op, !reread, change) }
            });
            Ok::<_, std::convert::Infallible>((batch, body))
        })
        .await?;
        let sender = self.sender.clone();
        let handoff = self.marks_sent.then(|| history::handoff(self.store.clone(), self.run_id.clone(), record));
        self.inflight.spawn(async move {
            let mut batch = batch;
            let sent = sender.send(&mut batch.ops, &body, endpoint, handoff).await;
            (batch, sent)
        });
        Ok(())
    }

    async fn settle_next(&mut self) -> Result<()> {
        match self.inflight.join_next().await {
            Some(Ok((batch, sent))) => {
                self.keys.remove(&batch.keys);
                self.settle(batch, sent).await
            }
            Some(Err(e)) => Err(anyhow::anyhow!("a sending task failed: {e}")),
            None => Ok(()),
        }
    }

    /// After a failure: settle every batch in flight that ends, whatever it
    /// ends with (the first failure is the run's).
    async fn drain_after_failure(&mut self) {
        while let Some(joined) = self.inflight.join_next().await {
            if let Ok((batch, sent)) = joined
                && let Err(e) = self.settle(batch, sent).await
            {
                tracing::debug!("after the run's failure: {e:#}");
            }
        }
    }

    /// Wait for every batch in flight.
    async fn drain(&mut self) -> Result<()> {
        while !self.inflight.is_empty() {
            self.settle_next().await?;
        }
        Ok(())
    }

    async fn settle(&mut self, batch: Batch<SentOp>, sent: Result<(), SendError>) -> Result<()> {
        match sent {
            Ok(()) => self.settle_off_thread(batch, true).await,
            // Stopped while waiting to retry: nothing settled. A batch none of
            // whose requests reached Batch is forgotten (its rows are read again
            // on resume); one that was partly answered stays planned.
            Err(SendError::Cancelled { answered }) => {
                if !answered {
                    self.unplan(&batch).await?;
                }
                Ok(())
            }
            // Nothing reached the server: the batch was surely not sent (not
            // even for events, whose unknown outcomes are held on resume).
            Err(e @ SendError::Unreachable(_)) => {
                self.unplan(&batch).await?;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn unplan(&self, batch: &Batch<SentOp>) -> Result<()> {
        let (store, id, seq) = (self.store.clone(), self.run_id.clone(), batch.seq);
        blocking(move || store.unplan_batch(&id, seq)).await
    }

    async fn settle_off_thread(&mut self, batch: Batch<SentOp>, durable: bool) -> Result<()> {
        let (acc, store, id) = (self.acc.clone(), self.store.clone(), self.run_id.clone());
        let checkpoint = match (&self.checkpoint, durable) {
            (Some((run, base)), true) => {
                let stats = self.sender.driver.stats();
                let mut run = run.clone();
                run.counters.requests = base.requests + stats.requests.load(Relaxed);
                run.counters.retries = base.retries + stats.retries.load(Relaxed);
                run.counters.http_429 = base.http_429 + stats.http_429.load(Relaxed);
                Some(run)
            }
            _ => None,
        };
        blocking(move || {
            if let Some(run) = &checkpoint {
                // Made durable by the settle's flush just below.
                store.save_run(run).map_err(Written::State)?;
            }
            let mut acc = acc.lock().unwrap_or_else(|e| e.into_inner());
            acc.settle(&store, &id, batch, durable)
        })
        .await?;
        self.show_progress();
        Ok(())
    }
}

/// The body kind and endpoint of a job's batches.
pub fn body_kind(job: &Job) -> BodyKind {
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
