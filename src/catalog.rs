//! Catalog jobs before and after their items: the catalog must exist before
//! items are edited (API.md), so it is looked up, created from the mapping's
//! types when the job says `create = true`, and its schema checked against the
//! mapping before anything is sent; after the last edit, the run follows the
//! indexing token through `/catalogs/view` until Batch has applied it.

use crate::api::Endpoint;
use crate::api::client::{Client, Outcome};
use crate::job::{AttrMap, CatalogSettings, ValueType};
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

/// The schema field type of a mapped attribute.
pub fn field_type(ty: &ValueType) -> &'static str {
    match ty {
        ValueType::String | ValueType::Json => "string",
        ValueType::Int => "integer",
        ValueType::Float => "float",
        ValueType::Bool => "bool",
        ValueType::Date { .. } => "date",
        ValueType::Url => "url",
        ValueType::Array { .. } => "array",
    }
}

/// The `fields` of `/catalogs/create` for a mapping.
pub fn schema(attrs: &[AttrMap]) -> Vec<serde_json::Value> {
    attrs.iter().map(|a| serde_json::json!({"name": a.name, "type": field_type(&a.ty)})).collect()
}

/// Where the mapping and an existing catalog's fields disagree, in words.
pub fn mismatches(attrs: &[AttrMap], fields: &[serde_json::Value]) -> Vec<String> {
    let mut out = Vec::new();
    for a in attrs {
        let want = field_type(&a.ty);
        match fields.iter().find(|f| f["name"] == a.name.as_str()) {
            None => out.push(format!("`{}` (column `{}`) is not a field of the catalog", a.name, a.column.name)),
            Some(f) => {
                let have = f["type"].as_str().unwrap_or("?");
                // An integer column fits a float field; nothing else converts.
                if have != want && !(want == "integer" && have == "float") {
                    out.push(format!("`{}` is mapped as {want} but the catalog's field is {have}", a.name));
                }
            }
        }
    }
    out
}

fn missing(o: &Outcome) -> bool {
    match o {
        Outcome::Rejected { status: 404, .. } => true,
        Outcome::Rejected { status: 400, error, body } => {
            error.as_ref().is_some_and(|e| e.error_code.contains("NOT_FOUND"))
                || body.to_ascii_lowercase().contains("not found")
        }
        _ => false,
    }
}

/// Make sure the catalog exists with a schema the mapping fits.
pub async fn prepare(c: &CatalogSettings, client: &Client) -> Result<()> {
    let view = client.get(Endpoint::CatalogsView, &[("name", &c.name)]).await;
    match &view {
        Outcome::Ok { body, .. } => {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let fields = v["fields"].as_array().cloned().unwrap_or_default();
            let wrong = if c.remove { Vec::new() } else { mismatches(&c.attributes, &fields) };
            if !wrong.is_empty() {
                bail!(
                    "the catalog `{}` does not fit the mapping: {}. Change the mapping's types, or the catalog in Batch",
                    c.name,
                    wrong.join("; ")
                );
            }
            Ok(())
        }
        o if missing(o) && c.create && !c.remove => create(c, client).await,
        o if missing(o) => bail!(
            "the catalog `{}` does not exist in this project: create it in Batch, or set create = true in [catalog]",
            c.name
        ),
        Outcome::Unauthorized { .. } => bail!("Batch refused the keys (401): check the REST API key and project key"),
        other => bail!("cannot look up the catalog `{}`: {}", c.name, describe(other)),
    }
}

async fn create(c: &CatalogSettings, client: &Client) -> Result<()> {
    if c.attributes.is_empty() {
        bail!("cannot create the catalog `{}`: a catalog needs at least one field; map an attribute", c.name);
    }
    let body = serde_json::json!({ "name": c.name, "fields": schema(&c.attributes) });
    match client.post(Endpoint::CatalogsCreate, serde_json::to_vec(&body)?).await {
        Outcome::Ok { .. } => {
            tracing::info!(catalog = %c.name, "created");
            Ok(())
        }
        other => bail!("cannot create the catalog `{}`: {}", c.name, describe(&other)),
    }
}

/// Wait until Batch has applied the last edit, and say what the catalog holds.
pub async fn finish(c: &CatalogSettings, client: &Client, token: Option<String>) -> Result<Option<String>> {
    let Some(token) = token else { return Ok(None) };
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let view = client.get(Endpoint::CatalogsView, &[("name", &c.name), ("indexing_token", &token)]).await;
        if let Outcome::Ok { body, .. } = &view {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            if v["indexing_state"] == "APPLIED" {
                return Ok(Some(format!(
                    "catalog `{}` now holds {} items (indexing APPLIED)",
                    c.name,
                    v["nb_items"].as_u64().unwrap_or(0)
                )));
            }
        } else if !matches!(view, Outcome::Retry { .. } | Outcome::Unknown { .. }) {
            bail!("cannot follow the catalog `{}`: {}", c.name, describe(&view));
        }
        if Instant::now() > deadline {
            return Ok(Some(format!(
                "catalog `{}`: Batch has not applied the last edit after 10 minutes (indexing token {token})",
                c.name
            )));
        }
        tokio::time::sleep(poll_interval()).await;
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
