//! Exports (`kind = "export"`, issue #8): request a profile export, wait for
//! Batch to prepare it, stream every file part into a CSV or NDJSON output.
//!
//! Resumable through the state store: the run's `extra` holds the export id
//! and each finished part with where it ends in `<output>.tmp`. A run that was
//! killed resumes the same export (no new `profiles/export` request), skips the
//! finished parts, truncates the temp file back to the last one and renames it
//! over the output only when every part is in.
//!
//! Memory stays flat whatever the export's size: parts are streamed
//! (`download.rs`), cut into records as the bytes arrive (`split.rs`) and
//! written one record at a time (`output.rs`).

mod download;
pub mod output;
mod progress;
pub mod request;
mod split;

pub use download::{Fetched, Sink, part as download_part};
pub use request::{POLL_ENV, Tally};
pub use split::{SplitError, Splitter};

use crate::engine::{Connection, Options, open_store};
use crate::exit::Status;
use crate::job::{ExportSettings, Job, Mapping};
use crate::report::Summary;
use crate::state::{self, Run, Store};
use anyhow::{Context as _, Result};
use output::{Columns, Output};
use progress::Progress;
use request::Polled;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;

/// What an export run keeps in `Run.extra`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Saved {
    /// The request and output the run was started for: a job edited since
    /// starts a new run instead of resuming an export of other attributes.
    key: String,
    export_id: Option<String>,
    /// An export Batch reported as ERROR: the next run asks for a new one.
    failed_export_id: Option<String>,
    /// Finished parts, in part order: always a prefix of the export's parts.
    parts: Vec<PartDone>,
    /// Every part is in the temp file: it is being (or was) renamed over the output.
    committing: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartDone {
    part: u64,
    file_id: String,
    /// Length of the temp file once this part was written and synced.
    end: u64,
    records: u64,
}

impl Saved {
    fn of(run: &Run) -> Saved {
        serde_json::from_value(run.extra.clone()).unwrap_or_default()
    }

    fn records(&self) -> u64 {
        self.parts.iter().map(|p| p.records).sum()
    }
}

/// How a run that did not fail ended.
enum End {
    Done,
    Interrupted,
}

/// Run (or resume) an export job.
pub async fn run(job: &Job, opts: &Options) -> Result<Summary> {
    let started = Instant::now();
    let Mapping::Export(settings) = &job.mapping else {
        anyhow::bail!("{} is not an export job", job.file.display());
    };
    // Keys first: a missing key is reported before the state is touched.
    let conn = Connection::open(job).await?;
    let store = open_store(&opts.state_dir, &job.name)?;
    let body = request::body(settings);
    let key = format!("{body} > {}", settings.output.display());
    let mut run = match store.unfinished_run(&job.name)? {
        Some(r) if Saved::of(&r).key == key => {
            tracing::info!(run = %r.id, "resuming");
            r
        }
        Some(r) => {
            eprintln!(
                "batchport: the [export] settings of {} changed since its unfinished run {} stopped; that run is abandoned and a new export starts",
                job.name, r.id
            );
            store.create_run(&job.name, job.kind.as_str(), vec![])?
        }
        None => store.create_run(&job.name, job.kind.as_str(), vec![])?,
    };
    let mut saved = Saved::of(&run);
    saved.key = key;
    let c = &run.counters;
    let tally = Tally { requests: c.requests, retries: c.retries, http_429: c.http_429, renewals: 0 };
    let mut ex = Exporter {
        conn: &conn,
        store: &store,
        settings,
        body,
        saved,
        tally,
        bar: Progress::new(opts.progress),
        cancel: &opts.cancel,
    };
    let outcome = ex.go(&mut run).await;
    ex.bar.finish();
    run.status = match &outcome {
        Ok(End::Done) => state::status::DONE,
        Ok(End::Interrupted) => state::status::INTERRUPTED,
        Err(_) => state::status::FAILED,
    }
    .to_string();
    run.last_error = outcome.as_ref().err().map(|e| format!("{e:#}"));
    ex.save(&mut run, false)?;
    store.finish_run(&run)?;

    let mut s = Summary::new(&job.name, &run.id);
    s.rows_read = ex.saved.records();
    (s.requests, s.retries, s.http_429) = (ex.tally.requests, ex.tally.retries, ex.tally.http_429);
    s.files = vec![settings.output.clone()];
    s.elapsed_s = started.elapsed().as_secs_f64();
    s.status = match outcome {
        Ok(End::Done) => {
            s.note = Some(format!("wrote {} records to {}", s.rows_read, settings.output.display()));
            Status::Done
        }
        Ok(End::Interrupted) => Status::Interrupted,
        Err(_) => Status::Failed,
    };
    s.error = run.last_error.clone();
    drop(conn);
    Ok(s)
}

struct Exporter<'a> {
    conn: &'a Connection,
    store: &'a Store,
    settings: &'a ExportSettings,
    body: Value,
    saved: Saved,
    tally: Tally,
    bar: Progress,
    cancel: &'a AtomicBool,
}

impl Exporter<'_> {
    /// Keep progress in the run record; `flush` makes it durable now.
    fn save(&self, run: &mut Run, flush: bool) -> Result<()> {
        run.counters.rows_read = self.saved.records();
        (run.counters.requests, run.counters.retries, run.counters.http_429) =
            (self.tally.requests, self.tally.retries, self.tally.http_429);
        run.extra = serde_json::to_value(&self.saved)?;
        self.store.save_run(run)?;
        if flush {
            self.store.flush()?;
        }
        Ok(())
    }

    async fn go(&mut self, run: &mut Run) -> Result<End> {
        let target = self.settings.output.clone();
        if self.saved.committing {
            return self.commit_again(&target);
        }
        let Some(files) = self.files(run).await? else { return Ok(End::Interrupted) };
        // The finished parts must be this export's first parts, in order.
        let same = self.saved.parts.iter().zip(&files).all(|(d, f)| d.file_id == f.id);
        if !same || self.saved.parts.len() > files.len() {
            self.saved.parts.clear();
        }
        let columns = Columns::of(self.settings);
        let keep = self.saved.parts.last().map(|p| p.end);
        let mut out = match Output::open(&target, columns.clone(), keep)? {
            Some(out) => out,
            None => {
                eprintln!(
                    "batchport: {} is shorter than the parts recorded as written; downloading every part again",
                    output::temp_path(&target).display()
                );
                self.saved.parts.clear();
                Output::open(&target, columns, None)?.context("cannot start the output's temp file")?
            }
        };
        let skip = self.saved.parts.len();
        for file in &files[skip..] {
            if self.cancel.load(Relaxed) {
                self.save(run, true)?;
                return Ok(End::Interrupted);
            }
            self.bar.part(file.part, files.len(), self.saved.records());
            let mut sink = ToOutput {
                out: &mut out,
                records: 0,
                before: self.saved.records(),
                bar: &self.bar,
                file,
                of: files.len(),
            };
            let client = &self.conn.client;
            match download::part(client, &file.id, None, &mut sink, &mut self.tally, self.cancel).await? {
                Fetched::Interrupted => {
                    self.save(run, true)?;
                    return Ok(End::Interrupted);
                }
                Fetched::Done(records) => {
                    let end = out.commit_part().with_context(|| format!("cannot write {}", target.display()))?;
                    self.saved.parts.push(PartDone { part: file.part, file_id: file.id.clone(), end, records });
                    self.save(run, true)?;
                }
            }
        }
        // Recorded before the rename: a kill between the two resumes with a rename.
        self.saved.committing = true;
        self.save(run, true)?;
        out.finish().with_context(|| format!("cannot write {}", target.display()))?;
        Ok(End::Done)
    }

    /// The export's parts: from the export this run already asked for, or a
    /// new one. `None` when interrupted while waiting.
    async fn files(&mut self, run: &mut Run) -> Result<Option<Vec<request::FilePart>>> {
        let client = &self.conn.client;
        let mut asked_again = false;
        loop {
            let id = match self.saved.export_id.clone() {
                Some(id) => id,
                None => {
                    let id = request::create(client, &self.body, &mut self.tally, self.cancel).await?;
                    tracing::info!(export = %id, "export requested");
                    self.saved.export_id = Some(id.clone());
                    self.saved.parts.clear();
                    self.save(run, true)?;
                    id
                }
            };
            self.bar.status(&id, "requested");
            match request::poll(client, &id, &mut self.tally, self.cancel, &self.bar).await {
                Ok(Polled::Success(files)) => return Ok(Some(files)),
                Ok(Polled::Interrupted) => {
                    self.save(run, true)?;
                    return Ok(None);
                }
                Ok(Polled::Failed(why)) => {
                    self.saved.failed_export_id = self.saved.export_id.take();
                    self.saved.parts.clear();
                    anyhow::bail!(
                        "Batch reports export {id} as ERROR ({why}); nothing was written. Run the job again to request a new export"
                    );
                }
                // Batch no longer knows the export this run was resuming: ask again.
                Err(e) if !asked_again && e.downcast_ref::<request::Refused>().is_some_and(|r| r.status == 404) => {
                    asked_again = true;
                    eprintln!("batchport: export {id} is unknown to Batch ({e}); requesting a new one");
                    self.saved.export_id = None;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Resuming after every part was written: finish the rename if it was cut.
    fn commit_again(&mut self, target: &std::path::Path) -> Result<End> {
        let tmp = output::temp_path(target);
        if tmp.exists() {
            output::rename_into_place(&tmp, target).with_context(|| format!("cannot write {}", target.display()))?;
        } else if !target.exists() {
            self.saved = Saved { key: std::mem::take(&mut self.saved.key), ..Saved::default() };
            anyhow::bail!("{} and its temp file are both gone; run the job again to export again", target.display());
        }
        Ok(End::Done)
    }
}

/// The sink of one part: records into the output, progress every so often.
struct ToOutput<'a> {
    out: &'a mut Output,
    records: u64,
    before: u64,
    bar: &'a Progress,
    file: &'a request::FilePart,
    of: usize,
}

impl Sink for ToOutput<'_> {
    fn record(&mut self, record: &Value) -> Result<()> {
        self.out.write(record).context("cannot write the export's temp file")?;
        self.records += 1;
        if self.records % 10_000 == 0 {
            self.bar.part(self.file.part, self.of, self.before + self.records);
        }
        Ok(())
    }

    fn restart(&mut self) -> Result<()> {
        self.records = 0;
        self.out.rewind_part().context("cannot rewind the export's temp file")
    }
}
