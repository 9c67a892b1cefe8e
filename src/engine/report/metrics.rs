//! A run's figures as Prometheus text (format 0.0.4, through the
//! `prometheus-client` crate), for node_exporter's textfile collector: one
//! file per job, rewritten whole at the end of every run (a temporary file
//! renamed over it, so the collector never reads half a file).
//!
//! Every series is a gauge labelled with the job: the file describes the
//! job's last run (rows by outcome, requests, retries, 429s, duration,
//! achieved rate, status, guards) and when it last succeeded. Alert on
//! `time() - batchport_last_success_timestamp_seconds > 26 * 3600` for a
//! nightly, or on `batchport_run_status{status="refused"} == 1`.

use super::Summary;
use super::guards::Verdict;
use crate::status::Status;
use prometheus_client::encoding::prometheus_text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::path::Path;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(String, String)>;
type FloatGauges = Family<Labels, Gauge<f64, AtomicU64>>;

/// Every status the summary can give, each a `batchport_run_status` series
/// (1 for the run's, 0 for the others), so that an alert needs no absent().
const STATUSES: [Status; 6] = [
    Status::Done,
    Status::DoneWithRejects,
    Status::DoneWithUncertain,
    Status::Refused,
    Status::Failed,
    Status::Interrupted,
];

/// The Prometheus text of `s`. `finished_at` and `last_success`: seconds
/// since the Unix epoch (when the run ended; when the job last succeeded
/// to this destination, if ever).
pub fn render(s: &Summary, finished_at: f64, last_success: Option<f64>) -> String {
    let mut reg = Registry::with_prefix("batchport");
    let job = || vec![("job".to_string(), s.job.clone())];
    let with = |k: &str, v: &str| {
        let mut l = job();
        l.push((k.to_string(), v.to_string()));
        l
    };
    let mut gauge = |name: &str, help: &str, series: &[(Labels, f64)]| {
        let family = FloatGauges::default();
        for (labels, value) in series {
            family.get_or_create(labels).set(*value);
        }
        reg.register(name, help, family);
    };
    let rows = [
        ("read", s.rows_read),
        ("sent", s.rows_sent),
        ("rejected", s.rows_rejected),
        ("unchanged", s.rows_unchanged),
        ("uncertain", s.rows_uncertain),
        ("partial", s.rows_partial),
        ("duplicate", s.rows_duplicate),
    ];
    let rows: Vec<(Labels, f64)> = rows.iter().map(|(o, n)| (with("outcome", o), *n as f64)).collect();
    gauge("rows", "Rows of the last run, by outcome (partial rows are within sent)", &rows);
    gauge("requests", "Requests the last run made for the data, retries included", &[(job(), s.requests as f64)]);
    gauge("retries", "Requests of the last run made again after a passing failure", &[(job(), s.retries as f64)]);
    gauge("http_429", "Answers 429 (rate limited) the last run got", &[(job(), s.http_429 as f64)]);
    gauge("run_duration_seconds", "Wall time of the last run", &[(job(), s.elapsed_s)]);
    gauge(
        "rate_achieved_updates_per_second",
        "Updates per second Batch accepted while the last run sent (0 when it sent nothing)",
        &[(job(), s.rate_achieved.unwrap_or(0.0))],
    );
    let statuses: Vec<(Labels, f64)> = STATUSES
        .iter()
        .map(|st| {
            let name = serde_json::to_value(st).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            (with("status", &name), f64::from(u8::from(*st == s.status)))
        })
        .collect();
    gauge("run_status", "1 for the status the last run ended with, 0 for the others", &statuses);
    gauge("last_run_timestamp_seconds", "When the last run ended (Unix time)", &[(job(), finished_at)]);
    if let Some(t) = last_success {
        gauge(
            "last_success_timestamp_seconds",
            "When the job last ended done, done with rejects or done with uncertain rows (Unix time)",
            &[(job(), t)],
        );
    }
    let guards: Vec<(Labels, f64)> =
        s.guards.iter().map(|g| (with("guard", g.name), f64::from(u8::from(g.verdict == Verdict::Tripped)))).collect();
    if !guards.is_empty() {
        gauge("guard_tripped", "1 for a guard that refused the last run, 0 for one judged that did not", &guards);
    }
    let undelivered = s.notifications.iter().filter(|n| !n.delivered).count();
    gauge(
        "notifications_undelivered",
        "Notifications of the last run that could not be delivered",
        &[(job(), undelivered as f64)],
    );
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &reg);
    out
}

/// Write `text` to `path` whole: a temporary file beside it (a name the
/// textfile collector ignores), synced, then renamed over it.
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "metrics".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
