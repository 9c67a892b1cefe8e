//! When and how much the preflight reads, for `run` (before its first
//! request) and `validate` (which measured the input itself).

use super::{GuardCheck, Measured, Need, count_unchanged, judge, measure};
use crate::service::{Destination, blocking};
use anyhow::Result;
use batchport_state::{Run, Store};
use batchport_transform::job::Job;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// What the preflight of a run found.
pub(crate) struct Judged {
    /// Every guard on, judged.
    pub(crate) checks: Vec<GuardCheck>,
    /// `refuse_empty` is left to what the run reads (nothing was read
    /// ahead: an empty input sends nothing anyway): see [`empty_after`].
    pub(crate) empty_after: bool,
}

/// `refuse_empty` judged on what a run read, when no preflight read ahead
/// (a run with no baseline and no `min_rows`): `None` when it was judged
/// before, or is off.
pub(crate) fn empty_after(judged: &Judged, rows_read: u64, overrides: &[String]) -> Option<GuardCheck> {
    judged.empty_after.then(|| super::judge::empty_check(rows_read, false, overrides))
}

/// Judge a new run of `job` before its first request: the baseline from the
/// store, the input read as much as the guards on need. Without a baseline
/// and `min_rows`, nothing is read ahead (a first import is read once):
/// `refuse_empty` is then judged on what the run reads. `None`: cancelled.
pub(crate) async fn before_sending(
    job: &Job,
    store: &Store,
    destination: &Destination,
    files: &[PathBuf],
    run_id: &str,
    overrides: &[String],
    cancel: &CancellationToken,
) -> Result<Option<Judged>> {
    let g = &job.guard;
    let any_share = g.min_rows_share.is_some()
        || g.max_rejects_share.is_some()
        || g.max_changed_share.is_some()
        || g.max_clears_share.is_some();
    if !g.refuse_empty && g.min_rows.is_none() && !any_share {
        return Ok(Some(Judged { checks: Vec::new(), empty_after: false }));
    }
    let (s, name, dest, id) = (store.clone(), job.name.clone(), destination.text.clone(), run_id.to_string());
    let baseline = blocking(move || s.last_success(&name, Some(&dest), &id)).await?;
    let need = match (&baseline, any_share, g.min_rows) {
        (Some(_), true, _) => Need::Everything,
        // Nothing to compare with: only the row count up to what the guards ask.
        (_, _, Some(n)) => Need::RowsUpTo(n),
        (_, _, None) => {
            let checks = if baseline.is_none() { super::judge::without_baseline(job) } else { Vec::new() };
            return Ok(Some(Judged { checks, empty_after: g.refuse_empty }));
        }
    };
    let (j, f, c) = (job.clone(), files.to_vec(), cancel.clone());
    let scope = destination.scope(&job.name);
    let changed_only = job.mapping.profile().is_some_and(|p| p.changed_only) && g.max_changed_share.is_some();
    let s = store.clone();
    let with_base = baseline.is_some();
    let measured = blocking(move || {
        let go_on = || !c.is_cancelled();
        let Some(m) = measure(&j, &f, need, &go_on)? else { return Ok::<_, anyhow::Error>(None) };
        let unchanged = if changed_only && with_base && m.rows > 0 && !m.partial {
            count_unchanged(&j, &s, &scope, &f, &go_on)?
        } else {
            None
        };
        Ok(Some((m, unchanged)))
    })
    .await?;
    if cancel.is_cancelled() {
        return Ok(None);
    }
    let Some((m, unchanged)) = measured else { return Ok(None) };
    Ok(Some(Judged { checks: judge(job, &m, unchanged, baseline.as_ref(), overrides), empty_after: false }))
}

/// The guards as `run` would judge an input `validate` measured: against
/// the job's last successful run in `state_dir` to the destination the
/// environment's project key names (to any destination without one).
/// Blocking. A store in use by a run is not waited for: the guards are then
/// skipped, and say why.
/// Also the rows the change index holds unchanged, for a `changed_only` job
/// that has a baseline: `validate` forecasts them.
pub fn for_validate(job: &Job, state_dir: &Path, m: &Measured, files: &[PathBuf]) -> (Vec<GuardCheck>, Option<u64>) {
    let job_dir = state_dir.join("jobs").join(&job.name);
    let store = if job_dir.is_dir() {
        match crate::run::open_store_blocking(state_dir, &job.name) {
            Ok(s) => Some(s),
            Err(e) => {
                let why = format!("the guards against the last run cannot be judged now: {e:#}");
                return (judge_with(job, m, None, None, Some(why)), None);
            }
        }
    } else {
        None
    };
    let destination = project_key(job).map(|k| Destination::of(job, &k));
    let baseline: Option<Run> = store
        .as_ref()
        .and_then(|s| s.last_success(&job.name, destination.as_ref().map(|d| d.text.as_str()), "").ok().flatten());
    // Counted whether or not the guard is on: `validate` forecasts it.
    let changed_only = job.mapping.profile().is_some_and(|p| p.changed_only);
    let unchanged = match (&store, &baseline) {
        (Some(s), Some(b)) if changed_only && m.rows > 0 => {
            let scope = batchport_state::scope(&job.name, b.destination.as_deref().unwrap_or_default());
            count_unchanged(job, s, &scope, files, &|| true).ok().flatten()
        }
        _ => None,
    };
    (judge_with(job, m, unchanged, baseline.as_ref(), None), unchanged)
}

fn judge_with(
    job: &Job,
    m: &Measured,
    unchanged: Option<u64>,
    baseline: Option<&Run>,
    unavailable: Option<String>,
) -> Vec<GuardCheck> {
    let mut checks = judge(job, m, unchanged, baseline, &[]);
    if let Some(why) = unavailable {
        for c in checks.iter_mut().filter(|c| c.verdict == super::Verdict::Skipped) {
            c.detail = why.clone();
        }
    }
    checks
}

/// The project key a run of `job` would use, when the environment has it
/// (the in-process emulator has its own).
fn project_key(job: &Job) -> Option<String> {
    match &job.api.base_url {
        #[cfg(feature = "emulator")]
        batchport_transform::job::BaseUrl::Emulator => Some(batchport_emulator::EmulatorConfig::default().project_key),
        _ => std::env::var(&job.api.project_key_env).ok().filter(|v| !v.trim().is_empty()),
    }
}
