//! Custom-ID audiences: create, update (add/remove, last action wins), replace,
//! remove, view and list, with indexing tokens that stay IN_PROGRESS for the
//! configured delay, then read APPLIED (or REPLACED once a later replace came).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use batchport_api::Endpoint;
use batchport_api::rules;

use super::server::{Call, accepted, bad_request, error, lock, named_body, ok, too_many_requests};
use super::validate;
use super::value::Val;

#[derive(Default)]
pub(crate) struct Audiences {
    map: BTreeMap<String, Audience>,
    seq: u64,
}

struct Audience {
    display_name: String,
    ids: HashMap<String, Option<Value>>,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    tokens: HashMap<String, (u64, Instant)>,
    last_token: String,
    last_replace: u64,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Audience {
    fn state(&self, token: &str, now: Instant) -> Option<&'static str> {
        let (seq, ready) = *self.tokens.get(token)?;
        Some(if seq < self.last_replace {
            "REPLACED"
        } else if now < ready {
            "IN_PROGRESS"
        } else {
            "APPLIED"
        })
    }

    fn view(&self, name: &str, token: Option<&str>, now: Instant) -> Option<Value> {
        let state = self.state(token.unwrap_or(&self.last_token), now)?;
        Some(json!({
            "name": name,
            "display_name": self.display_name,
            "type": "CUSTOM_ID",
            "nb_ids": self.ids.len(),
            "indexing_state": state,
            "created": rfc3339(self.created),
            "updated": rfc3339(self.updated),
        }))
    }
}

impl Audiences {
    pub fn ids(&self, name: &str) -> Option<Vec<String>> {
        let mut ids: Vec<String> = self.map.get(name)?.ids.keys().cloned().collect();
        ids.sort();
        Some(ids)
    }

    /// A new indexing token for `name` (which must exist).
    fn token(&mut self, name: &str, ready: Instant, replace: bool) -> String {
        self.seq += 1;
        let seq = self.seq;
        let token = format!("audience_idx_{seq:08}");
        if let Some(a) = self.map.get_mut(name) {
            a.tokens.insert(token.clone(), (seq, ready));
            a.last_token = token.clone();
            a.updated = Utc::now();
            if replace {
                a.last_replace = seq;
            }
        }
        token
    }
}

fn not_found(name: &str) -> Response {
    error(StatusCode::NOT_FOUND, "AUDIENCE_NOT_FOUND", format!("no audience named `{name}`"))
}

pub(crate) fn handle(call: &Call) -> Response {
    let now = Instant::now();
    if call.endpoint.is_write() && !call.take(1) {
        return too_many_requests();
    }
    match call.endpoint {
        Endpoint::AudiencesView => return view(call, now),
        Endpoint::AudiencesList => return list(call, now),
        _ => {}
    }
    let (body, name) = match named_body(call) {
        Ok(b) => b,
        Err(answer) => return answer,
    };
    let ready = now + call.shared.config.indexing_delay;
    let mut audiences = lock(&call.shared.audiences);
    let token = match call.endpoint {
        Endpoint::AudiencesCreate => {
            if audiences.map.contains_key(&name) {
                return bad_request(format!("audience `{name}` already exists"));
            }
            match body.get("type").and_then(Val::as_str) {
                Some(t) if t.eq_ignore_ascii_case("custom_ids") => {}
                _ => return bad_request("type must be \"custom_ids\""),
            }
            let display_name = match body.get("display_name") {
                None => name.clone(),
                Some(Val::Str(s)) if !s.is_empty() => s.to_string(),
                Some(_) => return bad_request("display_name must be a non-empty string"),
            };
            let t = Utc::now();
            let a = Audience {
                display_name,
                ids: HashMap::new(),
                created: t,
                updated: t,
                tokens: HashMap::new(),
                last_token: String::new(),
                last_replace: 0,
            };
            audiences.map.insert(name.clone(), a);
            audiences.token(&name, ready, false)
        }
        Endpoint::AudiencesRemove => {
            if audiences.map.remove(&name).is_none() {
                return not_found(&name);
            }
            audiences.seq += 1;
            format!("audience_idx_{:08}", audiences.seq)
        }
        Endpoint::AudiencesUpdate | Endpoint::AudiencesReplace => {
            let replace = call.endpoint == Endpoint::AudiencesReplace;
            let ids = match parse_ids(&body, replace, call.limits.max_ops) {
                Ok(ids) => ids,
                Err(m) => return bad_request(m),
            };
            let Some(a) = audiences.map.get_mut(&name) else {
                return not_found(&name);
            };
            if replace {
                a.ids.clear();
            }
            for (add, id, attrs) in ids {
                if add {
                    a.ids.insert(id, attrs);
                } else {
                    a.ids.remove(&id);
                }
            }
            audiences.token(&name, ready, replace)
        }
        _ => unreachable!("audience reads are handled above"),
    };
    accepted(json!({ "indexing_token": token }))
}

type IdChange = (bool, String, Option<Value>);

fn parse_ids(body: &Val, replace: bool, max: usize) -> Result<Vec<IdChange>, String> {
    let Some(Val::Arr(list)) = body.get("ids") else {
        return Err("ids must be an array".into());
    };
    if list.len() > max {
        return Err(format!("{} ids in one call; at most {max} allowed", list.len()));
    }
    list.iter()
        .enumerate()
        .map(|(i, entry)| {
            let id = match entry.get("id").and_then(Val::as_str) {
                Some(id) => {
                    rules::check_custom_id(id).map_err(|r| format!("ids[{i}]: {r}"))?;
                    id.to_string()
                }
                _ => return Err(format!("ids[{i}]: id must be a non-empty string")),
            };
            let add = if replace {
                true
            } else {
                match entry.get("action").and_then(Val::as_str) {
                    Some("add") => true,
                    Some("remove") => false,
                    _ => return Err(format!("ids[{i}]: action must be add or remove")),
                }
            };
            let attrs = match entry.get("attributes") {
                None => None,
                Some(_) if !add => return Err(format!("ids[{i}]: attributes only go with add")),
                Some(v @ Val::Obj(o)) => {
                    if o.len() > rules::MAX_AUDIENCE_ATTRIBUTES {
                        return Err(format!("ids[{i}]: at most 15 attributes"));
                    }
                    for (k, v) in o {
                        validate::attribute(k, v, false).map_err(|e| format!("ids[{i}]: `{k}`: {}", e.reason))?;
                    }
                    Some(v.to_json())
                }
                Some(_) => return Err(format!("ids[{i}]: attributes must be an object")),
            };
            Ok((add, id, attrs))
        })
        .collect()
}

fn view(call: &Call, now: Instant) -> Response {
    let Some(name) = call.query.get("name") else {
        return bad_request("name is required");
    };
    let audiences = lock(&call.shared.audiences);
    let Some(a) = audiences.map.get(name) else {
        return not_found(name);
    };
    let token = call.query.get("indexing_token").map(String::as_str);
    match a.view(name, token, now) {
        Some(v) => ok(v),
        None => error(StatusCode::NOT_FOUND, "INDEXING_TOKEN_NOT_FOUND", "unknown indexing_token"),
    }
}

/// `from` is the name to start at (inclusive); `next_from` the next page's.
fn list(call: &Call, now: Instant) -> Response {
    let limit = match call.query.get("limit").map(|l| l.parse::<usize>()) {
        None => 20,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => return bad_request("limit must be 1 to 100"),
    };
    let from = call.query.get("from").cloned().unwrap_or_default();
    let audiences = lock(&call.shared.audiences);
    let mut rest = audiences.map.range(from..);
    let page: Vec<Value> = rest.by_ref().take(limit).filter_map(|(n, a)| a.view(n, None, now)).collect();
    let next = rest.next().map(|(n, _)| n.clone());
    let body = json!({
        "audiences": page,
        "count": audiences.map.len(),
        "has_more": next.is_some(),
        "next_from": next,
    });
    ok(body)
}
