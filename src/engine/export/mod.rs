//! Exports (`kind = "export"`, issue #8): request a profile export, wait for
//! Batch to prepare it, stream every file part into a CSV or NDJSON output.
//!
//! Exports are a kind of the run lifecycle (`crate::run`). Resumable through
//! the state store: the run's `ExportProgress` holds the export id and each
//! finished part with where it ends in `<output>.tmp`. A run that was
//! killed resumes the same export (no new `profiles/export` request), skips the
//! finished parts, truncates the temp file back to the last one and renames it
//! over the output only when every part is in.
//!
//! Memory stays flat whatever the export's size: parts are streamed
//! (`download.rs`), cut into records as the bytes arrive (`split.rs`) and
//! written one record at a time (`output.rs`).

mod download;
pub mod output;
pub(crate) mod progress;
pub mod request;
mod split;

pub use download::{Fetched, Sink, part as download_part};
pub use request::POLL_ENV;

use crate::service::{Context, Ended, Interrupted, blocking};
use anyhow::{Context as _, Result};
use batchport_api::Endpoint;
use batchport_dispatch::{Driver, Refused};
use batchport_state::{ExportProgress, PartDone, Run, RunProgress, Store};
use batchport_transform::job::{ExportSettings, Job, Mapping};
use output::{Columns, Output};
use progress::ExportBar as Bar;
use request::Polled;
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

/// An export job ready to run: its request body and what identifies it.
pub(crate) struct Export {
    settings: ExportSettings,
    body: Value,
    /// The request and output: a run started for another key is not resumed.
    key: String,
}

impl Export {
    /// The export `job` asks for: its request body, and the key a run of it is
    /// resumed by.
    pub(crate) fn prepare(job: &Job) -> Result<Export> {
        let Mapping::Export(settings) = &job.mapping else {
            anyhow::bail!("{} is not an export job", job.file.display());
        };
        let body = request::body(settings);
        let key = format!("{body} > {}", settings.output.display());
        Ok(Export { settings: settings.clone(), body, key })
    }

    /// The run was started for this same request and output.
    pub(crate) fn resumes(&self, run: &Run) -> bool {
        matches!(&run.progress, RunProgress::Export(p) if p.key == self.key)
    }

    /// Where the export is written.
    pub(crate) fn output(&self) -> &Path {
        &self.settings.output
    }

    /// One attempt at `run`: the same export if it already asked for one,
    /// finished parts skipped, the output renamed into place at the end.
    pub(crate) async fn execute(&mut self, cx: &Context<'_>, run: &mut Run) -> Result<Ended> {
        let mut saved = match &run.progress {
            RunProgress::Export(p) => p.clone(),
            RunProgress::Import(_) => ExportProgress::default(),
        };
        saved.key = self.key.clone();
        let c = &run.counters;
        let base = (c.requests, c.retries, c.http_429);
        let mut ex = Exporter {
            client: &cx.connection.client,
            driver: cx.driver.clone(),
            version: cx.job.api.version,
            store: cx.store,
            settings: &self.settings,
            body: &self.body,
            saved,
            base,
            bar: Bar::new(cx.options.progress),
            events: cx.options.events.clone(),
            endpoints: Default::default(),
        };
        let outcome = ex.go(run).await;
        ex.bar.finish();
        ex.save(run, false).await?;
        match outcome? {
            End::Done => Ok(Ended::Done {
                note: Some(format!("wrote {} records to {}", ex.saved.records(), self.settings.output.display())),
            }),
            End::Interrupted => Ok(Ended::Interrupted),
        }
    }
}

/// How an attempt that did not fail ended.
enum End {
    Done,
    Interrupted,
}

struct Exporter<'a> {
    client: &'a batchport_api::client::Client,
    driver: Driver,
    version: batchport_api::Version,
    store: &'a Store,
    settings: &'a ExportSettings,
    body: &'a Value,
    saved: ExportProgress,
    /// Request counts of earlier attempts of the run.
    base: (u64, u64, u64),
    bar: Bar,
    events: crate::service::Events,
    endpoints: std::collections::HashMap<Endpoint, Driver>,
}

impl Exporter<'_> {
    /// The run's driver under `endpoint`'s rates: one per endpoint for the
    /// whole attempt, so a 429 slows every later call to it.
    fn driver(&mut self, endpoint: Endpoint) -> Driver {
        let (driver, version) = (&self.driver, self.version);
        self.endpoints.entry(endpoint).or_insert_with(|| driver.for_endpoint(version, endpoint)).clone()
    }

    /// Keep progress in the run record; `flush` makes it durable now.
    async fn save(&self, run: &mut Run, flush: bool) -> Result<()> {
        let stats = self.driver.stats();
        run.counters.rows_read = self.saved.records();
        run.counters.requests = self.base.0 + stats.requests.load(Relaxed);
        run.counters.retries = self.base.1 + stats.retries.load(Relaxed);
        run.counters.http_429 = self.base.2 + stats.http_429.load(Relaxed);
        run.progress = RunProgress::Export(self.saved.clone());
        let (store, record) = (self.store.clone(), run.clone());
        blocking(move || {
            store.save_run(&record)?;
            if flush {
                store.flush()?;
            }
            Ok::<_, batchport_state::StateError>(())
        })
        .await
    }

    async fn go(&mut self, run: &mut Run) -> Result<End> {
        let target = self.settings.output.clone();
        if self.saved.committing {
            return self.commit_again(&target).await;
        }
        let Some(files) = self.files(run).await? else { return Ok(End::Interrupted) };
        // The finished parts must be this export's first parts, in order.
        let same = self.saved.parts.iter().zip(&files).all(|(d, f)| d.file_id == f.id);
        if !same || self.saved.parts.len() > files.len() {
            self.saved.parts.clear();
        }
        let columns = Columns::of(self.settings);
        let keep = self.saved.parts.last().map(|p| p.end);
        let (t, cols, mode) = (target.clone(), columns.clone(), self.settings.mode);
        let out = match blocking(move || Output::open(&t, cols, keep, mode)).await? {
            Some(out) => out,
            None => {
                self.events.notice(format!(
                    "{} is shorter than the parts recorded as written; downloading every part again",
                    output::temp_path(&target).display()
                ));
                self.saved.parts.clear();
                let t = target.clone();
                blocking(move || Output::open(&t, columns, None, mode))
                    .await?
                    .context("cannot start the output's temp file")?
            }
        };
        let sink = Arc::new(Mutex::new(ToOutput { out, records: 0, before: 0, bar: self.bar.clone(), part: 0, of: 0 }));
        let skip = self.saved.parts.len();
        let cancel = self.driver.cancel_token().clone();
        for file in &files[skip..] {
            if cancel.is_cancelled() {
                self.save(run, true).await?;
                return Ok(End::Interrupted);
            }
            self.bar.part(file.part, files.len(), self.saved.records());
            {
                let mut s = lock(&sink);
                (s.records, s.before, s.part, s.of) = (0, self.saved.records(), file.part, files.len());
            }
            let driver = self.driver(Endpoint::ExportsDownload);
            match download::part(self.client, &file.id, None, &sink, &driver).await {
                Err(e) if e.is::<Interrupted>() => {
                    self.save(run, true).await?;
                    return Ok(End::Interrupted);
                }
                Err(e) => return Err(e),
                Ok(Fetched::Interrupted) => {
                    self.save(run, true).await?;
                    return Ok(End::Interrupted);
                }
                Ok(Fetched::Done(records)) => {
                    let s = sink.clone();
                    let end = blocking(move || lock(&s).out.commit_part())
                        .await
                        .with_context(|| format!("cannot write {}", target.display()))?;
                    self.saved.parts.push(PartDone { part: file.part, file_id: file.id.clone(), end, records });
                    self.save(run, true).await?;
                    self.events.rows(&run.counters);
                }
            }
        }
        // Recorded before the rename: a kill between the two resumes with a rename.
        self.saved.committing = true;
        self.save(run, true).await?;
        let sink = Arc::try_unwrap(sink).map_err(|_| anyhow::anyhow!("the export's output is still in use"))?;
        let out = sink.into_inner().unwrap_or_else(|e| e.into_inner()).out;
        blocking(move || out.finish()).await.with_context(|| format!("cannot write {}", target.display()))?;
        Ok(End::Done)
    }

    /// The export's parts: from the export this run already asked for, or a
    /// new one. `None` when interrupted while waiting.
    async fn files(&mut self, run: &mut Run) -> Result<Option<Vec<request::FilePart>>> {
        let mut asked_again = false;
        loop {
            let id = match self.saved.export_id.clone() {
                Some(id) => id,
                None => {
                    let driver = self.driver(Endpoint::ProfilesExport);
                    let id = match request::create(self.client, self.body, &driver).await {
                        Err(e) if e.is::<Interrupted>() => {
                            self.save(run, true).await?;
                            return Ok(None);
                        }
                        other => other?,
                    };
                    tracing::info!(export = %id, "export requested");
                    self.saved.export_id = Some(id.clone());
                    self.saved.parts.clear();
                    self.save(run, true).await?;
                    id
                }
            };
            self.bar.status(&id, "requested");
            let driver = self.driver(Endpoint::ExportsView);
            match request::poll(self.client, &id, &driver, &self.bar).await {
                Ok(Polled::Success(files)) => return Ok(Some(files)),
                Ok(Polled::Interrupted) => {
                    self.save(run, true).await?;
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
                Err(e) if !asked_again && e.downcast_ref::<Refused>().is_some_and(|r| r.status == 404) => {
                    asked_again = true;
                    self.events.notice(format!("export {id} is unknown to Batch ({e}); requesting a new one"));
                    self.saved.export_id = None;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Resuming after every part was written: finish the rename if it was cut.
    async fn commit_again(&mut self, target: &Path) -> Result<End> {
        let tmp = output::temp_path(target);
        let owned = target.to_path_buf();
        let done = blocking(move || {
            if tmp.exists() {
                output::rename_into_place(&tmp, &owned)?;
                Ok::<_, std::io::Error>(true)
            } else {
                Ok(output::exists(&owned))
            }
        })
        .await
        .with_context(|| format!("cannot write {}", target.display()))?;
        if !done {
            self.saved = ExportProgress { key: std::mem::take(&mut self.saved.key), ..ExportProgress::default() };
            anyhow::bail!("{} and its temp file are both gone; run the job again to export again", target.display());
        }
        Ok(End::Done)
    }
}

fn lock(sink: &Mutex<ToOutput>) -> std::sync::MutexGuard<'_, ToOutput> {
    sink.lock().unwrap_or_else(|e| e.into_inner())
}

/// The sink of the export's parts: records into the output (on the blocking
/// pool, where the download hands them), progress every so often.
struct ToOutput {
    out: Output,
    /// Records of the part being downloaded.
    records: u64,
    /// Records of the parts before it.
    before: u64,
    bar: Bar,
    part: u64,
    of: usize,
}

impl Sink for ToOutput {
    fn record(&mut self, record: &Value) -> Result<()> {
        self.out.write(record).context("cannot write the export's temp file")?;
        self.records += 1;
        if self.records % 10_000 == 0 {
            self.bar.part(self.part, self.of, self.before + self.records);
        }
        Ok(())
    }

    fn restart(&mut self) -> Result<()> {
        self.records = 0;
        self.out.rewind_part().context("cannot rewind the export's temp file")
    }
}
