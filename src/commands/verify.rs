//! `batchport verify JOB.toml`: compare what a profiles job's input says with
//! what Batch holds (an export), report the differences, and on request
//! repair them (`--repair`) or rebuild the change index (`--rebuild-index`).

use crate::cli::{Common, VerifyArgs};
use anyhow::Result;
use batchport_engine::service::Options;
use batchport_engine::verify::{self, VerifyOptions, VerifyStatus};
use batchport_transform::job;
use std::io::IsTerminal;
use std::path::Path;

pub fn run(job_path: &Path, a: &VerifyArgs, common: &Common) -> Result<i32> {
    let job = job::load(job_path)?;
    let opts = Options {
        state_dir: crate::paths::state_dir(common.state.clone()),
        progress: !common.quiet && !common.json && std::io::stderr().is_terminal(),
        events: super::notices_to_stderr(),
        ..Options::default()
    };
    let v = VerifyOptions {
        sample: a.sample,
        seed: a.seed,
        repair: a.repair,
        rebuild_index: a.rebuild_index,
        differences: a.differences.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = rt.block_on(async {
        super::run::watch_signals(opts.cancel.clone());
        verify::verify(&job, &opts, &v).await
    })?;
    if common.json {
        match serde_json::to_string(&report) {
            Ok(s) => crate::out!("{s}"),
            Err(e) => crate::say!("batchport: cannot write the report: {e}"),
        }
    } else if !common.quiet || report.status != VerifyStatus::Match {
        crate::out!("{}", report.human());
    }
    if let Some(e) = &report.error {
        crate::say!("batchport: {e}");
    }
    // A repair that did not end `done` says so with its own code (1, 130...).
    let repair = report.repair.as_ref().map(|r| r.status.code()).filter(|&c| c != 0 && c != 3);
    Ok(repair.unwrap_or(report.status.code()))
}
