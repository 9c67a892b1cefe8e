//! The import engine: reads, transforms, batches, plans in the ledger, sends
//! with limits and retries, settles, and resumes. One task owns the state and
//! the report files; requests run concurrently beside it.

mod connect;
mod lists;
mod progress;
pub mod resume;
mod settle;

use crate::dispatch::batch::{Batch, BatchLimits, Batcher, Row};
use crate::dispatch::body::BodyKind;
use crate::dispatch::send::{Fate, SendError, SendStats, Sender};
use crate::dispatch::{Limiter, RetryPolicy};
use crate::exit::Status;
use crate::job::{Job, Kind, Mapping, OnUncertain};
use crate::pipeline::{self, Chunk};
use crate::report::{RejectsWriter, Summary};
use crate::source::{self, CsvSource};
use crate::state::{self, Store};
use crate::transform::{Mapped, Transformer};
use anyhow::{Context as _, Result};
use settle::Accounts;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;
use tokio::task::JoinSet;

pub use connect::Connection;

/// How the command wants the run done.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub state_dir: PathBuf,
    pub progress: bool,
    /// Set from outside (Ctrl-C, SIGTERM): stop reading, settle what is in flight.
    pub cancel: Arc<AtomicBool>,
}

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

/// The state store of one job: one sled database per job, so that its lock is
/// the job's run lock and different jobs can run side by side.
pub fn open_store(state_dir: &std::path::Path, job: &str) -> Result<Store> {
    let dir = state_dir.join("jobs").join(job);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create the state folder {}", dir.display()))?;
    Ok(Store::open(&dir, true)?)
}

/// Run (or resume) an import job to its end.
pub async fn run(job: &Job, opts: &Options) -> Result<Summary> {
    let started = Instant::now();
    let src = job.source.as_ref().context("this job reads no CSV")?;
    // Keys first: a missing key is reported before anything is read.
    let conn = Connection::open(job).await?;
    let files = source::expand(&src.pattern, &src.base_dir)?;
    let prints = files
        .iter()
        .map(|f| state::fingerprint(f).with_context(|| format!("cannot read {}", f.display())))
        .collect::<Result<Vec<_>>>()?;
    let store = open_store(&opts.state_dir, &job.name)?;
    let mut run = match store.unfinished_run(&job.name)? {
        Some(r) if r.inputs == prints => {
            tracing::info!(run = %r.id, "resuming");
            r
        }
        Some(r) => {
            eprintln!(
                "batchport: the input of {}'s unfinished run {} has changed since it stopped; that run is abandoned and a new one starts",
                job.name, r.id
            );
            store.create_run(&job.name, job.kind.as_str(), prints)?
        }
        None => {
            if let Some(last) = store.last_run(&job.name)?
                && last.is_finished()
                && last.inputs == prints
                && last.extra.get("reset").is_none()
            {
                let mut s = summary_of(job, &last, started);
                s.status = Status::Done;
                s.nothing_to_do = true;
                s.note = Some(format!(
                    "already imported by run {} (same files, unchanged): nothing to do; `batchport reset` first to import it again",
                    last.id
                ));
                return Ok(s);
            }
            store.create_run(&job.name, job.kind.as_str(), prints)?
        }
    };
    let hold = job.on_uncertain == OnUncertain::Hold;
    let ledger = store.batches(&run.id)?;
    let plan = resume::plan(&run, &ledger, hold);
    // Sequence numbers key the ledger: never reuse one an earlier attempt planned.
    run.next_seq = run.next_seq.max(ledger.iter().map(|b| b.seq + 1).max().unwrap_or(0));
    let rejects_dir = job.rejects_dir.clone().unwrap_or_else(|| opts.state_dir.join("rejects"));
    let mut rejects = RejectsWriter::new(&rejects_dir, &format!("{}-rejects", run.id));
    let mut uncertain = RejectsWriter::new(&rejects_dir, &format!("{}-uncertain", run.id));
    rejects.resume(plan.rejects_len).context("cannot reopen the rejects file")?;
    uncertain.resume(plan.uncertain_len).context("cannot reopen the uncertain file")?;
    let mut counters = plan.counters.clone();
    // Request counts are not in the ledger: carry them from the run record.
    (counters.requests, counters.retries, counters.http_429) =
        (run.counters.requests, run.counters.retries, run.counters.http_429);
    let mut acc = Accounts::new(rejects, uncertain, counters, run.watermark.clone(), run.next_seq);
    let changed_only = matches!(&job.mapping, Mapping::Profiles(p) if p.changed_only);
    if changed_only {
        acc.change = Some(store.change_index(&job.name)?);
    }
    lists::prepare(job, &conn.client).await?;
    let stats = Arc::new(SendStats::default());
    let sender = conn.sender(job, hold, stats.clone());
    // A replace accepted by an earlier attempt of this run is not redone: the
    // rest of the rows are added to what it left.
    if plan.counters.rows_sent > 0 {
        sender.replace_pending.store(false, Relaxed);
    }
    let mut eng = Engine {
        job,
        store: &store,
        sender,
        acc,
        inflight: JoinSet::new(),
        batcher: Batcher::new(batch_limits(job, changed_only), run.next_seq),
        progress: progress::Progress::new(opts.progress, files.iter().map(|f| file_len(f)).sum()),
        run_id: run.id.clone(),
    };
    let mut outcome: Result<()> = Ok(());
    let mut files_done: Vec<bool> = plan.files.iter().map(|f| f.done).collect();
    for (i, file) in files.iter().enumerate() {
        if files_done[i] || opts.cancel.load(Relaxed) {
            continue;
        }
        outcome = eng.file(i, file, &plan.files[i], &src.options, &opts.cancel).await;
        if outcome.is_ok() {
            outcome = eng.drain().await;
        }
        if outcome.is_err() {
            break;
        }
        if !opts.cancel.load(Relaxed) {
            files_done[i] = true;
        }
        save(&store, &mut run, &eng, &stats, &files_done, true)?;
    }
    if outcome.is_err() {
        // Batches still in flight stay planned in the ledger: resent or held on resume.
        eng.inflight.abort_all();
    }
    // What was acknowledged, whatever the outcome, into the index's base.
    let change_note = match &eng.acc.change {
        Some(ci) => {
            tokio::task::block_in_place(|| ci.commit())?;
            ci.replaced_note().map(str::to_string)
        }
        None => None,
    };
    eng.progress.finish();
    let interrupted = opts.cancel.load(Relaxed) && outcome.is_ok();
    run.status = match (&outcome, interrupted) {
        (Err(_), _) => state::status::FAILED,
        (Ok(()), true) => state::status::INTERRUPTED,
        (Ok(()), false) if eng.acc.counters.rows_rejected > 0 => state::status::DONE_WITH_REJECTS,
        (Ok(()), false) => state::status::DONE,
    }
    .to_string();
    run.last_error = outcome.as_ref().err().map(|e| format!("{e:#}"));
    run.rejects_file = eng.acc.rejects.paths.first().cloned();
    run.uncertain_file = eng.acc.uncertain.paths.first().cloned();
    save(&store, &mut run, &eng, &stats, &files_done, false)?;
    store.finish_run(&run)?;
    let mut s = summary_of(job, &run, started);
    let token = stats.last_token.lock().ok().and_then(|t| t.clone());
    match outcome {
        Err(e) => s.error = Some(format!("{e:#}")),
        Ok(()) if !interrupted => s.note = lists::finish(job, &conn.client, token).await?,
        Ok(()) => {}
    }
    if let Some(n) = change_note {
        s.note = Some(s.note.map_or(n.clone(), |o| format!("{o}; {n}")));
    }
    drop(conn);
    Ok(s)
}

fn save(
    store: &Store,
    run: &mut state::Run,
    eng: &Engine<'_>,
    stats: &SendStats,
    files_done: &[bool],
    flush: bool,
) -> Result<()> {
    run.counters.rows_read = eng.acc.counters.rows_read;
    run.counters.rows_sent = eng.acc.counters.rows_sent;
    run.counters.rows_rejected = eng.acc.counters.rows_rejected;
    run.counters.rows_unchanged = eng.acc.counters.rows_unchanged;
    run.counters.rows_uncertain = eng.acc.counters.rows_uncertain;
    run.counters.requests = eng.acc.counters.requests + stats.requests.load(Relaxed);
    run.counters.retries = eng.acc.counters.retries + stats.retries.load(Relaxed);
    run.counters.http_429 = eng.acc.counters.http_429 + stats.http_429.load(Relaxed);
    run.watermark = eng.acc.watermark.clone();
    run.next_seq = eng.batcher.next_seq();
    let extra = run.extra.as_object().cloned().unwrap_or_default();
    let mut extra = extra;
    extra.insert("files_done".into(), serde_json::json!(files_done));
    run.extra = serde_json::Value::Object(extra);
    store.save_run(run)?;
    if flush {
        store.flush()?;
    }
    Ok(())
}

fn summary_of(job: &Job, run: &state::Run, started: Instant) -> Summary {
    let mut s = Summary::new(&job.name, &run.id);
    let c = &run.counters;
    s.rows_read = c.rows_read;
    s.rows_sent = c.rows_sent;
    s.rows_rejected = c.rows_rejected;
    s.rows_unchanged = c.rows_unchanged;
    s.rows_uncertain = c.rows_uncertain;
    s.requests = c.requests;
    s.retries = c.retries;
    s.http_429 = c.http_429;
    s.rejects_file = run.rejects_file.clone();
    s.uncertain_file = run.uncertain_file.clone();
    s.files = run.inputs.iter().map(|f| f.path.clone()).collect();
    s.elapsed_s = started.elapsed().as_secs_f64();
    s.status = match run.status.as_str() {
        state::status::DONE => Status::Done,
        state::status::DONE_WITH_REJECTS => Status::DoneWithRejects,
        state::status::INTERRUPTED => Status::Interrupted,
        _ => Status::Failed,
    };
    s.error = run.last_error.clone();
    s
}

fn file_len(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn batch_limits(job: &Job, changed_only: bool) -> BatchLimits {
    let max_rows = (job.api.batch_size as u64 * 4).max(10_000);
    BatchLimits {
        max_ops: job.api.batch_size,
        max_bytes: job.api.limits.max_body_bytes,
        max_events_per_key: (job.kind == Kind::Events).then_some(crate::api::rules::MAX_EVENTS_PER_OPERATION),
        max_rows,
        max_segment_rows: if changed_only { (job.api.batch_size as u64 * 128).max(max_rows) } else { max_rows },
    }
}

type Sent = (Batch, Result<Vec<Fate>, SendError>);

struct Engine<'a> {
    job: &'a Job,
    store: &'a Store,
    sender: Sender,
    acc: Accounts,
    inflight: JoinSet<Sent>,
    batcher: Batcher,
    progress: progress::Progress,
    run_id: String,
}

impl Engine<'_> {
    /// Read, transform and send one file, resuming where its plan says.
    async fn file(
        &mut self,
        index: usize,
        path: &std::path::Path,
        plan: &resume::FilePlan,
        options: &source::SourceOptions,
        cancel: &Arc<AtomicBool>,
    ) -> Result<()> {
        let csv = match plan.after {
            Some(after) => CsvSource::open_after(path, options, after)?,
            None => CsvSource::open(path, options)?,
        };
        let t = Transformer::bind(self.job, csv.headers(), path)?;
        self.acc.rejects.set_source(csv.raw_headers(), csv.delimiter());
        self.acc.set_source(
            index,
            settle::Source { path: path.to_path_buf(), delimiter: csv.delimiter(), seekable: csv.seekable() },
        );
        self.acc.uncertain.set_source(csv.raw_headers(), csv.delimiter());
        self.batcher.set_file(index);
        let base_bytes = self.progress.position();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(2);
        let lookup = self.acc.change.as_ref().map(|ci| ci.lookup());
        let reader = tokio::task::spawn_blocking(move || match lookup {
            Some(index) => pipeline::for_each_chunk_changed(csv, &t, &index, |chunk| tx.blocking_send(chunk).is_ok()),
            None => Ok(pipeline::for_each_chunk(csv, &t, |chunk| tx.blocking_send(chunk).is_ok())?),
        });
        let mut cursor = 0usize;
        while let Some(chunk) = rx.recv().await {
            self.progress.set_position(base_bytes + chunk.bytes_read);
            for r in chunk.results {
                let row = match (plan.fate(r.pos().record, &mut cursor), r) {
                    (Some(resume::Fate::Skip), r) => Row::SkipAcked(r.pos()),
                    (Some(resume::Fate::Hold), Mapped::Op(op)) => Row::Held(op),
                    (_, Mapped::Reject(rej)) => Row::Reject(rej),
                    // Batch already has this exact operation: nothing is uncertain.
                    (_, Mapped::Unchanged(pos)) => Row::Unchanged(pos),
                    (None, Mapped::Op(op)) => Row::Op(op),
                };
                if let Some(batch) = self.batcher.push(row) {
                    self.dispatch(batch).await?;
                }
            }
            self.progress.update(&self.acc.counters);
            if cancel.load(Relaxed) {
                break;
            }
        }
        drop(rx);
        if !cancel.load(Relaxed) {
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

    /// Plan `batch` durably, then send it (or settle it at once if it sends nothing).
    async fn dispatch(&mut self, batch: Batch) -> Result<()> {
        if batch.ops.is_empty() {
            // Nothing leaves: no plan, no flush. Lost in a crash, the segment is
            // simply read and settled again, its report lines cut back and rewritten.
            tokio::task::block_in_place(|| self.acc.settle(self.store, &self.run_id, batch, Vec::new(), false))?;
            self.progress.update(&self.acc.counters);
            return Ok(());
        }
        let record = batch.record(state::BatchState::Planned, state::Tally::default());
        tokio::task::block_in_place(|| self.store.plan_batch(&self.run_id, &record))?;
        // Until an audience replace is accepted, nothing may overtake it.
        let concurrency = if self.sender.replace_pending.load(Relaxed) { 1 } else { self.job.api.concurrency };
        while self.inflight.len() >= concurrency {
            self.settle_next().await?;
        }
        let mut batch = batch;
        let (endpoint, kind) = self.sender.target();
        let body = crate::dispatch::body::build(&kind, &batch.ops);
        // The body holds the attributes now: the operations in flight keep only
        // what settling needs (key, position; the source row itself only where
        // the file cannot be read again at that position).
        let reread = self.acc.sources.get(batch.file).is_some_and(|s| s.seekable);
        for op in &mut batch.ops {
            op.attrs = Vec::new();
            op.event = None;
            if reread {
                op.record = csv::ByteRecord::new();
            }
        }
        let sender = self.sender.clone();
        self.inflight.spawn(async move {
            let fates = sender.send(&batch.ops, &body, endpoint).await;
            (batch, fates)
        });
        Ok(())
    }

    async fn settle_next(&mut self) -> Result<()> {
        match self.inflight.join_next().await {
            Some(Ok((batch, fates))) => self.settle(batch, fates),
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

    fn settle(&mut self, batch: Batch, fates: Result<Vec<Fate>, SendError>) -> Result<()> {
        let fates = fates?;
        tokio::task::block_in_place(|| self.acc.settle(self.store, &self.run_id, batch, fates, true))?;
        self.progress.update(&self.acc.counters);
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

pub(crate) fn retry_policy() -> RetryPolicy {
    RetryPolicy::default()
}
