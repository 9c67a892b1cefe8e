//! `batchport verify` (issue 27): prove what Batch holds. A profiles job's
//! input is read and mapped exactly as `run` maps it (`input.rs`), Batch's
//! profiles are exported with the job's attributes (`fetch.rs`, through the
//! export machinery), both sides are spilled to disk in hash partitions
//! (`spill.rs`) and compared one partition at a time (`compare.rs`, the
//! expectations in `expect.rs`): memory holds one partition of the input,
//! whatever the number of profiles.
//!
//! Then, when asked: `--repair` sends the rows of the profiles that differ
//! or are missing as a normal run (`repair.rs`); `--rebuild-index` replaces
//! the job's change index with the profiles Batch holds as the input says
//! (`index.rs`), so that the next `changed_only` run sends only the rest.
//!
//! It sits above the run lifecycle (a repair is a run), beside the facade.

mod compare;
mod expect;
mod fetch;
mod index;
mod input;
mod repair;
mod report;
mod spill;

pub use report::{VerifyReport, VerifyStatus};

use crate::service::{Connection, Interrupted, Options, blocking};
use crate::status::UsageError;
use anyhow::{Context as _, Result};
use batchport_dispatch::{Driver, RetryPolicy};
use batchport_transform::job::{BaseUrl, Job, Kind, Mapping};
use compare::{Difference, Outcomes};
use std::path::PathBuf;
use std::time::Instant;

/// What the caller asks of a verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Check a random sample of this many Custom IDs.
    pub sample: Option<u64>,
    /// The sample's seed (default: random, printed in the report).
    pub seed: Option<u64>,
    /// Send the rows of the profiles that differ or are missing.
    pub repair: bool,
    /// Replace the job's change index with what Batch holds.
    pub rebuild_index: bool,
    /// Where the differences file goes (default: the job's rejects folder,
    /// `<job>-verify-<time>-differences.csv`).
    pub differences: Option<PathBuf>,
}

/// Input bytes per partition: a partition's profiles in memory take many
/// times their size in the input (1 M generated profiles of 15 columns:
/// 4 MB partitions peaked at 100 MB RSS, 1 MB ones at 39 MB).
const PARTITION_BYTES: u64 = 1 << 20;
/// A `.gz` input holds about this many times its size.
const GZIP_RATIO: u64 = 8;

/// Verify `job` against its destination. An `Err` is a verify that could not
/// start (usage, keys, input that does not fit the job); a verify that
/// started and failed is an `Ok` report with status `Failed`.
pub async fn verify(job: &Job, opts: &Options, v: &VerifyOptions) -> Result<VerifyReport> {
    let started = Instant::now();
    check_usage(job, v)?;
    let connection = Connection::open(job, opts.keys.as_ref()).await?;
    let import = crate::import::Import::prepare(job).await?;
    let mut report = VerifyReport::new(&job.name);
    report.note = unfinished_note(job, opts).await?;
    let result = go(job, opts, v, &connection, &import, &mut report).await;
    report.elapsed_s = started.elapsed().as_secs_f64();
    match result {
        Ok(()) => {}
        Err(e) if e.is::<Interrupted>() || opts.cancel.is_cancelled() => report.status = VerifyStatus::Interrupted,
        Err(e) => {
            report.status = VerifyStatus::Failed;
            report.error = Some(format!("{e:#}"));
        }
    }
    Ok(report)
}

fn check_usage(job: &Job, v: &VerifyOptions) -> Result<()> {
    let Mapping::Profiles(m) = &job.mapping else {
        return Err(UsageError(format!(
            "verify checks profiles jobs; {} is a {} job (events, audiences and catalogs are not verified yet)",
            job.name,
            job.kind.as_str()
        ))
        .into());
    };
    debug_assert_eq!(job.kind, Kind::Profiles);
    if job.api.base_url == BaseUrl::Emulator {
        return Err(UsageError(format!(
            "{} sends to `base_url = \"emulator\"`, an emulator that lives only as long as one command: \
             there is nothing to verify; run `batchport emulator` and point the job at its address",
            job.name
        ))
        .into());
    }
    if v.sample == Some(0) {
        return Err(UsageError("--sample must be at least 1".into()).into());
    }
    if v.rebuild_index && !m.changed_only {
        return Err(UsageError(format!(
            "--rebuild-index fills the change index of a `changed_only = true` job; {} does not use one",
            job.name
        ))
        .into());
    }
    if v.sample.is_some() && (v.repair || v.rebuild_index) {
        return Err(UsageError(
            "--sample checks part of the profiles: --repair and --rebuild-index need them all".into(),
        )
        .into());
    }
    Ok(())
}

async fn go(
    job: &Job,
    opts: &Options,
    v: &VerifyOptions,
    connection: &Connection,
    import: &crate::import::Import,
    report: &mut VerifyReport,
) -> Result<()> {
    let src = job.source.as_ref().context("this job reads no input")?;
    let driver = Driver::new(RetryPolicy::default(), crate::import::limiter(job), opts.cancel.child_token());
    let client = &connection.client;
    let version = job.api.version;
    // Asked first: Batch prepares it while the input is read.
    let export = fetch::create(client, &driver, version, &fetch::body(&fetch::attribute_names(job))).await?;
    report.export_id = Some(export.id.clone());

    let input_bytes: u64 = import
        .inputs()
        .iter()
        .map(|p| if p.path.to_string_lossy().ends_with(".gz") { p.size * GZIP_RATIO } else { p.size })
        .sum();
    let parts = (input_bytes / PARTITION_BYTES).clamp(1, 2048) as usize;
    let home = repair::home(&opts.state_dir, &job.name);
    let work = blocking({
        let home = home.clone();
        move || spill::work_dir(&home)
    })
    .await
    .context("cannot create the verify's work folder")?;

    let seed = v.seed.unwrap_or_else(random_seed);
    let sample = v.sample.map(|n| (n, seed));
    report.sample = v.sample;
    report.sample_seed = v.sample.map(|_| seed);
    let keep = input::Keep { records: v.repair };
    let (j, files, options, dir, cancel) =
        (job.clone(), import.files().to_vec(), src.options.clone(), work.path().to_path_buf(), opts.cancel.clone());
    let expected = blocking(move || input::read(&j, &files, &options, &dir, parts, keep, sample, &cancel)).await?;
    report.rows_read = expected.rows_read;
    report.rows_rejected = expected.rows_rejected;

    let got =
        fetch::download(client, &driver, version, &export, work.path(), parts, expected.sample, opts.progress).await?;
    report.export_records = got.records;
    if got.without_id > 0 {
        let without = format!("{} exported profiles have no Custom ID: not checked", got.without_id);
        report.note = Some(match report.note.take() {
            Some(n) => format!("{n}; {without}"),
            None => without,
        });
    }

    let differences = v.differences.clone().unwrap_or_else(|| {
        let dir = job.rejects_dir.clone().unwrap_or_else(|| opts.state_dir.join("rejects"));
        dir.join(format!("{}-verify-{}-differences.csv", job.name, chrono::Utc::now().format("%Y%m%dT%H%M%SZ")))
    });
    let mut sinks = Sinks {
        diffs: report::DifferencesFile::new(differences, expected.files.clone()),
        repair: if v.repair { Some(repair::RepairFile::create(&home, expected.files.clone())?) } else { None },
        index: None,
        repaired: Vec::new(),
    };
    if v.rebuild_index {
        let (state, name, scope) = (opts.state_dir.clone(), job.name.clone(), connection.destination.scope(&job.name));
        sinks.index = Some(blocking(move || index::Rebuild::start(&state, &name, &scope)).await?);
    }
    let exp_parts = got.parts;
    let (tally, mut sinks) = blocking(move || {
        let tally = compare::all(&expected, &exp_parts, &mut sinks)?;
        sinks.diffs.finish().context("cannot write the differences file")?;
        if let Some(r) = sinks.repair.as_mut() {
            r.finish().context("cannot write the repair file")?;
        }
        Ok::<_, anyhow::Error>((tally, sinks))
    })
    .await?;
    drop(work);
    report.differences_file = sinks.diffs.path().map(PathBuf::from);
    let differ = tally.missing + tally.differing > 0;
    report.count(tally);
    report.status = if differ { VerifyStatus::Differ } else { VerifyStatus::Match };
    if let Some(r) = sinks.repair.take() {
        report.profiles_repaired = Some(r.profiles);
        if r.rows > 0 {
            let summary = r.send(job, opts).await?;
            // Repaired: Batch now holds what the input says (as far as a run can know).
            if summary.status == crate::status::Status::Done
                && let Some(ix) = sinks.index.as_mut()
            {
                for pair in std::mem::take(&mut sinks.repaired) {
                    ix.push(pair)?;
                }
            }
            report.repair = Some(summary);
        }
    }
    if let Some(ix) = sinks.index.take() {
        report.index_rebuilt = Some(blocking(move || ix.finish()).await?);
    }
    Ok(())
}

/// What to say when the job has a run that has not finished: its unsent rows
/// will show as missing. Opening the job's store also refuses a verify while a
/// run of the job is under way (the store is its run lock).
async fn unfinished_note(job: &Job, opts: &Options) -> Result<Option<String>> {
    let (state, name) = (opts.state_dir.clone(), job.name.clone());
    let unfinished = blocking(move || {
        let store = crate::run::open_store_blocking(&state, &name)?;
        Ok::<_, anyhow::Error>(store.unfinished_run(&name)?.map(|r| (r.id, r.counters.rows_sent)))
    })
    .await?;
    Ok(unfinished.map(|(id, sent)| {
        format!(
            "run {id} of {} is unfinished ({sent} rows sent): the rows it has not sent yet show as missing; \
             finish it with `batchport run` and verify again",
            job.name
        )
    }))
}

/// A seed from the clock and the process: a different sample each time.
fn random_seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    xxhash_rust::xxh3::xxh3_64(format!("{t}/{}", std::process::id()).as_bytes())
}

/// Where the comparison's findings go.
struct Sinks {
    diffs: report::DifferencesFile,
    repair: Option<repair::RepairFile>,
    index: Option<index::Rebuild>,
    /// With `--repair` and `--rebuild-index`: the pairs of the profiles
    /// repaired, recorded once the repair run is `done`.
    repaired: Vec<(u64, u64)>,
}

impl Outcomes for Sinks {
    fn difference(&mut self, d: Difference<'_>) -> Result<()> {
        self.diffs.write(&d).context("cannot write the differences file")
    }

    fn matching(&mut self, _id: &str, pair: Option<(u64, u64)>) -> Result<()> {
        match (self.index.as_mut(), pair) {
            (Some(ix), Some(pair)) => ix.push(pair),
            _ => Ok(()),
        }
    }

    fn to_repair(&mut self, _id: &str, pair: Option<(u64, u64)>, rows: &[(usize, u64, csv::ByteRecord)]) -> Result<()> {
        if let (Some(_), Some(_), Some(pair)) = (&self.index, &self.repair, pair) {
            self.repaired.push(pair);
        }
        match self.repair.as_mut() {
            Some(r) => r.profile(rows).context("cannot write the repair file"),
            None => Ok(()),
        }
    }
}
