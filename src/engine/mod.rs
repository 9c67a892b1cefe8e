//! The import engine: reads, transforms, batches, plans in the ledger, sends
//! with limits and retries, settles, and resumes. It is the import kinds'
//! part of the run lifecycle (`crate::run`): [`Import::execute`] runs one
//! attempt of a run. One task owns the state and the report files; requests
//! run concurrently beside it; blocking work goes to the blocking pool.

mod lists;
mod progress;
pub mod resume;
mod settle;

use crate::dispatch::Limiter;
use crate::dispatch::batch::{Batch, BatchLimits, Batcher, Row};
use crate::dispatch::body::BodyKind;
use crate::dispatch::send::{SendError, SendStats, Sender, SentOp};
use crate::job::{Job, Kind, Mapping, OnUncertain};
use crate::pipeline::{self, Chunk};
use crate::report::RejectsWriter;
use crate::run::{Context, Ended, blocking};
use crate::source::{self, CsvSource};
use crate::state::{self, ChangeIndex, Fingerprint, Run, RunProgress, Store};
use crate::transform::Transformer;
use anyhow::{Context as _, Result};
use settle::Accounts;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

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
    /// Expand the job's input pattern and fingerprint every file.
    pub async fn prepare(job: &Job) -> Result<Import> {
        let src = job.source.as_ref().context("this job reads no CSV")?.clone();
        blocking(move || {
            let files = source::expand_with(&src.pattern, &src.base_dir, &src.options)?;
            let prints = files
                .iter()
                .map(|f| source::fingerprint(f, &src.options).with_context(|| format!("cannot read {}", f.display())))
                .collect::<Result<Vec<_>>>()?;
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
        let (s, id) = (store.clone(), run.id.clone());
        let ledger = blocking(move || s.batches(&id)).await?;
        let plan = resume::plan(run, &ledger, hold);
        // Sequence numbers key the ledger: never reuse one an earlier attempt planned.
        run.next_seq = run.next_seq.max(ledger.iter().map(|b| b.seq + 1).max().unwrap_or(0));
        let rejects_dir = job.rejects_dir.clone().unwrap_or_else(|| cx.options.state_dir.join("rejects"));
        let mut rejects = RejectsWriter::new(&rejects_dir, &format!("{}-rejects", run.id));
        let mut uncertain = RejectsWriter::new(&rejects_dir, &format!("{}-uncertain", run.id));
        let (rejects_len, uncertain_len) = (plan.rejects_len, plan.uncertain_len);
        let (rejects, uncertain) = blocking(move || {
            rejects.resume(rejects_len).context("cannot reopen the rejects file")?;
            uncertain.resume(uncertain_len).context("cannot reopen the uncertain file")?;
            Ok::<_, anyhow::Error>((rejects, uncertain))
        })
        .await?;
        let mut counters = plan.counters.clone();
        // Request counts are not in the ledger: carry them from the run record.
        (counters.requests, counters.retries, counters.http_429) =
            (run.counters.requests, run.counters.retries, run.counters.http_429);
        let mut acc = Accounts::new(rejects, uncertain, counters);
        let changed_only = matches!(&job.mapping, Mapping::Profiles(p) if p.changed_only);
        if changed_only {
            acc.change = Some(store.change_index(&job.name));
        }
        let client = &cx.connection.client;
        lists::prepare(job, client, &cx.driver).await?;
        let stats = Arc::new(SendStats::default());
        let sender = cx.connection.sender(job, hold, stats.clone(), cx.driver.clone());
        // A replace accepted by an earlier attempt of this run is not redone: the
        // rest of the rows are added to what it left.
        if plan.counters.rows_sent > 0 {
            sender.replace.resumed_after_send();
        }
        let (base, cancel) = (acc.counters.clone(), cx.options.cancel.clone());
        let mut eng = Engine {
            job,
            store: store.clone(),
            sender,
            acc: Arc::new(Mutex::new(acc)),
            inflight: JoinSet::new(),
            batcher: Batcher::new(batch_limits(job), run.next_seq),
            progress: progress::ImportBar::new(cx.options.progress, self.prints.iter().map(|f| f.size).sum()),
            run_id: run.id.clone(),
            cancel: cancel.clone(),
            events: cx.options.events.clone(),
        };
        let mut outcome: Result<()> = Ok(());
        let mut files_done: Vec<bool> = plan.files.iter().map(|f| f.done).collect();
        for (i, file) in self.files.iter().enumerate() {
            if files_done[i] || cancel.is_cancelled() {
                continue;
            }
            // An object is read at the version fingerprinted when the run began.
            let options = source::SourceOptions { etag: self.prints[i].etag.clone(), ..src.options.clone() };
            outcome = eng.file(i, file, &plan.files[i], &options).await;
            if outcome.is_ok() {
                outcome = eng.drain().await;
            }
            if outcome.is_err() {
                break;
            }
            if !cancel.is_cancelled() {
                files_done[i] = true;
            }
            save(run, &eng, &base, &files_done, true).await?;
        }
        if outcome.is_err() {
            // Batches still in flight stay planned in the ledger: resent or held on resume.
            eng.inflight.abort_all();
        }
        eng.progress.finish();
        {
            let acc = eng.accounts();
            run.rejects_file = acc.rejects.paths.first().cloned();
            run.uncertain_file = acc.uncertain.paths.first().cloned();
        }
        save(run, &eng, &base, &files_done, false).await?;
        outcome?;
        if cancel.is_cancelled() {
            return Ok(Ended::Interrupted);
        }
        let token = stats.last_token.lock().ok().and_then(|t| t.clone());
        let note = lists::finish(job, client, &cx.driver, token).await?;
        Ok(Ended::Done { note })
    }
}

/// Keep the attempt's progress in the run record; `flush` makes it durable now.
async fn save(run: &mut Run, eng: &Engine<'_>, base: &state::Counters, files_done: &[bool], flush: bool) -> Result<()> {
    let stats = eng.sender.driver.stats();
    {
        let acc = eng.accounts();
        let (c, a) = (&mut run.counters, &acc.counters);
        c.rows_read = a.rows_read;
        c.rows_sent = a.rows_sent;
        c.rows_rejected = a.rows_rejected;
        c.rows_unchanged = a.rows_unchanged;
        c.rows_uncertain = a.rows_uncertain;
    }
    run.counters.requests = base.requests + stats.requests.load(Relaxed);
    run.counters.retries = base.retries + stats.retries.load(Relaxed);
    run.counters.http_429 = base.http_429 + stats.http_429.load(Relaxed);
    run.next_seq = eng.batcher.next_seq();
    run.progress = RunProgress::Import(state::ImportProgress { files_done: files_done.to_vec() });
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

fn batch_limits(job: &Job) -> BatchLimits {
    BatchLimits {
        max_ops: job.api.batch_size,
        max_bytes: job.api.limits.max_body_bytes,
        max_events_per_key: (job.kind == Kind::Events).then_some(crate::api::rules::MAX_EVENTS_PER_OPERATION),
        max_rows: (job.api.batch_size as u64 * 4).max(10_000),
    }
}

type Sent = (Batch<SentOp>, Result<(), SendError>);

struct Engine<'a> {
    job: &'a Job,
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
    events: crate::run::Events,
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
        let csv = blocking(move || match after {
            Some(after) => CsvSource::open_after(&owned, &opts, after),
            None => CsvSource::open(&owned, &opts),
        })
        .await?;
        let t = Transformer::bind(self.job, csv.headers(), path)?;
        {
            let mut acc = self.accounts();
            acc.rejects.set_source(csv.raw_headers(), csv.delimiter());
            acc.set_source(
                index,
                settle::Source { path: path.to_path_buf(), delimiter: csv.delimiter(), seekable: csv.rereadable() },
            );
            acc.uncertain.set_source(csv.raw_headers(), csv.delimiter());
        }
        self.batcher.set_file(index);
        let base_bytes = self.progress.position();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(2);
        let reader = tokio::task::spawn_blocking(move || {
            pipeline::for_each_chunk(csv, &t, |chunk| tx.blocking_send(chunk).is_ok())
        });
        let mut cursor = 0usize;
        while let Some(chunk) = rx.recv().await {
            self.progress.set_position(base_bytes + chunk.bytes_read);
            let (chunk, unchanged) = self.unchanged(chunk).await?;
            for (i, r) in chunk.results.into_iter().enumerate() {
                let record = match &r {
                    Ok(op) => op.pos.record,
                    Err(rej) => rej.pos.record,
                };
                let row = match (plan.fate(record, &mut cursor), r) {
                    (Some(resume::Replay::Skip), Ok(op)) => Row::SkipAcked(op.pos),
                    (Some(resume::Replay::Skip), Err(rej)) => Row::SkipAcked(rej.pos),
                    (Some(resume::Replay::Hold), Ok(op)) => Row::Held(op),
                    (_, Err(rej)) => Row::Reject(rej),
                    (None, Ok(op)) if unchanged.get(i).copied().unwrap_or(false) => Row::Unchanged(op.pos),
                    (None, Ok(op)) => Row::Op(op),
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
            reader.await.context("the reader stopped")??;
            if let Some(batch) = self.batcher.close() {
                self.dispatch(batch).await?;
            }
        } else {
            // The partial segment is dropped unplanned: its rows are re-read on resume.
            let _ = self.batcher.close();
            let _ = reader.await;
        }
        Ok(())
    }

    /// With `changed_only`, which rows of the chunk are unchanged since the
    /// last ack (read from the change index on the blocking pool).
    async fn unchanged(&self, chunk: Chunk) -> Result<(Chunk, Vec<bool>)> {
        let Some(ci) = self.accounts().change.clone() else { return Ok((chunk, Vec::new())) };
        blocking(move || {
            let pairs: Vec<(u64, u64)> = chunk
                .results
                .iter()
                .map(|r| match r {
                    Ok(op) => (ChangeIndex::id_hash(&op.key), op.content_hash()),
                    Err(_) => (0, 0),
                })
                .collect();
            let mut found = ci.check_many(&pairs)?;
            for (f, r) in found.iter_mut().zip(&chunk.results) {
                *f &= r.is_ok();
            }
            Ok::<_, state::StateError>((chunk, found))
        })
        .await
    }

    /// Plan `batch` durably, then send it (or settle it at once if it sends nothing).
    async fn dispatch(&mut self, batch: Batch) -> Result<()> {
        if batch.ops.is_empty() {
            // Nothing leaves: no plan, no flush. Lost in a crash, the segment is
            // simply read and settled again, its report lines cut back and rewritten.
            return self.settle_off_thread(batch.map_ops(|op| SentOp::new(op, true, None)), false).await;
        }
        let record = batch.record(state::BatchState::Planned, state::Tally::default());
        let (store, id) = (self.store.clone(), self.run_id.clone());
        blocking(move || store.plan_batch(&id, &record)).await?;
        // Until an audience replace is accepted, nothing may overtake it.
        let concurrency = if self.sender.replace.is_pending() { 1 } else { self.job.api.concurrency };
        while self.inflight.len() >= concurrency {
            self.settle_next().await?;
        }
        let (endpoint, kind) = self.sender.target();
        let hashes = self.accounts().change.is_some();
        let reread = self.accounts().sources.get(batch.file).is_some_and(|s| s.seekable);
        let (batch, body) = blocking(move || {
            let body = crate::dispatch::body::build(&kind, &batch.ops);
            // The body holds the attributes now: the operations in flight keep only
            // what settling needs (key, position, the change-index pair; the source
            // row itself only where the file cannot be read again at that position).
            let batch = batch.map_ops(|op| {
                let change = hashes.then(|| (ChangeIndex::id_hash(&op.key), op.content_hash()));
                SentOp::new(op, !reread, change)
            });
            Ok::<_, std::convert::Infallible>((batch, body))
        })
        .await?;
        let sender = self.sender.clone();
        self.inflight.spawn(async move {
            let mut batch = batch;
            let sent = sender.send(&mut batch.ops, &body, endpoint).await;
            (batch, sent)
        });
        Ok(())
    }

    async fn settle_next(&mut self) -> Result<()> {
        match self.inflight.join_next().await {
            Some(Ok((batch, sent))) => self.settle(batch, sent).await,
            Some(Err(e)) => Err(anyhow::anyhow!("a sending task failed: {e}")),
            None => Ok(()),
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
        blocking(move || {
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
            action: Some(if a.mode == crate::job::AudienceMode::Remove { "remove" } else { "add" }),
        },
        Mapping::Catalog(c) => BodyKind::Catalog { name: c.name.clone() },
        _ => BodyKind::Profiles,
    }
}

/// How much of a documented update rate batchport plans to use by default.
/// Requests reach Batch with some jitter; planning exactly at the limit turns
/// every late-then-early pair into a 429 (measured: 9% of calls at 100%, none
/// at 98%), which then costs far more than the 2% kept in hand.
pub const PLANNED_SHARE: f64 = 0.98;

pub(crate) fn limiter(job: &Job) -> Limiter {
    match job.api.rate {
        Some(0) => Limiter::unlimited(),
        Some(r) => Limiter::new(job.api.limits.rates, Some(r)),
        None => {
            let planned: Vec<crate::api::limits::Rate> = job
                .api
                .limits
                .rates
                .iter()
                .map(|r| match r.unit {
                    crate::api::limits::RateUnit::Updates if r.per_second >= 100 => {
                        crate::api::limits::Rate { per_second: (f64::from(r.per_second) * PLANNED_SHARE) as u32, ..*r }
                    }
                    _ => *r,
                })
                .collect();
            Limiter::new(&planned, None)
        }
    }
}
