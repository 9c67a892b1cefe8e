//! `batchport status [JOB.toml]` and `batchport reset JOB.toml [--delta]`: what
//! the state store knows, and forgetting it.

use crate::cli::Common;
use anyhow::Result;
use batchport_engine::run::open_store_blocking as open_store;
use batchport_state::{Run, StateError};
use batchport_transform::job;
use std::path::Path;

pub fn run(job_path: Option<&Path>, common: &Common) -> Result<i32> {
    let state = crate::paths::state_dir(common.state.clone());
    let names: Vec<String> = match job_path {
        Some(p) => vec![job::load(p)?.name],
        None => match std::fs::read_dir(state.join("jobs")) {
            Ok(dir) => {
                let mut v: Vec<String> = dir
                    .flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into())
                    .collect();
                v.sort();
                v
            }
            Err(_) => Vec::new(),
        },
    };
    let mut all = Vec::new();
    for name in &names {
        if !has_store(&state, name) {
            // Looking must not create: a mistyped --state stays absent.
            continue;
        }
        match open_store(&state, name) {
            Ok(store) => {
                let mut runs = Vec::new();
                for r in store.runs()?.into_iter().filter(|r| &r.job == name) {
                    runs.push(with_rate(&as_known(&store, r)?));
                }
                all.push(serde_json::json!({ "job": name, "in_use": false, "runs": runs }));
            }
            Err(e) if matches!(e.downcast_ref::<StateError>(), Some(StateError::Locked { .. })) => {
                all.push(serde_json::json!({ "job": name, "in_use": true, "runs": [] }));
            }
            Err(e) => return Err(e),
        }
    }
    if common.json {
        crate::out!("{}", serde_json::to_string(&all)?);
        return Ok(0);
    }
    if all.is_empty() {
        crate::out!("no runs in {}", state.display());
    }
    for j in &all {
        let name = j["job"].as_str().unwrap_or_default();
        if j["in_use"].as_bool() == Some(true) {
            crate::out!("{name}: running now (its state store is in use by another batchport process)");
            continue;
        }
        let runs: Vec<Run> = serde_json::from_value(j["runs"].clone()).unwrap_or_default();
        let shown = if job_path.is_some() { 20 } else { 3 };
        if runs.len() > shown {
            // Never fewer than `--json` without a word.
            crate::out!("{name}: the latest {shown} of {} runs (`--json` lists them all)", runs.len());
        }
        for r in runs.iter().take(shown) {
            let c = &r.counters;
            crate::out!(
                "{name}  {id}  {status}  started {started}\n    read {read}, sent {sent}, rejected {rej}, unchanged {unch}, uncertain {unc}; requests {req}, retries {ret}, 429s {r429}{rate}",
                id = r.id,
                status = r.status,
                started = r.started,
                read = c.rows_read,
                sent = c.rows_sent,
                rej = c.rows_rejected,
                unch = c.rows_unchanged,
                unc = c.rows_uncertain,
                req = c.requests,
                ret = c.retries,
                r429 = c.http_429,
                rate = c.rate_achieved().map(|r| format!(", {r:.0} updates/s achieved")).unwrap_or_default(),
            );
            crate::out!(
                "    destination: {}",
                r.destination.as_deref().unwrap_or("unknown (recorded before destinations were kept)")
            );
            if c.rows_duplicate > 0 {
                crate::out!("    duplicate events skipped: {}", c.rows_duplicate);
            }
            for p in &r.rejects_files {
                crate::out!("    rejects: {}", p.display());
            }
            for p in &r.uncertain_files {
                crate::out!("    uncertain: {}", p.display());
            }
            if let Some(p) = &r.partial_file {
                crate::out!("    partially applied ({} rows, do not re-import): {}", c.rows_partial, p.display());
            }
            if let Some(e) = &r.last_error {
                crate::out!("    last error: {e}");
            }
        }
    }
    Ok(0)
}

/// A run as the store knows it now. The store opened, no process holds it:
/// a run still marked `running` was stopped without a word (killed) and is
/// shown `interrupted`. An unfinished import's row counts come from its
/// ledger (every settled batch), which a killed run kept and its record may
/// not have caught up with.
fn as_known(store: &batchport_state::Store, mut r: Run) -> Result<Run> {
    if r.status == batchport_state::RunStatus::Running {
        r.status = batchport_state::RunStatus::Interrupted;
    }
    if !r.is_finished() && matches!(r.progress, batchport_state::RunProgress::Import(_)) {
        let ledger = store.batches(&r.id)?;
        let known = batchport_engine::import::resume::plan(&r, &ledger, false).counters;
        r.counters.at_least(&known);
    }
    Ok(r)
}

/// A run as JSON, its counters with the achieved rate (updates/s, null before
/// anything was sent) beside the raw counts it comes from.
fn with_rate(r: &Run) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(c) = v.get_mut("counters").and_then(|c| c.as_object_mut()) {
        c.insert("rate_achieved".into(), serde_json::json!(r.counters.rate_achieved()));
    }
    v
}

pub fn reset(job_path: &Path, delta: bool, common: &Common) -> Result<i32> {
    let job = job::load(job_path)?;
    let state = crate::paths::state_dir(common.state.clone());
    if !has_store(&state, &job.name) {
        if !common.quiet && !common.json {
            crate::out!("{}: no state in {}: nothing to forget", job.name, state.display());
        }
        if common.json {
            crate::out!("{}", serde_json::json!({ "job": job.name, "run_reset": false, "delta_reset": false }));
        }
        return Ok(0);
    }
    let store = open_store(&state, &job.name)?;
    let mut run = store.reset_run(&job.name)?;
    // A finished run keeps a re-run of the same input from sending it again:
    // after a reset it no longer does.
    if !run
        && let Some(mut last) = store.last_run(&job.name)?
        && last.is_finished()
        && !last.reset
    {
        last.reset = true;
        store.save_run(&last)?;
        run = true;
    }
    // The job's files are imported again at every destination.
    run |= store.forget_imported(&job.name)?;
    let index = if delta {
        // The change index of every destination the job sent to (and the one
        // kept per job before destinations were), and the event index.
        let mut scopes: Vec<String> = store
            .runs()?
            .into_iter()
            .filter(|r| r.job == job.name)
            .filter_map(|r| r.destination.map(|d| batchport_state::scope(&job.name, &d)))
            .collect();
        scopes.sort();
        scopes.dedup();
        scopes.push(job.name.clone());
        let mut had = store.reset_event_index(&job.name)?;
        for scope in scopes {
            had |= store.reset_change_index(&scope)?;
        }
        had
    } else {
        false
    };
    store.flush()?;
    if !common.quiet && !common.json {
        crate::out!(
            "{}: {}{}",
            job.name,
            if run { "last run forgotten (the next run starts from the beginning)" } else { "no run to forget" },
            match (delta, index) {
                (true, true) => "; change and event indexes forgotten (the next run sends every row)",
                (true, false) => "; no change index",
                _ => "",
            }
        );
    }
    if common.json {
        crate::out!("{}", serde_json::json!({ "job": job.name, "run_reset": run, "delta_reset": index }));
    }
    Ok(0)
}

/// Whether the job has a state store in `state` (without creating one).
fn has_store(state: &Path, job: &str) -> bool {
    state.join("jobs").join(job).is_dir()
}
