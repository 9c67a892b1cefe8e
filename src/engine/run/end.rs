//! The end of a run, whatever its kind: the webhook told (`[notify]`) and the
//! metrics file written (`--metrics-file`, `[job] metrics_file`), once the
//! summary is known; and the webhook told of a run that could not start.

use super::{Job, Options, Status, Summary, blocking};
use batchport_state::{RunStatus, Store};

/// What the end of a run needs besides its summary.
pub(super) struct After {
    /// The status of the job's run before this attempt (`recovered`).
    pub(super) prior: Option<RunStatus>,
    /// When the job last succeeded to this destination (Unix seconds).
    pub(super) last_success: Option<f64>,
}

/// Tell the webhook (if the run's ending is an event the job asked for)
/// and write the metrics file; what happened goes into `s`.
pub(super) async fn tell(job: &Job, opts: &Options, s: &mut Summary, after: &After, secrets: &[String]) {
    if let Some(n) = &job.notify
        && let Some(told) = crate::notify::send(n, s, after.prior, secrets).await
    {
        if let Some(e) = &told.error {
            opts.events.notice(format!("the notification could not be delivered: {e}"));
        }
        s.notifications.push(told);
    }
    if let Some(path) = opts.metrics_file.clone().or_else(|| job.metrics_file.clone()) {
        let finished = chrono::Utc::now().timestamp_millis() as f64 / 1e3;
        let text = crate::report::metrics::render(s, finished, after.last_success);
        let p = path.clone();
        match blocking(move || crate::report::metrics::write(&p, &text)).await {
            Ok(()) => s.metrics_file = Some(path),
            Err(e) => opts.events.notice(format!("cannot write the metrics file {}: {e:#}", path.display())),
        }
    }
}

/// A nightly that cannot even start (its dump missing, a key unset) is the
/// failure its owner most needs to hear of. The metrics file is left as the
/// last run wrote it: its last success grows old, which is the alert.
pub(super) async fn tell_failure(job: &Job, opts: &Options, e: &anyhow::Error, secrets: &[String]) {
    let Some(n) = &job.notify else { return };
    let mut s = Summary::new(&job.name, "");
    s.status = Status::Failed;
    s.error = Some(format!("{e:#}"));
    if let Some(told) = crate::notify::send(n, &s, None, secrets).await
        && let Some(err) = &told.error
    {
        opts.events.notice(format!("the notification could not be delivered: {err}"));
    }
}

/// The values that must never leave in a notification: the keys the run
/// uses, whether given or from the environment.
pub(super) fn secrets(job: &Job, opts: &Options) -> Vec<String> {
    let mut out: Vec<String> = opts.keys.iter().flat_map(|k| [k.rest_key.clone(), k.project_key.clone()]).collect();
    for name in [&job.api.rest_key_env, &job.api.project_key_env] {
        if let Ok(v) = std::env::var(name)
            && !v.trim().is_empty()
        {
            out.push(v);
        }
    }
    out
}

/// When `job` last succeeded to `dest`, in Unix seconds (metrics).
pub(super) async fn last_success(store: &Store, job: &Job, dest: &str) -> Option<f64> {
    let (s, name, dest) = (store.clone(), job.name.clone(), dest.to_string());
    let run = blocking(move || s.last_success(&name, Some(&dest), "")).await.ok().flatten()?;
    chrono::DateTime::parse_from_rfc3339(run.updated()).ok().map(|t| t.timestamp_millis() as f64 / 1e3)
}
