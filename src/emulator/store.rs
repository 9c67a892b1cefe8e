//! Profiles as Batch would hold them, merged operation by operation, in shards
//! (one lock each, chosen by a hash of the Custom ID) so concurrent calls rarely
//! wait on one another. Attribute names are interned per shard; each profile also
//! counts how many operations were applied to it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Number, Value};
use xxhash_rust::xxh3::{Xxh3DefaultBuilder, xxh3_64};

use super::value::Val;

const SHARD_BITS: u32 = 6;
pub const SHARDS: usize = 1 << SHARD_BITS;

/// Installation-keyed profiles live beside Custom IDs under this prefix.
const INSTALLATION_PREFIX: char = '\0';

type Fast<K, V> = HashMap<K, V, Xxh3DefaultBuilder>;

/// A stored attribute value (`null` deletes, so there is none).
#[derive(Debug, Clone, PartialEq)]
enum SVal {
    Bool(bool),
    Num(Number),
    Str(Box<str>),
    Arr(Vec<Box<str>>),
}

impl SVal {
    fn to_json(&self) -> Value {
        match self {
            SVal::Bool(b) => Value::Bool(*b),
            SVal::Num(n) => Value::Number(n.clone()),
            SVal::Str(s) => Value::String(s.to_string()),
            SVal::Arr(a) => Value::Array(a.iter().map(|s| Value::String(s.to_string())).collect()),
        }
    }
}

#[derive(Debug, Default)]
struct Profile {
    attrs: Vec<(u32, SVal)>,
    events: Vec<Value>,
    received: u32,
}

#[derive(Default)]
pub struct Shard {
    profiles: Fast<Box<str>, Profile>,
    key_ids: Fast<Box<str>, u32>,
    keys: Vec<Box<str>>,
}

/// What applying one operation changed, for the counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct Applied {
    pub created: bool,
    /// The id has now been received exactly twice.
    pub became_duplicate: bool,
}

fn strings<'v>(a: &'v [Val<'_>]) -> impl Iterator<Item = &'v str> {
    a.iter().filter_map(Val::as_str)
}

impl Shard {
    fn intern(&mut self, key: &str) -> u32 {
        if let Some(&id) = self.key_ids.get(key) {
            return id;
        }
        let id = self.keys.len() as u32;
        self.keys.push(key.into());
        self.key_ids.insert(key.into(), id);
        id
    }

    /// Merge one (valid) operation into the profile `key`.
    pub fn apply(&mut self, key: &str, attrs: &[(Cow<str>, Val)], events: &[Val]) -> Applied {
        let ids: Vec<u32> = attrs.iter().map(|(k, _)| self.intern(k)).collect();
        let mut applied = Applied::default();
        let profile = match self.profiles.get_mut(key) {
            Some(p) => p,
            None => {
                applied.created = true;
                self.profiles.entry(key.into()).or_default()
            }
        };
        for (id, (_, v)) in ids.into_iter().zip(attrs) {
            let slot = profile.attrs.iter().position(|(k, _)| *k == id);
            let new = match v {
                Val::Null => None,
                Val::Bool(b) => Some(SVal::Bool(*b)),
                Val::Num(n) => Some(SVal::Num(n.clone())),
                Val::Str(s) => Some(SVal::Str((**s).into())),
                Val::Arr(a) => Some(SVal::Arr(strings(a).map(Into::into).collect())),
                Val::Obj(edits) => {
                    let mut cur = match slot.map(|i| &profile.attrs[i].1) {
                        Some(SVal::Arr(a)) => a.clone(),
                        _ => Vec::new(),
                    };
                    for (op, list) in edits {
                        let Val::Arr(list) = list else { continue };
                        for s in strings(list) {
                            if op == "$add" && !cur.iter().any(|c| &**c == s) {
                                cur.push(s.into());
                            } else if op == "$remove" {
                                cur.retain(|c| &**c != s);
                            }
                        }
                    }
                    Some(SVal::Arr(cur))
                }
            };
            match (slot, new) {
                (Some(i), Some(n)) => profile.attrs[i].1 = n,
                (Some(i), None) => {
                    profile.attrs.swap_remove(i);
                }
                (None, Some(n)) => profile.attrs.push((id, n)),
                (None, None) => {}
            }
        }
        profile.events.extend(events.iter().map(Val::to_json));
        profile.received += 1;
        applied.became_duplicate = profile.received == 2;
        applied
    }

    fn attributes_json(&self, p: &Profile) -> Map<String, Value> {
        p.attrs
            .iter()
            .map(|(k, v)| (self.keys[*k as usize].to_string(), v.to_json()))
            .collect()
    }
}

/// All profiles.
pub struct Store {
    shards: Box<[Mutex<Shard>]>,
}

/// Which shard holds `key`, and the hash that chose it.
pub fn shard_of(key: &[u8]) -> usize {
    (xxh3_64(key) >> (64 - SHARD_BITS)) as usize
}

/// The store key of an installation-identified profile.
pub fn installation_key(id: &str) -> String {
    format!("{INSTALLATION_PREFIX}{id}")
}

impl Store {
    pub fn new() -> Store {
        Store {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    pub fn shard(&self, i: usize) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn clear(&self) {
        for i in 0..SHARDS {
            *self.shard(i) = Shard::default();
        }
    }

    pub fn profile(&self, custom_id: &str) -> Option<Value> {
        let shard = self.shard(shard_of(custom_id.as_bytes()));
        let p = shard.profiles.get(custom_id)?;
        Some(serde_json::json!({
            "custom_id": custom_id,
            "attributes": shard.attributes_json(p),
            "events": p.events,
        }))
    }

    pub fn received(&self, custom_id: &str) -> u64 {
        let shard = self.shard(shard_of(custom_id.as_bytes()));
        shard
            .profiles
            .get(custom_id)
            .map_or(0, |p| u64::from(p.received))
    }

    pub fn received_all(&self) -> HashMap<String, u64> {
        let mut out = HashMap::new();
        self.each_custom_id(|id, shard, p| {
            let _ = shard;
            out.insert(id.to_string(), u64::from(p.received));
        });
        out
    }

    /// `{"id":count,...}` for every Custom ID, written straight to a string.
    pub fn received_json(&self) -> String {
        let mut out = String::with_capacity(1024);
        out.push('{');
        self.each_custom_id(|id, _, p| {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&Value::String(id.to_string()).to_string());
            out.push(':');
            out.push_str(&p.received.to_string());
        });
        out.push('}');
        out
    }

    fn each_custom_id(&self, mut f: impl FnMut(&str, &Shard, &Profile)) {
        for i in 0..SHARDS {
            let shard = self.shard(i);
            for (id, p) in &shard.profiles {
                if !id.starts_with(INSTALLATION_PREFIX) {
                    f(id, &shard, p);
                }
            }
        }
    }

    /// Every Custom ID profile as `(custom_id, attributes, events)`, for exports.
    pub fn each_profile(&self, mut f: impl FnMut(&str, Map<String, Value>, &[Value])) {
        self.each_custom_id(|id, shard, p| f(id, shard.attributes_json(p), &p.events));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(store: &Store, id: &str, attrs: &str) {
        let v: Val = serde_json::from_str(attrs).unwrap();
        store
            .shard(shard_of(id.as_bytes()))
            .apply(id, v.as_obj().unwrap(), &[]);
    }

    #[test]
    fn merges_like_batch() {
        let s = Store::new();
        apply(&s, "u1", r#"{"a":"x","tags":["p","q"],"old":1}"#);
        apply(
            &s,
            "u1",
            r#"{"a":"y","tags":{"$add":["r","p"]},"old":null}"#,
        );
        apply(
            &s,
            "u1",
            r#"{"tags":{"$remove":["q"]},"list":{"$add":["z"]}}"#,
        );
        let p = s.profile("u1").unwrap();
        assert_eq!(
            p["attributes"],
            serde_json::json!({"a":"y","tags":["p","r"],"list":["z"]})
        );
        assert_eq!(s.received("u1"), 3);
        assert_eq!(s.received("nobody"), 0);
        assert_eq!(s.received_json(), r#"{"u1":3}"#);
    }
}
