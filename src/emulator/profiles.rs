//! `/profiles/update` and `/profiles/mass-update`: parse the operations, refuse
//! the bad ones or their bad attributes and events (partial errors on update,
//! silently on mass-update; the rest of each operation is applied), charge the
//! bucket in updates (distinct identifiers per call), then merge into the store
//! shard by shard so each shard is locked once per call. On mass-update the
//! silent-loss fault (`loss.rs`) may leave some accepted operations unapplied.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::Ordering::Relaxed;

use axum::response::Response;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use batchport_api::Endpoint;
use batchport_api::wire::{PartialError, SUCCESS, SUCCESS_WITH_PARTIAL_ERRORS, UpdateAnswer};

use super::server::{Call, accepted, bad_request, error, too_many_requests};
use super::stats::add;
use super::store::{Applied, hash_id, installation_key, shard_of_hash};
use super::validate::{self, EventRules, Ident, OpError};
use super::value::Val;

/// The ids are already hashes: use them as they are.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// What is applied of one operation: its identifier, and the attributes and
/// events that passed (borrowed from the body unless some were dropped).
struct Valid<'v, 'a> {
    hash: u64,
    shard: usize,
    ident: Ident<'v>,
    attrs: Cow<'v, [(Cow<'a, str>, Val<'a>)]>,
    events: Cow<'v, [Val<'a>]>,
}

/// Validate one operation; the identifier is returned even when the rest fails,
/// since the call still counts it as an update. An operation whose shape is
/// wrong is refused whole; a refused attribute or event is dropped with its
/// error and the rest is applied (API.md).
fn check<'v, 'a>(
    op: &'v Val<'a>,
    rules: EventRules,
    refuse: Option<&str>,
    errors: &mut Vec<OpError>,
) -> (Option<Ident<'v>>, Result<Valid<'v, 'a>, OpError>) {
    let Some(fields) = op.as_obj() else {
        return (None, Err(OpError::new("operation", "an operation must be an object")));
    };
    let ident = match validate::identifiers(op.get("identifiers")) {
        Ok(i) => i,
        Err(e) => return (None, Err(e)),
    };
    let rest = (|| {
        let mut attrs = Cow::Borrowed(&[][..]);
        let mut events = Cow::Borrowed(&[][..]);
        let mut dropped = Vec::new();
        for (k, v) in fields {
            match &**k {
                "identifiers" => {}
                "attributes" => {
                    let (mut kept, errs) = validate::attributes(v)?;
                    dropped.extend(errs);
                    // Test hook: refuse one attribute by name, as a stricter server would.
                    if let Some(name) = refuse
                        && kept.iter().any(|(k, _)| k == name)
                    {
                        kept.to_mut().retain(|(k, _)| k != name);
                        dropped.push(OpError {
                            category: "attributes",
                            reason: "refused by the emulator's refuse-attribute hook".into(),
                            attribute: Some(name.to_string()),
                        });
                    }
                    attrs = kept;
                }
                "events" => {
                    let (kept, errs) = validate::events(v, rules)?;
                    events = kept;
                    dropped.extend(errs);
                }
                other => {
                    return Err(OpError::new("operation", format!("unknown field `{other}`")));
                }
            }
        }
        errors.extend(dropped);
        Ok(Valid { hash: 0, shard: 0, ident, attrs, events })
    })();
    (Some(ident), rest)
}

pub(crate) fn handle(call: &Call) -> Response {
    let mass = call.endpoint == Endpoint::ProfilesMassUpdate;
    let ops: Vec<Val> = match serde_json::from_slice(call.body) {
        Ok(ops) => ops,
        Err(e) => {
            return bad_request(format!("malformed JSON, expected an array of operations: {e}"));
        }
    };
    if ops.is_empty() {
        return bad_request("the request holds no operation");
    }
    if ops.len() > call.limits.max_ops {
        let m = format!("{} operations in one call; at most {} allowed", ops.len(), call.limits.max_ops);
        return error(axum::http::StatusCode::BAD_REQUEST, "TOO_MANY_OPERATIONS", m);
    }
    let config = &call.shared.config;
    let rules = EventRules {
        max_age: config.strict_event_time.then_some(config.event_max_age),
        attributes: config.strict_event_attributes,
    };
    let mut distinct: HashSet<u64, BuildHasherDefault<Identity>> =
        HashSet::with_capacity_and_hasher(ops.len(), Default::default());
    let mut valid = Vec::with_capacity(ops.len());
    let mut errors = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let mut dropped = Vec::new();
        let (ident, checked) = check(op, rules, config.faults.refuse_attribute.as_deref(), &mut dropped);
        let hash = match ident {
            Some(Ident::Custom(id)) => Some(hash_id(id.as_bytes())),
            Some(Ident::Installation(id)) => Some(xxh3_64_with_seed(id.as_bytes(), 1)),
            None => None,
        };
        if let Some(h) = hash {
            distinct.insert(h);
        }
        // Test hook: refuse marked Custom IDs, as a stricter server would.
        let marked = match (&call.shared.config.faults.refuse_marker, ident) {
            (Some(m), Some(Ident::Custom(id))) => id.contains(m.as_str()),
            _ => false,
        };
        if marked && mass {
            return bad_request(format!("operation {i} refused (refuse marker)"));
        }
        let checked =
            if marked { Err(OpError::new("test", "refused by the emulator's refuse marker")) } else { checked };
        let partial = |e: OpError| PartialError {
            category: e.category.into(),
            bulk_index: i,
            reason: e.reason,
            attribute: e.attribute,
        };
        errors.extend(dropped.into_iter().map(partial));
        match checked {
            Ok(mut v) => {
                v.hash = match v.ident {
                    Ident::Custom(_) => hash.unwrap_or(0),
                    Ident::Installation(id) => hash_id(installation_key(id).as_bytes()),
                };
                v.shard = shard_of_hash(v.hash);
                valid.push(v);
            }
            Err(e) => errors.push(partial(e)),
        }
    }
    let updates = distinct.len() as u64;
    if !call.take(updates) {
        return too_many_requests();
    }
    let counters = &call.shared.counters;
    add(&counters.updates, updates);
    counters.max_ops_in_call.fetch_max(ops.len() as u64, Relaxed);
    add(&counters.partial_errors, errors.len() as u64);
    let valid = if mass { lose_some(call, valid) } else { valid };
    apply(call, valid);

    let answer = if errors.is_empty() || mass {
        UpdateAnswer { code: SUCCESS.into(), errors: Vec::new() }
    } else {
        UpdateAnswer { code: SUCCESS_WITH_PARTIAL_ERRORS.into(), errors }
    };
    accepted(serde_json::to_value(answer).unwrap_or_default())
}

/// The silent-loss fault (`loss.rs`): operations of the targeted Custom IDs
/// are accepted with the rest of the call, then never applied.
fn lose_some<'v, 'a>(call: &Call, mut valid: Vec<Valid<'v, 'a>>) -> Vec<Valid<'v, 'a>> {
    let (faults, losses) = (&call.shared.config.faults, &call.shared.losses);
    if faults.drop_rate > 0.0 || !faults.drop_ids.is_empty() {
        valid.retain(|v| !matches!(v.ident, Ident::Custom(id) if losses.lose(faults, id)));
    }
    valid
}

/// Merge the valid operations, in request order within each profile.
fn apply(call: &Call, valid: Vec<Valid>) {
    // Sort positions, not the operations: stable, so per-profile order holds.
    let mut order: Vec<u32> = (0..valid.len() as u32).collect();
    order.sort_by_key(|&i| valid[i as usize].shard);
    let store = &call.shared.store;
    let ids = store.intern(order.iter().map(|&i| &valid[i as usize].attrs[..]));
    let (mut created, mut dups, mut at) = (0, 0, 0);
    let applied = valid.len() as u64;
    let shard_at = |i: &u32| valid[*i as usize].shard;
    for group in order.chunk_by(|a, b| shard_at(a) == shard_at(b)) {
        let mut shard = store.shard(shard_at(&group[0]));
        for v in group.iter().map(|&i| &valid[i as usize]) {
            let names = &ids[at..at + v.attrs.len()];
            at += v.attrs.len();
            let Applied { created: c, became_duplicate: d } = match v.ident {
                Ident::Custom(id) => shard.apply(v.hash, id, &v.attrs, names, &v.events),
                Ident::Installation(id) => shard.apply(v.hash, &installation_key(id), &v.attrs, names, &v.events),
            };
            created += u64::from(c);
            dups += u64::from(d);
        }
    }
    let counters = &call.shared.counters;
    add(&counters.operations, applied);
    add(&counters.profiles, created);
    add(&counters.duplicate_ids, dups);
}
