//! `batchport status JOB.toml --history [N]`: the job's last N runs, newest
//! first, one line each: status, counts, duration, achieved rate, and the
//! guard that refused it (or that a person overrode), as a table or `--json`.

use crate::cli::Common;
use anyhow::Result;
use batchport_engine::run::open_store_blocking as open_store;
use batchport_state::{Run, StateError};
use batchport_transform::job;
use std::path::Path;

pub fn run(job_path: Option<&Path>, n: usize, common: &Common) -> Result<i32> {
    // clap asks for the job with --history.
    let Some(job_path) = job_path else { anyhow::bail!("--history needs a job file") };
    let name = job::load(job_path)?.name;
    let state = crate::paths::state_dir(common.state.clone());
    let (in_use, runs) = if !super::status::has_store(&state, &name) {
        (false, Vec::new())
    } else {
        match open_store(&state, &name) {
            Ok(store) => {
                let mut runs = Vec::new();
                for r in store.runs()?.into_iter().filter(|r| r.job == name).take(n) {
                    runs.push(super::status::as_known(&store, r)?);
                }
                (false, runs)
            }
            Err(e) if matches!(e.downcast_ref::<StateError>(), Some(StateError::Locked { .. })) => (true, Vec::new()),
            Err(e) => return Err(e),
        }
    };
    if common.json {
        let rows: Vec<serde_json::Value> = runs.iter().map(as_json).collect();
        crate::out!("{}", serde_json::json!({ "job": name, "in_use": in_use, "runs": rows }));
        return Ok(0);
    }
    if in_use {
        crate::out!(
            "{name}: running now (its state store is in use by another batchport process); ask again when it ends"
        );
        return Ok(0);
    }
    if runs.is_empty() {
        crate::out!("{name}: no runs in {}", state.display());
        return Ok(0);
    }
    crate::out!("{}", table(&runs));
    Ok(0)
}

/// Seconds from a run's start to its last save (its end, once finished).
fn duration_s(r: &Run) -> Option<f64> {
    let start = chrono::DateTime::parse_from_rfc3339(&r.started).ok()?;
    let end = chrono::DateTime::parse_from_rfc3339(r.updated()).ok()?;
    Some((end - start).num_milliseconds().max(0) as f64 / 1e3)
}

/// The guard column: the one that refused the run, or `NAME (overridden)`.
fn guard(r: &Run) -> String {
    let names: Vec<String> = r
        .guards
        .iter()
        .map(|g| if g.overridden { format!("{} (overridden)", g.name) } else { g.name.clone() })
        .collect();
    if names.is_empty() { "-".into() } else { names.join(", ") }
}

fn as_json(r: &Run) -> serde_json::Value {
    let c = &r.counters;
    serde_json::json!({
        "run_id": r.id,
        "started": r.started,
        "ended": r.updated(),
        "status": r.status.as_str(),
        "rows_read": c.rows_read,
        "rows_sent": c.rows_sent,
        "rows_rejected": c.rows_rejected,
        "rows_unchanged": c.rows_unchanged,
        "rows_uncertain": c.rows_uncertain,
        "rows_duplicate": c.rows_duplicate,
        "requests": c.requests,
        "duration_s": duration_s(r),
        "rate_achieved": c.rate_achieved(),
        "guards": r.guards,
        "destination": r.destination,
        "error": r.last_error,
    })
}

/// A plain table, columns padded to their widest cell.
fn table(runs: &[Run]) -> String {
    let head = [
        "started",
        "status",
        "read",
        "sent",
        "rejected",
        "unchanged",
        "uncertain",
        "duration",
        "rate/s",
        "guard",
        "run",
    ];
    let mut rows: Vec<Vec<String>> = vec![head.iter().map(|h| h.to_string()).collect()];
    for r in runs {
        let c = &r.counters;
        rows.push(vec![
            r.started.get(..19).unwrap_or(&r.started).replace('T', " "),
            r.status.as_str().to_string(),
            c.rows_read.to_string(),
            c.rows_sent.to_string(),
            c.rows_rejected.to_string(),
            c.rows_unchanged.to_string(),
            c.rows_uncertain.to_string(),
            duration_s(r).map_or("-".into(), |d| format!("{d:.1}s")),
            c.rate_achieved().map_or("-".into(), |x| format!("{x:.0}")),
            guard(r),
            r.id.clone(),
        ]);
    }
    let widths: Vec<usize> =
        (0..head.len()).map(|i| rows.iter().map(|row| row[i].chars().count()).max().unwrap_or(0)).collect();
    let numeric = |i: usize| (2..=8).contains(&i);
    rows.iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(i, cell)| {
                    if numeric(i) { format!("{cell:>w$}", w = widths[i]) } else { format!("{cell:<w$}", w = widths[i]) }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
