//! `/catalogs/items/edit`: items added, updated or removed in named catalogs
//! (created on first edit), checked against the catalog value rules, charged to
//! both catalog buckets (5 requests/s and 1,000 items/s by default).

use std::collections::HashMap;

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::api::rules;

use super::server::{Call, accepted, bad_request, lock, named_body, too_many_requests};
use super::value::Val;

/// Items per catalog (API.md).
const MAX_ITEMS: usize = 2_000_000;
const MAX_ARRAY_ITEMS: usize = 15;
const MAX_ARRAY_ITEM_CHARS: usize = 64;

#[derive(Default)]
pub struct Catalogs {
    map: HashMap<String, HashMap<String, Map<String, Value>>>,
    seq: u64,
}

impl Catalogs {
    pub fn item(&self, catalog: &str, id: &str) -> Option<Value> {
        self.map.get(catalog)?.get(id).map(|m| Value::Object(m.clone()))
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Action {
    Add,
    Update,
    Remove,
}

fn check_attribute(key: &str, v: &Val) -> Result<(), String> {
    let typed = |p: &str| key.strip_prefix(p).and_then(|r| r.strip_suffix(')'));
    let (name, kind) = match (typed("date("), typed("url(")) {
        (Some(n), _) => (n, "date"),
        (_, Some(n)) => (n, "url"),
        _ => (key, "plain"),
    };
    if !rules::is_valid_name(name) {
        return Err(format!("`{key}`: names are [a-z0-9_], at most 30 characters"));
    }
    let ok = match (kind, v) {
        (_, Val::Null) => true,
        ("date", Val::Str(s)) => rules::is_valid_rfc3339(s),
        ("date", Val::Num(n)) => n.is_i64() || n.is_u64(),
        ("url", Val::Str(s)) => rules::is_valid_url(s),
        ("plain", Val::Str(s)) => s.chars().count() <= rules::MAX_CATALOG_STRING_CHARS,
        ("plain", Val::Bool(_) | Val::Num(_)) => true,
        ("plain", Val::Arr(a)) => {
            a.len() <= MAX_ARRAY_ITEMS
                && a.iter()
                    .all(|x| x.as_str().is_some_and(|s| !s.is_empty() && s.chars().count() <= MAX_ARRAY_ITEM_CHARS))
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(format!("`{key}`: value not allowed for a {kind} attribute")) }
}

type Edit = (Action, String, Map<String, Value>);

fn parse_items(body: &Val, max: usize) -> Result<Vec<Edit>, String> {
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
                        check_attribute(k, v).map_err(|e| format!("items[{i}]: {e}"))?;
                    }
                    o.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect()
                }
                _ => return Err(format!("items[{i}]: attributes must be an object")),
            };
            Ok((action, id, attrs))
        })
        .collect()
}

pub fn handle(call: &Call) -> Response {
    let (body, name) = match named_body(call) {
        Ok(b) => b,
        Err(answer) => return answer,
    };
    let edits = match parse_items(&body, call.limits.max_ops) {
        Ok(e) => e,
        Err(m) => return bad_request(m),
    };
    if !call.take(edits.len() as u64) {
        return too_many_requests();
    }
    let mut catalogs = lock(&call.shared.catalogs);
    let catalog = catalogs.map.entry(name).or_default();
    let new_ids = edits.iter().filter(|(a, id, _)| *a != Action::Remove && !catalog.contains_key(id)).count();
    if catalog.len() + new_ids > MAX_ITEMS {
        return bad_request(format!("a catalog holds at most {MAX_ITEMS} items"));
    }
    for (action, id, attrs) in edits {
        match action {
            Action::Add => {
                catalog.insert(id, attrs.into_iter().filter(|(_, v)| !v.is_null()).collect());
            }
            Action::Update => {
                let item = catalog.entry(id).or_default();
                for (k, v) in attrs {
                    if v.is_null() {
                        item.remove(&k);
                    } else {
                        item.insert(k, v);
                    }
                }
            }
            Action::Remove => {
                catalog.remove(&id);
            }
        }
    }
    catalogs.seq += 1;
    accepted(json!({ "indexing_token": format!("catalog_idx_{:08}", catalogs.seq) }))
}
