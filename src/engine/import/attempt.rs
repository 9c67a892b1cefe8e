//! The engine of one import attempt: it reads each input file, batches its
//! rows, plans and sends the batches (per-ID order, the job's concurrency) and
//! settles them as their answers come back. [`Import::execute`] sets it up and
//! drives it file by file.
//!
//! [`Import::execute`]: super::Import::execute

use super::history::{self, EventKey};
use super::settle::{self, Accounts};
use super::{Written, order, progress, resume};
use crate::pipeline::{self, Chunk};
use crate::sending::batch::{Batch, Batcher, Row};
use crate::sending::send::{SendError, Sender, SentOp};
use crate::service::blocking;
use anyhow::{Context as _, Result};
use batchport_source::{self as source, CsvSource};
use batchport_state::{self as state, Run, Store};
use batchport_transform::job::Job;
use batchport_transform::{Mapped, Transformer};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

type Sent = (Batch<SentOp>, Result<(), SendError>);

/// An attempt's state while it runs: the batcher, the batches in flight, the
/// accounts of what is settled, and where its progress goes.
pub(super) struct Engine<'a> {
    pub(super) job: &'a Job,
    /// How many input files the run has.
    pub(super) files: usize,
    /// Who opted out over the run's whole input, for jobs whose people span
    /// several rows (`transform::optouts`).
    pub(super) opt_outs: Option<Arc<batchport_transform::optouts::OptOuts>>,
    pub(super) store: Store,
    pub(super) sender: Sender,
    /// Only the engine's task uses it; behind a mutex so that settling (file
    /// writes, sled, fsync) can run on the blocking pool.
    pub(super) acc: Arc<Mutex<Accounts>>,
    pub(super) inflight: JoinSet<Sent>,
    pub(super) batcher: Batcher,
    pub(super) progress: progress::ImportBar,
    pub(super) run_id: String,
    pub(super) cancel: CancellationToken,
    /// The run record as of the file being read, and the request counts the
    /// attempt started from: each settled batch writes the counts into it, in
    /// the same flush as the batch, so a kill loses at most the requests of the
    /// batches then in flight (the ledger does not count requests).
    pub(super) checkpoint: Option<(Run, state::Counters)>,
    pub(super) events: crate::service::Events,
    /// The IDs of the batches in flight (per-ID order).
    pub(super) keys: order::InFlight,
    /// Record in the ledger when a batch's first request leaves.
    pub(super) marks_sent: bool,
}

impl Engine<'_> {
    pub(super) fn accounts(&self) -> std::sync::MutexGuard<'_, Accounts> {
        // A panic while settling ends the run; the counts it left are still the truth.
        self.acc.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn show_progress(&mut self) {
        let counters = self.accounts().counters.clone();
        self.progress.update(&counters);
        self.events.rows(&counters);
    }

    /// Read, transform and send one file, resuming where its plan says.
    pub(super) async fn file(
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
        let event_key = EventKey::of(self.job, path);
        // Settling reads a plain local file's rows again where it needs them.
        let t = if csv.rereadable() { t.without_records() } else { t };
        {
            let mut acc = self.accounts();
            acc.rejects.set_source(csv.raw_headers(), csv.delimiter());
            acc.rejects.set_source_path(path);
            acc.uncertain.set_source_path(path);
            acc.set_source(
                index,
                settle::Source {
                    path: path.to_path_buf(),
                    event_key,
                    delimiter: csv.delimiter(),
                    seekable: csv.rereadable(),
                },
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
            let (chunk, known) = history::duplicates(events, event_key, chunk).await?;
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
        let (events, key) = {
            let acc = self.accounts();
            (acc.events.is_some(), acc.sources.get(batch.file).map(|s| s.event_key))
        };
        if events && let Some(key) = key {
            // Held rows stay held for every later run: the index keeps them.
            batch.held_hashes = batch.held.iter().map(|op| key.hash(op)).collect();
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
                let event = key.filter(|_| events && op.event.is_some()).map(|k| k.hash(&op));
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
    pub(super) async fn drain_after_failure(&mut self) {
        while let Some(joined) = self.inflight.join_next().await {
            if let Ok((batch, sent)) = joined
                && let Err(e) = self.settle(batch, sent).await
            {
                tracing::debug!("after the run's failure: {e:#}");
            }
        }
    }

    /// Wait for every batch in flight.
    pub(super) async fn drain(&mut self) -> Result<()> {
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
