//! The input side of a verify: every file of the job read and mapped exactly
//! as `run` maps it, each valid row's operation spilled to the partition of
//! its Custom ID with where it came from (file, line), its change pair (for
//! `--rebuild-index`) and its source record (for `--repair`).
//!
//! `--sample N` picks the IDs to check here: the N distinct IDs of smallest
//! hash under a random seed (a bottom-k sample: uniform, and it needs only
//! the N hashes in memory, never the IDs).

use super::spill::{Partitions, id_hash};
use crate::pipeline;
use anyhow::{Context as _, Result};
use batchport_source::{CsvSource, SourceOptions};
use batchport_transform::Transformer;
use batchport_transform::job::Job;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// What to keep of each row besides its operation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Keep {
    /// The source record (the repair file is made of them).
    pub(crate) records: bool,
}

/// One input file: where it is and its header, for the differences and
/// repair files.
#[derive(Debug, Clone)]
pub(crate) struct InputFile {
    pub(crate) path: PathBuf,
    pub(crate) header: csv::ByteRecord,
    pub(crate) delimiter: u8,
}

/// What the input side found.
#[derive(Debug, Default)]
pub(crate) struct Expected {
    pub(crate) files: Vec<InputFile>,
    pub(crate) rows_read: u64,
    /// Rows the transform rejects: never sent, so never expected.
    pub(crate) rows_rejected: u64,
    /// The partition files.
    pub(crate) parts: Vec<PathBuf>,
    /// With `--sample`: `(max, seed)`: an ID is checked when its hash keyed
    /// with `seed` is at most `max`.
    pub(crate) sample: Option<(u64, u64)>,
}

/// The sample's keyed hash of an ID.
pub(crate) fn sample_hash(seed: u64, id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(id.as_bytes(), seed)
}

/// The N smallest keyed hashes seen (distinct IDs hash apart).
struct Sample {
    n: usize,
    seed: u64,
    smallest: BTreeSet<u64>,
}

impl Sample {
    fn see(&mut self, id: &str) {
        let h = sample_hash(self.seed, id);
        if self.smallest.len() < self.n {
            self.smallest.insert(h);
        } else if self.smallest.last().is_some_and(|&max| h < max) && self.smallest.insert(h) {
            self.smallest.pop_last();
        }
    }
}

/// One row as the pass keeps it.
type Row = Result<(batchport_transform::Op, Option<(u64, u64)>), ()>;

/// Read every file into `parts` partitions under `dir`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read(
    job: &Job,
    files: &[PathBuf],
    options: &SourceOptions,
    dir: &Path,
    parts: usize,
    keep: Keep,
    sample: Option<(u64, u64)>,
    cancel: &CancellationToken,
) -> Result<Expected> {
    let mut out = Partitions::create(dir, "input", parts).context("cannot create the verify's work files")?;
    let mut sample = sample.map(|(n, seed)| Sample { n: n as usize, seed, smallest: BTreeSet::new() });
    let mut exp = Expected::default();
    let opt_outs = batchport_transform::optouts::of_run(job, files)?;
    for (fi, file) in files.iter().enumerate() {
        let csv = CsvSource::open(file, options)?;
        exp.files.push(InputFile { path: file.clone(), header: csv.raw_headers().clone(), delimiter: csv.delimiter() });
        let t = Transformer::bind_rows(job, csv.headers(), file)?.with_opt_outs(opt_outs.clone());
        let mut failed: Option<std::io::Error> = None;
        let map = |row: batchport_source::BlockRow<'_>, buf: &mut Vec<u8>| -> Row {
            let pair = if row.flaw.is_none() { t.change_pair(&row.cells, buf) } else { None };
            t.map_block_row(row).map(|op| (op, pair)).map_err(|_| ())
        };
        pipeline::for_each_row_mapped(csv, map, |chunk| {
            for r in chunk.results {
                exp.rows_read += 1;
                let Ok((op, pair)) = r else {
                    exp.rows_rejected += 1;
                    continue;
                };
                if let Some(s) = sample.as_mut() {
                    s.see(&op.key);
                }
                let written = out.push(id_hash(&op.key), |f| {
                    let (pid, pop) = pair.unwrap_or((0, 0));
                    f.bytes(op.key.as_bytes())
                        .u64(fi as u64)
                        .u64(op.pos.line)
                        .u64(u64::from(pair.is_some()))
                        .u64(pid)
                        .u64(pop)
                        .bytes(&op.attrs);
                    let fields = if keep.records { op.record.len() } else { 0 };
                    f.u64(fields as u64);
                    for i in 0..fields {
                        f.bytes(&op.record[i]);
                    }
                });
                if let Err(e) = written {
                    failed = Some(e);
                    return false;
                }
            }
            !cancel.is_cancelled()
        })?;
        if let Some(e) = failed {
            return Err(anyhow::Error::new(e).context("cannot write the verify's work files"));
        }
        if cancel.is_cancelled() {
            return Err(crate::service::Interrupted.into());
        }
    }
    exp.parts = out.finish().context("cannot write the verify's work files")?;
    exp.sample =
        sample.map(|s| (if s.smallest.len() < s.n { u64::MAX } else { *s.smallest.last().unwrap_or(&0) }, s.seed));
    Ok(exp)
}

/// One input row read back from its partition.
#[derive(Debug)]
pub(crate) struct InputRow<'a> {
    pub(crate) id: &'a str,
    pub(crate) file: usize,
    pub(crate) line: u64,
    pub(crate) pair: Option<(u64, u64)>,
    pub(crate) attrs: &'a [u8],
    pub(crate) record: Option<csv::ByteRecord>,
}

/// Decode one input frame.
pub(crate) fn decode<'a>(f: &mut super::spill::Fields<'a>) -> std::io::Result<InputRow<'a>> {
    let id = f.str()?;
    let (file, line, has_pair, pid, pop) = (f.u64()? as usize, f.u64()?, f.u64()?, f.u64()?, f.u64()?);
    let attrs = f.bytes()?;
    let n = f.u64()?;
    let record = if n > 0 {
        let mut r = csv::ByteRecord::new();
        for _ in 0..n {
            r.push_field(f.bytes()?);
        }
        Some(r)
    } else {
        None
    };
    Ok(InputRow { id, file, line, pair: (has_pair == 1).then_some((pid, pop)), attrs, record })
}
