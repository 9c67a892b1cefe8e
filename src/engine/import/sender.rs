//! The sender of an import's batches: its endpoint, body kind and retry
//! driver, and the column each attribute came from, so that the API's
//! errors name the file's column.

use super::body_kind;
use crate::sending::replace::Replace;
use crate::sending::send::{SendStats, Sender};
use crate::service::Connection;
use batchport_dispatch::Driver;
use batchport_transform::job::{AttrMap, AudienceMode, Job, Mapping, NativeMap};
use std::collections::HashMap;
use std::sync::Arc;

/// The sender of an import's batches over `connection`, its requests driven by `driver`.
pub(super) fn sender(
    connection: &Connection,
    job: &Job,
    hold_unknown: bool,
    stats: Arc<SendStats>,
    driver: Driver,
) -> Sender {
    Sender {
        client: connection.client.clone(),
        driver,
        endpoint: job.api.endpoint,
        kind: body_kind(job),
        hold_unknown,
        columns: Arc::new(attribute_columns(job)),
        stats,
        replace: Replace::new(matches!(&job.mapping, Mapping::Audience(a) if a.mode == AudienceMode::Replace)),
    }
}

/// Batch attribute name → source column, so API errors name the CSV column.
fn attribute_columns(job: &Job) -> HashMap<String, String> {
    let mut m = HashMap::new();
    let (natives, attrs): (&[NativeMap], Vec<&AttrMap>) = match &job.mapping {
        Mapping::Profiles(p) => (&p.native, p.attributes.iter().collect()),
        Mapping::Events(e) => (&e.profile.native, e.profile.attributes.iter().chain(&e.attributes).collect()),
        Mapping::Audience(a) => (&[], a.attributes.iter().collect()),
        Mapping::Catalog(c) => (&[], c.attributes.iter().collect()),
        Mapping::Export(_) => (&[], Vec::new()),
    };
    for n in natives {
        m.insert(n.kind.wire_name().to_string(), n.column.name.clone());
    }
    for a in attrs {
        m.insert(a.wire_name.clone(), a.column.name.clone());
        m.insert(a.name.clone(), a.column.name.clone());
    }
    m
}
