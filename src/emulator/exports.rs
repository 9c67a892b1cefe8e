//! Profile exports: requests that go CREATED → PENDING → RUNNING → SUCCESS (or
//! ERROR) over the configured duration, then become multi-part JSON files built
//! from the stored profiles, served through download links that expire. Parts
//! alternate between one JSON array and one object per line, since Batch does not
//! document which it sends.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use batchport_api::Endpoint;

use super::server::{Call, Shared, accepted, bad_request, error, lock, ok};
use super::value::Val;

#[derive(Default)]
pub(crate) struct Exports {
    list: Vec<Export>,
    files: HashMap<String, Bytes>,
    links: HashMap<String, (String, Instant)>,
    seq: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Attributes,
    Events,
    Reachability,
}

struct Export {
    id: String,
    seq: u64,
    started: Instant,
    created: DateTime<Utc>,
    request: Value,
    kind: Kind,
    attributes: Vec<String>,
    identifiers: Vec<String>,
    from: Option<DateTime<Utc>>,
    /// `(file id, part, size)` once done.
    files: Option<Vec<(String, usize, usize)>>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn status(e: &Export, shared: &Shared, now: Instant) -> &'static str {
    let d = shared.config.export_duration;
    let t = now.saturating_duration_since(e.started);
    if t >= d {
        if shared.config.export_fail { "ERROR" } else { "SUCCESS" }
    } else if t >= d * 2 / 3 {
        "RUNNING"
    } else if t >= d / 3 {
        "PENDING"
    } else {
        "CREATED"
    }
}

fn parse_from(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc())
}

fn strings(v: Option<&Val>) -> Result<Vec<String>, ()> {
    match v {
        None => Ok(Vec::new()),
        Some(Val::Arr(a)) => a.iter().map(|x| x.as_str().map(str::to_string).ok_or(())).collect(),
        Some(_) => Err(()),
    }
}

fn create(call: &Call) -> Response {
    let body: Val = match serde_json::from_slice(call.body) {
        Ok(v @ Val::Obj(_)) => v,
        Ok(_) => return bad_request("the body must be a JSON object"),
        Err(e) => return bad_request(format!("malformed JSON: {e}")),
    };
    let kind = match body.get("export_type").and_then(Val::as_str) {
        Some("ATTRIBUTES") => Kind::Attributes,
        Some("EVENTS") => Kind::Events,
        Some("REACHABILITY") => Kind::Reachability,
        _ => return bad_request("export_type must be ATTRIBUTES, EVENTS or REACHABILITY"),
    };
    let (Ok(attributes), Ok(identifiers)) = (strings(body.get("attributes")), strings(body.get("identifiers"))) else {
        return bad_request("attributes and identifiers must be arrays of strings");
    };
    if let Some(bad) = identifiers.iter().find(|i| !matches!(i.as_str(), "custom_id" | "installation_ids")) {
        return bad_request(format!("unknown identifier `{bad}`"));
    }
    match body.get("filter") {
        None => {}
        Some(f) if f.as_obj().is_some() && f.get("segment").is_none_or(|s| s.as_str().is_some()) => {}
        Some(_) => return bad_request("filter must be {\"segment\": \"CODE\"}"),
    }
    let mut from = None;
    if kind == Kind::Attributes {
        if attributes.is_empty() && identifiers.is_empty() {
            return bad_request("at least one of attributes and identifiers is required");
        }
    } else {
        let Some(t) = body.get("from").and_then(Val::as_str).and_then(parse_from) else {
            return bad_request("from is required (a date or an RFC 3339 time)");
        };
        let age = Utc::now().signed_duration_since(t);
        if age > chrono::Duration::days(90) || age < -chrono::Duration::days(1) {
            return bad_request("from must be within the last 90 days");
        }
        from = Some(t);
    }
    let mut exports = lock(&call.shared.exports);
    exports.seq += 1;
    let seq = exports.seq;
    let id = format!("export_{seq:08}");
    let identifiers = if identifiers.is_empty() { vec!["custom_id".to_string()] } else { identifiers };
    exports.list.push(Export {
        id: id.clone(),
        seq,
        started: Instant::now(),
        created: Utc::now(),
        request: body.to_json(),
        kind,
        attributes,
        identifiers,
        from,
        files: None,
    });
    accepted(json!({ "id": id }))
}

/// The records of one export, from the store as it is now.
fn records(e: &Export, shared: &Shared) -> Vec<Value> {
    let mut out = Vec::new();
    let ids = |id: &str| {
        let mut m = Map::new();
        for i in &e.identifiers {
            match i.as_str() {
                "custom_id" => m.insert("custom_id".into(), json!(id)),
                _ => m.insert("installation_ids".into(), json!([])),
            };
        }
        Value::Object(m)
    };
    shared.store.each_profile(|id, attrs, events| match e.kind {
        Kind::Attributes => {
            let mut picked = Map::new();
            for want in &e.attributes {
                let typed = [format!("date({want})"), format!("url({want})")];
                let found = attrs.get(want).or_else(|| typed.iter().find_map(|k| attrs.get(k)));
                if let Some(v) = found {
                    picked.insert(want.clone(), v.clone());
                }
            }
            out.push(json!({ "identifiers": ids(id), "attributes": picked }));
        }
        Kind::Events => {
            for ev in events {
                let time = ev.get("time").and_then(Value::as_str).and_then(parse_from);
                if time.is_some_and(|t| Some(t) < e.from) {
                    continue;
                }
                out.push(json!({
                    "identifiers": ids(id),
                    "name": ev.get("name"),
                    "time": ev.get("time"),
                    "attributes": ev.get("attributes").cloned().unwrap_or_else(|| json!({})),
                }));
            }
        }
        Kind::Reachability => {
            let reach = |addr: &str, optin: &str| {
                attrs.contains_key(addr) && attrs.get(optin).and_then(Value::as_str) != Some("unsubscribed")
            };
            let keys = ["$email_address", "$email_marketing", "$phone_number", "$sms_marketing"];
            let picked: Map<String, Value> =
                keys.iter().filter_map(|k| attrs.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
            out.push(json!({
                "identifiers": ids(id),
                "attributes": picked,
                "reachability": {
                    "email": reach("$email_address", "$email_marketing"),
                    "sms": reach("$phone_number", "$sms_marketing"),
                },
            }));
        }
    });
    out
}

/// Build the files of a finished export, once.
fn materialize(exports: &mut Exports, index: usize, shared: &Shared) {
    let e = &exports.list[index];
    if e.files.is_some() {
        return;
    }
    let recs = records(e, shared);
    let size = shared.config.export_part_size.max(1);
    let mut files = Vec::new();
    for (i, part) in recs.chunks(size).enumerate() {
        let part_no = i + 1;
        let bytes = if (e.seq as usize + part_no) % 2 == 0 {
            let mut s = String::new();
            for r in part {
                s.push_str(&r.to_string());
                s.push('\n');
            }
            s.into_bytes()
        } else {
            serde_json::to_vec(part).unwrap_or_default()
        };
        let file_id = format!("file_{:08}_{part_no}", e.seq);
        files.push((file_id.clone(), part_no, bytes.len()));
        exports.files.insert(file_id, Bytes::from(bytes));
    }
    exports.list[index].files = Some(files);
}

fn link(exports: &mut Exports, shared: &Shared, file_id: &str) -> String {
    exports.seq += 1;
    let token = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(format!("{file_id}/{}", exports.seq).as_bytes()));
    exports.links.insert(token.clone(), (file_id.to_string(), Instant::now() + shared.config.link_ttl));
    format!("{}/_files/{token}", shared.base_url)
}

fn describe(exports: &mut Exports, index: usize, shared: &Shared, now: Instant) -> Value {
    let st = status(&exports.list[index], shared, now);
    if st == "SUCCESS" {
        materialize(exports, index, shared);
    }
    let files: Vec<Value> = match exports.list[index].files.clone() {
        Some(files) if st == "SUCCESS" => files
            .iter()
            .map(|(id, part, size)| json!({"id": id, "part": part, "size": size, "url": link(exports, shared, id)}))
            .collect(),
        _ => Vec::new(),
    };
    let e = &exports.list[index];
    let done = e.created + chrono::Duration::from_std(shared.config.export_duration).unwrap_or_default();
    let mut v = json!({
        "id": e.id,
        "status": st,
        "scope": "PROFILES",
        "request": e.request,
        "files": files,
        "created": rfc3339(e.created),
    });
    if matches!(st, "SUCCESS" | "ERROR") {
        v["completed"] = json!(rfc3339(done));
    }
    if st == "ERROR" {
        v["error"] = json!("the export failed (emulator configured with export_fail)");
    }
    v
}

pub(crate) fn handle(call: &Call) -> Response {
    let shared = call.shared;
    let now = Instant::now();
    if call.endpoint == Endpoint::ProfilesExport {
        return create(call);
    }
    let mut exports = lock(&shared.exports);
    let q = |k: &str| call.query.get(k).map(String::as_str);
    match call.endpoint {
        Endpoint::ExportsView => {
            let Some(id) = q("id") else {
                return bad_request("id is required");
            };
            match exports.list.iter().position(|e| e.id == id) {
                Some(i) => ok(describe(&mut exports, i, shared, now)),
                None => error(StatusCode::NOT_FOUND, "EXPORT_NOT_FOUND", format!("no export `{id}`")),
            }
        }
        Endpoint::ExportsList => {
            let limit = match q("limit").map(str::parse::<usize>) {
                None => 20,
                Some(Ok(l)) if (1..=100).contains(&l) => l,
                Some(_) => return bad_request("limit must be 1 to 100"),
            };
            // Newest first; `from` is the id to start at.
            let start = match q("from") {
                None | Some("") => 0,
                Some(f) => match exports.list.iter().rev().position(|e| e.id == f) {
                    Some(p) => p,
                    None => return bad_request(format!("unknown from `{f}`")),
                },
            };
            let n = exports.list.len();
            let end = (start + limit).min(n);
            let page: Vec<Value> = (start..end).map(|p| describe(&mut exports, n - 1 - p, shared, now)).collect();
            let next = (end < n).then(|| exports.list[n - 1 - end].id.clone());
            ok(json!({"exports": page, "count": n, "has_more": next.is_some(), "next_from": next}))
        }
        Endpoint::ExportsDownload => {
            let Some(id) = q("id") else {
                return bad_request("id is required");
            };
            if !exports.files.contains_key(id) {
                return error(StatusCode::NOT_FOUND, "FILE_NOT_FOUND", format!("no export file `{id}`"));
            }
            let url = link(&mut exports, shared, id);
            (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, url)]).into_response()
        }
        _ => unreachable!("not an export endpoint"),
    }
}

/// `GET /_files/{token}`: the file behind a download link.
pub(crate) fn file(shared: &Shared, token: &str) -> Response {
    let exports = lock(&shared.exports);
    let Some((file_id, expires)) = exports.links.get(token) else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such download link");
    };
    if Instant::now() >= *expires {
        let status = StatusCode::from_u16(shared.config.expired_link_status).unwrap_or(StatusCode::GONE);
        return error(status, "LINK_EXPIRED", "this download link has expired; ask for a fresh one");
    }
    match exports.files.get(file_id) {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "NOT_FOUND", "file gone"),
    }
}
