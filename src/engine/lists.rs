//! Before and after the batches of audience and catalog jobs: make sure the
//! audience exists (creating it when asked), and wait for the last indexing
//! token so the summary can say what Batch now holds.

use crate::api::Endpoint;
use crate::api::client::{Client, Outcome};
use crate::job::{AudienceSettings, Job, Mapping};
use anyhow::{Result, bail};
use std::time::{Duration, Instant};

/// How often to ask about an indexing token; tests shorten it.
fn poll_interval() -> Duration {
    std::env::var("BATCHPORT_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(2))
}

/// Create the audience if it is missing and the job allows it.
pub async fn prepare(job: &Job, client: &Client) -> Result<()> {
    if let Mapping::Catalog(c) = &job.mapping {
        return crate::catalog::prepare(c, client).await;
    }
    let Mapping::Audience(a) = &job.mapping else { return Ok(()) };
    // API.md does not document the answer for a missing audience (the OpenAPI
    // lists no 404): a 400 that says "not found" means the same.
    let view = client.get(Endpoint::AudiencesView, &[("name", &a.name)]).await;
    let missing = match &view {
        Outcome::Rejected { status: 404, .. } => true,
        Outcome::Rejected { status: 400, error, body } => {
            error.as_ref().is_some_and(|e| e.error_code.contains("NOT_FOUND"))
                || body.to_ascii_lowercase().contains("not found")
        }
        _ => false,
    };
    match view {
        Outcome::Ok { .. } => Ok(()),
        _ if missing && a.create => create(a, client).await,
        _ if missing => bail!(
            "the audience `{}` does not exist in this project: create it in Batch, or set create = true in [audience]",
            a.name
        ),
        Outcome::Unauthorized { .. } => bail!("Batch refused the keys (401): check the REST API key and project key"),
        other => bail!("cannot look up the audience `{}`: {}", a.name, describe(&other)),
    }
}

async fn create(a: &AudienceSettings, client: &Client) -> Result<()> {
    let body = serde_json::json!({ "name": a.name, "display_name": a.display_name, "type": "custom_ids" });
    match client.post(Endpoint::AudiencesCreate, serde_json::to_vec(&body)?).await {
        Outcome::Ok { .. } => {
            tracing::info!(audience = %a.name, "created");
            Ok(())
        }
        other => bail!("cannot create the audience `{}`: {}", a.name, describe(&other)),
    }
}

/// Wait until Batch has applied the last write (audiences), and describe the result.
pub async fn finish(job: &Job, client: &Client, token: Option<String>) -> Result<Option<String>> {
    match &job.mapping {
        Mapping::Audience(a) => {
            let Some(token) = token else { return Ok(None) };
            let deadline = Instant::now() + Duration::from_secs(600);
            loop {
                let view = client.get(Endpoint::AudiencesView, &[("name", &a.name), ("indexing_token", &token)]).await;
                if let Outcome::Ok { body, .. } = &view {
                    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                    let state = v["indexing_state"].as_str().unwrap_or_default();
                    if state == "APPLIED" || state == "REPLACED" {
                        return Ok(Some(format!(
                            "audience `{}` now holds {} ids ({state})",
                            a.name,
                            v["nb_ids"].as_u64().unwrap_or(0)
                        )));
                    }
                } else if !matches!(view, Outcome::Retry { .. } | Outcome::Unknown { .. }) {
                    bail!("cannot follow the audience `{}`: {}", a.name, describe(&view));
                }
                if Instant::now() > deadline {
                    return Ok(Some(format!(
                        "audience `{}`: Batch has not applied the last write after 10 minutes (indexing token {token})",
                        a.name
                    )));
                }
                tokio::time::sleep(poll_interval()).await;
            }
        }
        Mapping::Catalog(c) => crate::catalog::finish(c, client, token).await,
        _ => Ok(None),
    }
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Ok { status, .. } => format!("unexpected answer {status}"),
        Outcome::Retry { status, reason, .. } => {
            format!("{} ({reason})", status.map_or("no answer".into(), |s| s.to_string()))
        }
        Outcome::Unknown { reason } => reason.clone(),
        Outcome::Rejected { status, error, body } => match error {
            Some(e) => format!("{status} {} ({})", e.error_message, e.error_code),
            None => format!("{status} {}", body.chars().take(200).collect::<String>()),
        },
        Outcome::Unauthorized { .. } => "401: the keys are not valid for this project".into(),
    }
}
