//! Catalogs: `/catalogs/create` (a typed schema, at most 5 catalogs of at most
//! 25 fields), `/view` (indexing state by token), `/list`, `/remove`, and
//! `/catalogs/items/edit` (items added, updated or removed in a catalog that
//! must exist, each attribute checked against the value rules and the schema),
//! charged to both catalog buckets (5 requests/s and 1,000 items/s by default).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use batchport_api::check::{self, KeyKind};
use batchport_api::{Endpoint, rules};

use super::server::{Call, accepted, bad_request, error, lock, named_body, ok, too_many_requests};
use super::value::Val;

/// The field types of a catalog schema (API.md).
const FIELD_TYPES: [&str; 7] = ["array", "bool", "date", "float", "integer", "string", "url"];

#[derive(Default)]
pub(crate) struct Catalogs {
    map: BTreeMap<String, Catalog>,
    seq: u64,
}

struct Catalog {
    fields: Vec<(String, String)>,
    items: HashMap<String, Map<String, Value>>,
    tokens: HashMap<String, Instant>,
    last_token: String,
}

impl Catalog {
    fn view(&self, name: &str, state: &str) -> Value {
        let fields: Vec<Value> = self.fields.iter().map(|(n, t)| json!({"name": n, "type": t})).collect();
        json!({"name": name, "fields": fields, "nb_items": self.items.len(), "indexing_state": state})
    }
}

impl Catalogs {
    pub fn item(&self, catalog: &str, id: &str) -> Option<Value> {
        self.map.get(catalog)?.items.get(id).map(|m| Value::Object(m.clone()))
    }

    pub fn len(&self, catalog: &str) -> Option<usize> {
        self.map.get(catalog).map(|c| c.items.len())
    }

    fn token(&mut self, name: &str, ready: Instant) -> String {
        self.seq += 1;
        let token = format!("catalog_idx_{:08}", self.seq);
        if let Some(c) = self.map.get_mut(name) {
            c.tokens.insert(token.clone(), ready);
            c.last_token = token.clone();
        }
        token
    }
}

fn not_found(name: &str) -> Response {
    let m = format!("no catalog named `{name}`: create it first with /catalogs/create");
    error(StatusCode::NOT_FOUND, "CATALOG_NOT_FOUND", m)
}

#[derive(Clone, Copy, PartialEq)]
enum Action {
    Add,
    Update,
    Remove,
}

/// An item attribute against the schema: `date(x)` goes to a date field,
/// `url(x)` to a url field, a plain key to a field of the value's type.
fn fits_schema(key: &str, v: &Val, fields: &[(String, String)]) -> Result<(), String> {
    let (name, want): (&str, &[&str]) = match check::key_kind_with(key, check::is_valid_catalog_name) {
        Some(KeyKind::Date) => (&key[5..key.len() - 1], &["date"]),
        Some(KeyKind::Url) => (&key[4..key.len() - 1], &["url"]),
        _ => (
            key,
            match v {
                Val::Null => &["array", "bool", "float", "integer", "string"],
                Val::Bool(_) => &["bool"],
                Val::Num(n) if n.is_f64() => &["float"],
                Val::Num(_) => &["integer", "float"],
                Val::Str(_) => &["string"],
                Val::Arr(_) => &["array"],
                Val::Obj(_) => &[],
            },
        ),
    };
    match fields.iter().find(|(n, _)| n == name) {
        None => Err(format!("`{key}`: the catalog has no field `{name}`")),
        Some((_, t)) if want.contains(&t.as_str()) => Ok(()),
        Some((_, t)) => Err(format!("`{key}`: the field `{name}` is of type {t}")),
    }
}

type Edit = (Action, String, Map<String, Value>);

fn parse_items(body: &Val, max: usize, fields: &[(String, String)]) -> Result<Vec<Edit>, String> {
    let Some(Val::Arr(items)) = body.get("items") else {
        return Err("items must be an array".into());
    };
    if items.is_empty() || items.len() > max {
        return Err(format!("{} items in one call; 1 to {max} allowed", items.len()));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let id = match item.get("id").and_then(Val::as_str) {
                Some(id) if !id.trim().is_empty() => id.to_string(),
                _ => return Err(format!("items[{i}]: id must be a non-empty string")),
            };
            let action = match item.get("action").and_then(Val::as_str) {
                Some("add") => Action::Add,
                Some("update") => Action::Update,
                Some("remove" | "delete") => Action::Remove,
                _ => return Err(format!("items[{i}]: action must be add, update or remove")),
            };
            let attrs = match item.get("attributes") {
                None if action == Action::Remove => Map::new(),
                Some(Val::Obj(o)) => {
                    for (k, v) in o {
                        check::catalog_attribute(k, v)
                            .and_then(|()| fits_schema(k, v, fields))
                            .map_err(|e| format!("items[{i}]: {e}"))?;
                    }
                    o.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect()
                }
                _ => return Err(format!("items[{i}]: attributes must be an object")),
            };
            Ok((action, id, attrs))
        })
        .collect()
}

pub(crate) fn handle(call: &Call) -> Response {
    match call.endpoint {
        Endpoint::CatalogsView => return view(call),
        Endpoint::CatalogsList => return list(call),
        _ => {}
    }
    let (body, name) = match named_body(call) {
        Ok(b) => b,
        Err(answer) => return answer,
    };
    match call.endpoint {
        Endpoint::CatalogsCreate => create(call, &body, name),
        Endpoint::CatalogsRemove => match lock(&call.shared.catalogs).map.remove(&name) {
            Some(_) => accepted(json!({ "name": name })),
            None => not_found(&name),
        },
        _ => edit(call, &body, name),
    }
}

fn create(call: &Call, body: &Val, name: String) -> Response {
    let Some(Val::Arr(list)) = body.get("fields") else {
        return bad_request("fields must be an array of {\"name\", \"type\"}");
    };
    if list.is_empty() || list.len() > rules::MAX_CATALOG_FIELDS {
        return bad_request(format!("a catalog has 1 to {} fields, not {}", rules::MAX_CATALOG_FIELDS, list.len()));
    }
    let mut fields = Vec::with_capacity(list.len());
    for (i, f) in list.iter().enumerate() {
        let (Some(n), Some(t)) = (f.get("name").and_then(Val::as_str), f.get("type").and_then(Val::as_str)) else {
            return bad_request(format!("fields[{i}]: name and type are required strings"));
        };
        if !check::is_valid_catalog_name(n) {
            return bad_request(format!("fields[{i}]: names are [a-z0-9_], 1 to 250 characters"));
        }
        if !FIELD_TYPES.contains(&t) {
            return bad_request(format!("fields[{i}]: type must be one of {}", FIELD_TYPES.join(", ")));
        }
        if fields.iter().any(|(m, _): &(String, String)| m == n) {
            return bad_request(format!("fields[{i}]: `{n}` is given twice"));
        }
        fields.push((n.to_string(), t.to_string()));
    }
    let mut catalogs = lock(&call.shared.catalogs);
    if catalogs.map.contains_key(&name) {
        return bad_request(format!("catalog `{name}` already exists"));
    }
    if catalogs.map.len() >= rules::MAX_CATALOGS {
        return bad_request(format!("a project holds at most {} catalogs", rules::MAX_CATALOGS));
    }
    let catalog = Catalog { fields, items: HashMap::new(), tokens: HashMap::new(), last_token: String::new() };
    catalogs.map.insert(name.clone(), catalog);
    let token = catalogs.token(&name, Instant::now());
    (StatusCode::CREATED, axum::Json(json!({ "name": name, "indexing_token": token }))).into_response()
}

fn view(call: &Call) -> Response {
    let Some(name) = call.query.get("name") else { return bad_request("name is required") };
    let catalogs = lock(&call.shared.catalogs);
    let Some(c) = catalogs.map.get(name) else { return not_found(name) };
    let token = call.query.get("indexing_token").unwrap_or(&c.last_token);
    let Some(ready) = c.tokens.get(token) else {
        return bad_request(format!("unknown indexing token `{token}` for catalog `{name}`"));
    };
    let state = if Instant::now() < *ready { "IN_PROGRESS" } else { "APPLIED" };
    ok(c.view(name, state))
}

fn list(call: &Call) -> Response {
    let catalogs = lock(&call.shared.catalogs);
    let now = Instant::now();
    let all: Vec<Value> = catalogs
        .map
        .iter()
        .map(|(n, c)| {
            let busy = c.tokens.get(&c.last_token).is_some_and(|r| now < *r);
            c.view(n, if busy { "IN_PROGRESS" } else { "APPLIED" })
        })
        .collect();
    ok(json!({ "catalogs": all, "count": all.len() }))
}

fn edit(call: &Call, body: &Val, name: String) -> Response {
    let fields = match lock(&call.shared.catalogs).map.get(&name) {
        Some(c) => c.fields.clone(),
        None => return not_found(&name),
    };
    let edits = match parse_items(body, call.limits.max_ops, &fields) {
        Ok(e) => e,
        Err(m) => return bad_request(m),
    };
    if !call.take(edits.len() as u64) {
        return too_many_requests();
    }
    let ready = Instant::now() + call.shared.config.indexing_delay;
    let mut catalogs = lock(&call.shared.catalogs);
    let Some(catalog) = catalogs.map.get_mut(&name) else { return not_found(&name) };
    let items = &mut catalog.items;
    let new_ids = edits.iter().filter(|(a, id, _)| *a != Action::Remove && !items.contains_key(id)).count();
    if items.len() + new_ids > rules::MAX_CATALOG_ITEMS {
        return bad_request(format!("a catalog holds at most {} items", rules::MAX_CATALOG_ITEMS));
    }
    for (action, id, attrs) in edits {
        match action {
            Action::Add => {
                items.insert(id, attrs.into_iter().filter(|(_, v)| !v.is_null()).collect());
            }
            Action::Update => {
                let item = items.entry(id).or_default();
                for (k, v) in attrs {
                    if v.is_null() {
                        item.remove(&k);
                    } else {
                        item.insert(k, v);
                    }
                }
            }
            Action::Remove => {
                items.remove(&id);
            }
        }
    }
    let token = catalogs.token(&name, ready);
    accepted(json!({ "indexing_token": token }))
}
