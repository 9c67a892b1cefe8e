//! Catalog jobs before and after their items: the catalog must exist before
//! items are edited (API.md), so it is looked up, created from the mapping's
//! types when the job says `create = true`, and its schema checked against the
//! mapping before anything is sent; after the last edit, the run follows the
//! indexing token through `/catalogs/view` until Batch has applied it.

use crate::import::lists::{Indexed, follow};
use crate::service::stopped;
use anyhow::{Result, bail};
use batchport_api::Endpoint;
use batchport_api::client::Client;
use batchport_dispatch::{ApiCall, Driver, Refused, Stop};
use batchport_transform::job::{AttrMap, CatalogSettings, Job, ValueType};

/// The schema field type of a mapped attribute.
fn field_type(ty: &ValueType) -> &'static str {
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
fn schema(attrs: &[AttrMap]) -> Vec<serde_json::Value> {
    attrs.iter().map(|a| serde_json::json!({"name": a.name, "type": field_type(&a.ty)})).collect()
}

/// Where the mapping and an existing catalog's fields disagree, in words.
fn mismatches(attrs: &[AttrMap], fields: &[serde_json::Value]) -> Vec<String> {
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

/// One call through the run's driver, under its endpoint's own rates and
/// counted apart from the data's requests.
async fn call(
    job: &Job,
    client: &Client,
    driver: &Driver,
    ep: Endpoint,
    query: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<Vec<u8>, Stop<Refused>> {
    let d = driver.for_endpoint(job.api.version, ep).counted_apart();
    let logic = ApiCall::new(ep);
    let out = match body {
        Some(b) => d.call(&logic, 1, || client.post(ep, b.clone())).await,
        None => d.call(&logic, 1, || client.get(ep, query)).await,
    };
    out.map(|b| b.to_vec())
}

/// Make sure the catalog exists with a schema the mapping fits.
pub(crate) async fn prepare(job: &Job, c: &CatalogSettings, client: &Client, driver: &Driver) -> Result<()> {
    match call(job, client, driver, Endpoint::CatalogsView, &[("name", &c.name)], None).await {
        Ok(body) => {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
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
        Err(Stop::Fail(r)) if r.is_not_found() && c.create && !c.remove => create(job, c, client, driver).await,
        Err(Stop::Fail(r)) if r.is_not_found() => bail!(
            "the catalog `{}` does not exist in this project: create it in Batch, or set create = true in [catalog]",
            c.name
        ),
        Err(Stop::Fail(r)) if r.status == 401 => {
            bail!("Batch refused the keys (401): check the REST API key and project key")
        }
        Err(Stop::Fail(r)) => bail!("cannot look up the catalog `{}`: {r}", c.name),
        Err(stop) => Err(stopped(stop, &format!("cannot look up the catalog `{}`", c.name))),
    }
}

async fn create(job: &Job, c: &CatalogSettings, client: &Client, driver: &Driver) -> Result<()> {
    if c.attributes.is_empty() {
        bail!("cannot create the catalog `{}`: a catalog needs at least one field; map an attribute", c.name);
    }
    let body = serde_json::to_vec(&serde_json::json!({ "name": c.name, "fields": schema(&c.attributes) }))?;
    match call(job, client, driver, Endpoint::CatalogsCreate, &[], Some(body)).await {
        Ok(_) => {
            tracing::info!(catalog = %c.name, "created");
            Ok(())
        }
        Err(Stop::Fail(r)) => bail!("cannot create the catalog `{}`: {r}", c.name),
        Err(stop) => Err(stopped(stop, &format!("cannot create the catalog `{}`", c.name))),
    }
}

/// Wait until Batch has applied the last edit, and say what the catalog holds.
pub(crate) async fn finish(
    job: &Job,
    c: &CatalogSettings,
    client: &Client,
    driver: &Driver,
    token: Option<String>,
) -> Result<Option<String>> {
    let followed = Indexed { what: "catalog", name: &c.name, view: Endpoint::CatalogsView, count: "nb_items" };
    follow(job, client, driver, token, followed).await
}
