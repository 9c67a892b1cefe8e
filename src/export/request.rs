//! Talking to the export endpoints: the `profiles/export` body from the job,
//! API calls with retries (the same classification and backoff as imports),
//! and polling `exports/view` until the export is SUCCESS or ERROR.

use super::progress::Progress;
use crate::api::Endpoint;
use crate::api::client::{Bytes, Client, Outcome};
use crate::dispatch::RetryPolicy;
use crate::job::{ExportSettings, ExportType};
use anyhow::{Context as _, Result};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

/// Tests set this (milliseconds) to poll an emulator whose exports take a
/// fraction of a second; unset, polling starts at 1 s and backs off to 10 s.
pub const POLL_ENV: &str = "BATCHPORT_EXPORT_POLL_MS";

/// Requests made by this run, for the summary and the run record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub requests: u64,
    pub retries: u64,
    pub http_429: u64,
    /// Download links that had expired and were asked for again.
    pub renewals: u64,
}

/// A refusal the API will repeat (4xx other than 408/429, or 401).
#[derive(Debug, thiserror::Error)]
#[error("{endpoint} answered HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
pub struct Refused {
    pub endpoint: &'static str,
    pub status: u16,
    pub code: Option<String>,
    pub message: String,
}

/// The identifiers asked for: `custom_id` always (a CSV without it cannot be
/// imported back), then the job's others in its order.
pub fn identifiers(s: &ExportSettings) -> Vec<String> {
    let mut ids = vec!["custom_id".to_string()];
    ids.extend(s.identifiers.iter().filter(|i| *i != "custom_id").cloned());
    ids
}

/// The `profiles/export` body (API.md, Exports).
pub fn body(s: &ExportSettings) -> Value {
    let ty = match s.ty {
        ExportType::Attributes => "ATTRIBUTES",
        ExportType::Events => "EVENTS",
        ExportType::Reachability => "REACHABILITY",
    };
    let mut b = json!({ "export_type": ty, "identifiers": identifiers(s) });
    if !s.attributes.is_empty() {
        b["attributes"] = json!(s.attributes);
    }
    if let Some(seg) = &s.segment {
        b["filter"] = json!({ "segment": seg });
    }
    if let Some(from) = s.from {
        b["from"] = json!(from.format("%Y-%m-%d").to_string());
    }
    b
}

/// Call until the answer is a success, retrying what `classify` says is worth
/// it with the import's backoff. `Unknown` is retried too: the worst case of a
/// `profiles/export` resent is one extra export, never wrong data.
pub async fn call<F, Fut>(endpoint: Endpoint, tally: &mut Tally, cancel: &AtomicBool, mut f: F) -> Result<Bytes>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let policy = RetryPolicy::default();
    let name = &endpoint.path()[1..];
    let mut attempt = 0;
    loop {
        attempt += 1;
        tally.requests += 1;
        let (reason, after) = match f().await {
            Outcome::Ok { body, .. } => return Ok(body),
            Outcome::Retry { status, retry_after, reason } => {
                if status == Some(429) {
                    tally.http_429 += 1;
                }
                (reason, retry_after)
            }
            Outcome::Unknown { reason } => (reason, None),
            Outcome::Rejected { status, error, body } => {
                let (code, message) = match error {
                    Some(e) => (Some(e.error_code), e.error_message),
                    None => (None, body),
                };
                return Err(Refused { endpoint: name, status, code, message }.into());
            }
            Outcome::Unauthorized { error } => {
                let message = error.map(|e| e.error_message).unwrap_or_default();
                return Err(Refused {
                    endpoint: name,
                    status: 401,
                    code: None,
                    message: format!("the REST API key or project key was refused {message}"),
                }
                .into());
            }
        };
        if !policy.should_retry(attempt) || cancel.load(Relaxed) {
            anyhow::bail!("{name}: gave up after {attempt} attempts: {reason}");
        }
        tally.retries += 1;
        let wait = policy.delay(attempt, after, &mut rand::rng());
        tracing::debug!(endpoint = name, ?wait, %reason, "retrying");
        tokio::time::sleep(wait).await;
    }
}

/// Ask for the export; its id.
pub async fn create(client: &Client, body: &Value, tally: &mut Tally, cancel: &AtomicBool) -> Result<String> {
    #[derive(Deserialize)]
    struct Created {
        id: String,
    }
    let bytes = serde_json::to_vec(body)?;
    let ep = Endpoint::ProfilesExport;
    let answer = call(ep, tally, cancel, || client.post(ep, bytes.clone())).await?;
    let created: Created = serde_json::from_slice(&answer).context("profiles/export answered without an id")?;
    Ok(created.id)
}

/// One file part of a finished export.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FilePart {
    pub id: String,
    pub part: u64,
    #[serde(default)]
    pub size: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct View {
    status: String,
    #[serde(default)]
    files: Vec<FilePart>,
    #[serde(default)]
    error: Option<Value>,
}

/// How `poll` ended.
#[derive(Debug)]
pub enum Polled {
    Success(Vec<FilePart>),
    /// Batch gave up on the export; its error, when it says one.
    Failed(String),
    Interrupted,
}

/// The wait between two looks at `exports/view`.
fn intervals() -> impl FnMut() -> Duration {
    let fixed = std::env::var(POLL_ENV).ok().and_then(|v| v.trim().parse::<u64>().ok());
    let mut next = Duration::from_secs(1);
    move || match fixed {
        Some(ms) => Duration::from_millis(ms),
        None => {
            let now = next;
            // An export of millions of profiles takes minutes: no need to ask every second.
            next = (next * 3 / 2).min(Duration::from_secs(10));
            now
        }
    }
}

/// Look at the export until it is done. Its parts come sorted by part number.
pub async fn poll(client: &Client, id: &str, tally: &mut Tally, cancel: &AtomicBool, bar: &Progress) -> Result<Polled> {
    let mut wait = intervals();
    let ep = Endpoint::ExportsView;
    loop {
        let answer = call(ep, tally, cancel, || async move { client.get(ep, &[("id", id)]).await }).await?;
        let view: View =
            serde_json::from_slice(&answer).with_context(|| format!("exports/view answered no status for {id}"))?;
        bar.status(id, &view.status);
        match view.status.as_str() {
            "SUCCESS" => {
                let mut files = view.files;
                files.sort_by_key(|f| f.part);
                return Ok(Polled::Success(files));
            }
            "ERROR" => {
                let why = match view.error {
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => "no reason given".to_string(),
                };
                return Ok(Polled::Failed(why));
            }
            _ => {}
        }
        let until = tokio::time::Instant::now() + wait();
        // Short naps so Ctrl-C is seen at once even between 10 s polls.
        while tokio::time::Instant::now() < until {
            if cancel.load(Relaxed) {
                return Ok(Polled::Interrupted);
            }
            tokio::time::sleep_until(until.min(tokio::time::Instant::now() + Duration::from_millis(100))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_follows_the_job() {
        let s = ExportSettings {
            escape_formulas: true,
            ty: ExportType::Events,
            attributes: vec!["$label".into()],
            identifiers: vec!["installation_ids".into()],
            segment: Some("VIP".into()),
            from: chrono::NaiveDate::from_ymd_opt(2026, 11, 1),
            output: "x.ndjson".into(),
        };
        assert_eq!(
            body(&s),
            json!({"export_type": "EVENTS", "identifiers": ["custom_id", "installation_ids"],
                "attributes": ["$label"], "filter": {"segment": "VIP"}, "from": "2026-11-01"})
        );
    }
}
