//! `batchport status [JOB.toml]` and `batchport reset JOB.toml [--delta]`: what
//! the state store knows, and forgetting it.

use crate::cli::Common;
use crate::job;
use crate::run::open_store_blocking as open_store;
use crate::state::{Run, StateError};
use anyhow::Result;
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
                let runs: Vec<serde_json::Value> =
                    store.runs()?.into_iter().filter(|r| &r.job == name).map(|r| with_rate(&r)).collect();
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
        for r in runs.iter().take(if job_path.is_some() { 20 } else { 3 }) {
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
            if let Some(p) = &r.rejects_file {
                crate::out!("    rejects: {}", p.display());
            }
            if let Some(p) = &r.uncertain_file {
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
    let index = if delta { store.reset_change_index(&job.name)? } else { false };
    store.flush()?;
    if !common.quiet && !common.json {
        crate::out!(
            "{}: {}{}",
            job.name,
            if run { "last run forgotten (the next run starts from the beginning)" } else { "no run to forget" },
            match (delta, index) {
                (true, true) => "; change index forgotten (the next run sends every row)",
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
