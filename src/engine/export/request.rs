//! Talking to the export endpoints: the `profiles/export` body from the job,
//! API calls through the run's retry driver,
//! and polling `exports/view` until the export is SUCCESS or ERROR.

use super::progress::ExportBar;
use crate::service::{Interrupted, stopped};
use anyhow::{Context as _, Result};
use batchport_api::Endpoint;
use batchport_api::client::{Bytes, Client, Outcome};
use batchport_dispatch::{ApiCall, Driver, Refused, Stop};
use batchport_transform::job::{ExportSettings, ExportType};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// Tests set this (milliseconds) to poll an emulator whose exports take a
/// fraction of a second; unset, polling starts at 1 s and backs off to 10 s.
pub const POLL_ENV: &str = "BATCHPORT_EXPORT_POLL_MS";

/// The identifiers asked for: `custom_id` always (a CSV without it cannot be
/// imported back), then the job's others in its order.
pub(crate) fn identifiers(s: &ExportSettings) -> Vec<String> {
    let mut ids = vec!["custom_id".to_string()];
    ids.extend(s.identifiers.iter().filter(|i| *i != "custom_id").cloned());
    ids
}

/// The `profiles/export` body (API.md, Exports).
pub(crate) fn body(s: &ExportSettings) -> Value {
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

/// Call until the answer is a success, through the run's driver (retries,
/// limiter, cancellation). `Unknown` is retried too: the worst case of a
/// `profiles/export` resent is one extra export, never wrong data.
pub(crate) async fn call<F, Fut>(endpoint: Endpoint, driver: &Driver, f: F) -> Result<Bytes>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let logic = ApiCall::new(endpoint);
    driver.call(&logic, 1, f).await.map_err(|stop| match stop {
        Stop::Fail(refused) => anyhow::Error::from(refused),
        other => stopped(other, logic.name),
    })
}

/// Ask for the export; its id.
pub async fn create(client: &Client, body: &Value, driver: &Driver) -> Result<String> {
    #[derive(Deserialize)]
    struct Created {
        id: String,
    }
    let bytes = serde_json::to_vec(body)?;
    let ep = Endpoint::ProfilesExport;
    let answer = call(ep, driver, || client.post(ep, bytes.clone())).await?;
    let created: Created = serde_json::from_slice(&answer).context("profiles/export answered without an id")?;
    Ok(created.id)
}

/// One file part of a finished export.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(crate) struct FilePart {
    pub(crate) id: String,
    pub(crate) part: u64,
    #[serde(default)]
    pub(crate) size: Option<u64>,
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
pub(crate) enum Polled {
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
pub(crate) async fn poll(client: &Client, id: &str, driver: &Driver, bar: &ExportBar) -> Result<Polled> {
    let mut wait = intervals();
    let ep = Endpoint::ExportsView;
    loop {
        let answer = match call(ep, driver, || async move { client.get(ep, &[("id", id)]).await }).await {
            Err(e) if e.is::<Interrupted>() => return Ok(Polled::Interrupted),
            other => other?,
        };
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
        if driver.sleep::<Refused>(wait()).await.is_err() {
            return Ok(Polled::Interrupted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_follows_the_job() {
        let s = ExportSettings {
            mode: None,
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
