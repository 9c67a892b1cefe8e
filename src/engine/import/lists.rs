//! Before and after the batches of audience and catalog jobs: make sure the
//! audience exists (creating it when asked), and wait for the last indexing
//! token so the summary can say what Batch now holds. Every call goes through
//! the run's retry driver, under its endpoint's own rates; the summary's
//! request count is the data's (these calls are counted apart).

use crate::service::stopped;
use anyhow::{Result, bail};
use batchport_api::Endpoint;
use batchport_dispatch::{ApiCall, Driver, Refused, Stop};
use batchport_transform::job::{AudienceSettings, Job, Mapping};
use std::time::Duration;

/// How often to ask about an indexing token; tests shorten it.
fn poll_interval() -> Duration {
    std::env::var("BATCHPORT_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(2))
}

/// How long to wait for Batch to apply the last audience write.
const APPLY_DEADLINE: Duration = Duration::from_secs(600);

/// The run's driver for calls to `ep`, under its rates, counted apart.
fn driver_for(job: &Job, driver: &Driver, ep: Endpoint) -> Driver {
    driver.for_endpoint(job.api.version, ep).counted_apart()
}

/// One GET through `d` (from [`driver_for`]).
async fn get(
    client: &batchport_api::client::Client,
    d: &Driver,
    ep: Endpoint,
    query: &[(&str, &str)],
) -> Result<Vec<u8>, Stop<Refused>> {
    d.call(&ApiCall::new(ep), 1, || client.get(ep, query)).await.map(|b| b.to_vec())
}

/// Create the audience if it is missing and the job allows it.
pub(crate) async fn prepare(job: &Job, client: &batchport_api::client::Client, driver: &Driver) -> Result<()> {
    if let Mapping::Catalog(c) = &job.mapping {
        return crate::catalog::prepare(job, c, client, driver).await;
    }
    let Mapping::Audience(a) = &job.mapping else { return Ok(()) };
    let view = driver_for(job, driver, Endpoint::AudiencesView);
    match get(client, &view, Endpoint::AudiencesView, &[("name", &a.name)]).await {
        Ok(_) => Ok(()),
        Err(Stop::Fail(r)) if r.is_not_found() && a.create => create(job, a, client, driver).await,
        Err(Stop::Fail(r)) if r.is_not_found() => bail!(
            "the audience `{}` does not exist in this project: create it in Batch, or set create = true in [audience]",
            a.name
        ),
        Err(Stop::Fail(r)) if r.status == 401 => {
            bail!("Batch refused the keys (401): check the REST API key and project key")
        }
        Err(Stop::Fail(r)) => bail!("cannot look up the audience `{}`: {r}", a.name),
        Err(stop) => Err(stopped(stop, &format!("cannot look up the audience `{}`", a.name))),
    }
}

async fn create(
    job: &Job,
    a: &AudienceSettings,
    client: &batchport_api::client::Client,
    driver: &Driver,
) -> Result<()> {
    let body = serde_json::to_vec(
        &serde_json::json!({ "name": a.name, "display_name": a.display_name, "type": "custom_ids" }),
    )?;
    let ep = Endpoint::AudiencesCreate;
    let d = driver_for(job, driver, ep);
    match d.call(&ApiCall::new(ep), 1, || client.post(ep, body.clone())).await {
        Ok(_) => {
            tracing::info!(audience = %a.name, "created");
            Ok(())
        }
        Err(Stop::Fail(r)) => bail!("cannot create the audience `{}`: {r}", a.name),
        Err(stop) => Err(stopped(stop, &format!("cannot create the audience `{}`", a.name))),
    }
}

/// Wait until Batch has applied the last write (audiences), and describe the result.
pub(crate) async fn finish(
    job: &Job,
    client: &batchport_api::client::Client,
    driver: &Driver,
    token: Option<String>,
) -> Result<Option<String>> {
    match &job.mapping {
        Mapping::Audience(a) => {
            let followed = Indexed { what: "audience", name: &a.name, view: Endpoint::AudiencesView, count: "nb_ids" };
            follow(job, client, driver, token, followed).await
        }
        Mapping::Catalog(c) => crate::catalog::finish(job, c, client, driver, token).await,
        _ => Ok(None),
    }
}

/// An audience or a catalog whose last write is followed until Batch applies it.
pub(crate) struct Indexed<'a> {
    /// "audience" or "catalog", for messages.
    pub(crate) what: &'a str,
    pub(crate) name: &'a str,
    /// The view endpoint that tells the indexing state.
    pub(crate) view: Endpoint,
    /// The view's field holding what it now holds (`nb_ids`, `nb_items`).
    pub(crate) count: &'a str,
}

/// Poll `x.view` with the indexing `token` until Batch says APPLIED (or
/// REPLACED), for at most [`APPLY_DEADLINE`]; describe the result.
pub(crate) async fn follow(
    job: &Job,
    client: &batchport_api::client::Client,
    driver: &Driver,
    token: Option<String>,
    x: Indexed<'_>,
) -> Result<Option<String>> {
    let Some(token) = token else { return Ok(None) };
    let deadline = tokio::time::Instant::now() + APPLY_DEADLINE;
    let query = [("name", x.name), ("indexing_token", token.as_str())];
    let view = driver_for(job, driver, x.view);
    loop {
        let body = match get(client, &view, x.view, &query).await {
            Ok(body) => body,
            Err(Stop::Fail(r)) => bail!("cannot follow the {} `{}`: {r}", x.what, x.name),
            Err(stop) => return Err(stopped(stop, &format!("cannot follow the {} `{}`", x.what, x.name))),
        };
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let state = v["indexing_state"].as_str().unwrap_or_default();
        if state == "APPLIED" || state == "REPLACED" {
            let held = v[x.count].as_u64().unwrap_or(0);
            let unit = if x.what == "catalog" { "items" } else { "ids" };
            return Ok(Some(format!("{} `{}` now holds {held} {unit} (indexing {state})", x.what, x.name)));
        }
        if tokio::time::Instant::now() > deadline {
            return Ok(Some(format!(
                "{} `{}`: Batch has not applied the last write after 10 minutes (indexing token {token})",
                x.what, x.name
            )));
        }
        driver.sleep(poll_interval()).await.map_err(|stop: Stop<Refused>| stopped(stop, "waiting"))?;
    }
}

/// An audience replace that sent nothing would leave the old audience in
/// place while the run said `done`: refused, unless the job allows emptying
/// it (`allow_empty = true`: one replace call with no ids).
pub(crate) async fn replace_nothing(
    job: &Job,
    sender: &crate::sending::send::Sender,
    counters: &batchport_state::Counters,
) -> Result<Option<crate::service::Ended>> {
    if !sender.replace.is_pending() {
        return Ok(None);
    }
    match &job.mapping {
        Mapping::Audience(a) if a.allow_empty => {
            let (endpoint, kind) = sender.target();
            let body = crate::sending::body::build(&kind, &[]);
            sender.send(&mut [], &body, endpoint, None).await?;
            Ok(None)
        }
        Mapping::Audience(a) => Ok(Some(crate::service::Ended::Refused {
            reason: format!(
                "audience `{}`: mode = \"replace\" with no row to send ({} read, {} rejected): the audience was left as it was; fix the input, or set allow_empty = true in [audience] to empty it",
                a.name, counters.rows_read, counters.rows_rejected
            ),
        })),
        _ => Ok(None),
    }
}
