//! The destination side of a verify: one attributes export of the job's
//! attributes and Custom ID, through the export machinery (`crate::export`:
//! the request, polling, resumable download of each part), each record
//! spilled to the partition of its Custom ID as it streams in.

use super::spill::{Partitions, id_hash};
use crate::export::progress::ExportBar;
use crate::export::request::{self, Polled};
use crate::export::{Fetched, Sink, download_part};
use crate::service::{Interrupted, blocking};
use anyhow::{Context as _, Result};
use batchport_api::client::Client;
use batchport_api::{Endpoint, Version};
use batchport_dispatch::Driver;
use batchport_transform::job::{Job, Mapping};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The attribute names to ask the export for: the job's natives and
/// attributes by their plain names (`birthdate`, not `date(birthdate)`: the
/// export docs name attributes without their type).
pub(crate) fn attribute_names(job: &Job) -> Vec<String> {
    let Mapping::Profiles(m) = &job.mapping else { return Vec::new() };
    let mut names: Vec<String> = m.native.iter().map(|n| n.kind.wire_name().to_string()).collect();
    names.extend(m.attributes.iter().map(|a| a.name.clone()));
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// The `profiles/export` body of a verify.
pub(crate) fn body(attributes: &[String]) -> Value {
    json!({ "export_type": "ATTRIBUTES", "identifiers": ["custom_id"], "attributes": attributes })
}

/// A requested export.
pub(crate) struct Requested {
    pub(crate) id: String,
}

/// Ask Batch for the export (early: it prepares it while the input is read).
pub(crate) async fn create(client: &Client, driver: &Driver, version: Version, body: &Value) -> Result<Requested> {
    let d = driver.for_endpoint(version, Endpoint::ProfilesExport);
    let id = request::create(client, body, &d).await.context("cannot request the export")?;
    tracing::info!(export = %id, "verify: export requested");
    Ok(Requested { id })
}

/// What the download found.
#[derive(Debug, Default)]
pub(crate) struct Downloaded {
    pub(crate) parts: Vec<PathBuf>,
    /// Records read from the export.
    pub(crate) records: u64,
    /// Records without a Custom ID (installation-only profiles): not checked.
    pub(crate) without_id: u64,
}

/// Wait for the export, then stream every part into `parts` partitions
/// under `dir`; with a sample, only the sampled IDs are kept.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn download(
    client: &Client,
    driver: &Driver,
    version: Version,
    export: &Requested,
    dir: &Path,
    parts: usize,
    sample: Option<(u64, u64)>,
    progress: bool,
) -> Result<Downloaded> {
    let bar = ExportBar::new(progress);
    let view = driver.for_endpoint(version, Endpoint::ExportsView);
    let files = match request::poll(client, &export.id, &view, &bar).await? {
        Polled::Success(files) => files,
        Polled::Failed(why) => anyhow::bail!("Batch reports the verify's export {} as ERROR ({why})", export.id),
        Polled::Interrupted => return Err(Interrupted.into()),
    };
    let (d, n) = (dir.to_path_buf(), parts);
    let out =
        blocking(move || Partitions::create(&d, "export", n)).await.context("cannot create the verify's work files")?;
    let sink =
        Arc::new(Mutex::new(ToParts { out, marks: Vec::new(), counted: (0, 0), sample, records: 0, without_id: 0 }));
    let dl = driver.for_endpoint(version, Endpoint::ExportsDownload);
    for (i, file) in files.iter().enumerate() {
        bar.part(file.part, files.len(), lock(&sink).records);
        let s = sink.clone();
        blocking(move || lock(&s).start_part()).await.context("cannot write the verify's work files")?;
        match download_part(client, &file.id, None, &sink, &dl).await? {
            Fetched::Done(_) => tracing::debug!(part = i + 1, "verify: export part read"),
            Fetched::Interrupted => return Err(Interrupted.into()),
        }
    }
    bar.finish();
    let sink = Arc::try_unwrap(sink).map_err(|_| anyhow::anyhow!("the export's partitions are still in use"))?;
    let sink = sink.into_inner().unwrap_or_else(|e| e.into_inner());
    let (records, without_id) = (sink.records, sink.without_id);
    let parts = blocking(move || sink.out.finish()).await.context("cannot write the verify's work files")?;
    Ok(Downloaded { parts, records, without_id })
}

fn lock<S>(m: &Mutex<S>) -> std::sync::MutexGuard<'_, S> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The export's records into the partitions.
struct ToParts {
    out: Partitions,
    /// Where each partition ended when the part being read began.
    marks: Vec<u64>,
    /// `records` and `without_id` when the part being read began.
    counted: (u64, u64),
    sample: Option<(u64, u64)>,
    records: u64,
    without_id: u64,
}

impl ToParts {
    fn start_part(&mut self) -> std::io::Result<()> {
        self.marks = self.out.mark()?;
        self.counted = (self.records, self.without_id);
        Ok(())
    }
}

impl Sink for ToParts {
    fn record(&mut self, record: &Value) -> Result<()> {
        self.records += 1;
        let Some(id) = record.pointer("/identifiers/custom_id").and_then(Value::as_str) else {
            self.without_id += 1;
            return Ok(());
        };
        if let Some((max, seed)) = self.sample
            && super::input::sample_hash(seed, id) > max
        {
            return Ok(());
        }
        let attrs = match record.get("attributes") {
            Some(a @ Value::Object(_)) => serde_json::to_vec(a)?,
            _ => b"{}".to_vec(),
        };
        self.out
            .push(id_hash(id), |f| {
                f.bytes(id.as_bytes()).bytes(&attrs);
            })
            .context("cannot write the verify's work files")
    }

    fn restart(&mut self) -> Result<()> {
        let marks = std::mem::take(&mut self.marks);
        self.out.rewind(&marks).context("cannot rewind the verify's work files")?;
        self.marks = marks;
        // The part's records are read again.
        (self.records, self.without_id) = self.counted;
        Ok(())
    }
}
