//! Profiles as Batch would hold them, merged operation by operation, in shards
//! (one lock each, chosen by a hash of the Custom ID) so concurrent calls rarely
//! wait on one another. Attribute names are interned once for the whole store
//! (a call's operations usually repeat one key list, so the previous operation's
//! keys serve as a hint); short strings are stored inline; each profile also
//! counts how many operations were applied to it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use serde_json::{Map, Value};
use xxhash_rust::xxh3::{Xxh3DefaultBuilder, xxh3_64};

use super::stored::{Interner, SVal, SmallStr};
use super::value::Val;

const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;

/// Installation-keyed profiles live beside Custom IDs under this prefix.
const INSTALLATION_PREFIX: char = '\0';

type Fast<K, V> = HashMap<K, V, Xxh3DefaultBuilder>;

#[derive(Debug, Default)]
struct Profile {
    id: Box<str>,
    attrs: Vec<(u32, SVal)>,
    events: Vec<Value>,
    received: u32,
}

/// Profiles are keyed by the 64-bit hash the caller already computed; this
/// spreads it (the shard took its top bits) for the table.
#[derive(Default)]
struct Mix(u64);

impl std::hash::Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64(bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.rotate_left(SHARD_BITS + 7).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[derive(Default)]
pub(crate) struct Shard {
    profiles: HashMap<u64, Profile, std::hash::BuildHasherDefault<Mix>>,
    /// Ids whose hash another id already holds (practically never).
    collided: Fast<Box<str>, Profile>,
}

/// What applying one operation changed, for the counters.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Applied {
    pub created: bool,
    /// The id has now been received exactly twice.
    pub became_duplicate: bool,
}

fn strings<'v>(a: &'v [Val<'_>]) -> impl Iterator<Item = &'v str> {
    a.iter().filter_map(Val::as_str)
}

impl Shard {
    fn get(&self, key: &str) -> Option<&Profile> {
        match self.profiles.get(&hash_id(key.as_bytes())) {
            Some(p) if &*p.id == key => Some(p),
            _ => self.collided.get(key),
        }
    }

    /// The profile `key` (of hash `hash`), created if new.
    fn slot(&mut self, hash: u64, key: &str) -> (&mut Profile, bool) {
        use std::collections::hash_map::Entry;
        let new = || Profile { id: key.into(), ..Profile::default() };
        match self.profiles.entry(hash) {
            Entry::Occupied(e) if &*e.get().id == key => (e.into_mut(), false),
            Entry::Occupied(_) => {
                let created = !self.collided.contains_key(key);
                (self.collided.entry(key.into()).or_insert_with(new), created)
            }
            Entry::Vacant(v) => (v.insert(new()), true),
        }
    }

    fn all(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values().chain(self.collided.values())
    }

    /// Merge one (valid) operation into the profile `key`.
    /// `ids` are the interned names of `attrs`, in order.
    pub fn apply(&mut self, hash: u64, key: &str, attrs: &[(Cow<str>, Val)], ids: &[u32], events: &[Val]) -> Applied {
        let mut applied = Applied::default();
        let (profile, created) = self.slot(hash, key);
        applied.created = created;
        for (j, (&id, (_, v))) in ids.iter().zip(attrs).enumerate() {
            // Profiles usually get their keys in the same order every time.
            let slot = match profile.attrs.get(j) {
                Some((k, _)) if *k == id => Some(j),
                _ => profile.attrs.iter().position(|(k, _)| *k == id),
            };
            let new = match v {
                Val::Null => None,
                Val::Bool(b) => Some(SVal::Bool(*b)),
                Val::Num(n) => Some(SVal::Num(n.clone())),
                Val::Str(s) => Some(SVal::Str(SmallStr::new(s))),
                Val::Arr(a) => Some(SVal::Arr(strings(a).map(SmallStr::new).collect())),
                Val::Obj(edits) => {
                    let mut cur = match slot.map(|i| &profile.attrs[i].1) {
                        Some(SVal::Arr(a)) => a.clone(),
                        _ => Vec::new(),
                    };
                    for (op, list) in edits {
                        let Val::Arr(list) = list else { continue };
                        for s in strings(list) {
                            if op == "$add" && !cur.iter().any(|c| c.as_str() == s) {
                                cur.push(SmallStr::new(s));
                            } else if op == "$remove" {
                                cur.retain(|c| c.as_str() != s);
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
}

fn attributes_json(names: &Interner, p: &Profile) -> Map<String, Value> {
    p.attrs.iter().map(|(k, v)| (names.name(*k).to_string(), v.to_json())).collect()
}

/// All profiles.
pub(crate) struct Store {
    shards: Box<[Mutex<Shard>]>,
    names: RwLock<Interner>,
}

/// The hash a profile is stored under.
pub(crate) fn hash_id(key: &[u8]) -> u64 {
    xxh3_64(key)
}

/// Which shard holds the profile of hash `hash`.
pub(crate) fn shard_of_hash(hash: u64) -> usize {
    (hash >> (64 - SHARD_BITS)) as usize
}

/// Which shard holds `key`.
fn shard_of(key: &[u8]) -> usize {
    shard_of_hash(hash_id(key))
}

/// The store key of an installation-identified profile.
pub(crate) fn installation_key(id: &str) -> String {
    format!("{INSTALLATION_PREFIX}{id}")
}

impl Store {
    pub fn new() -> Store {
        Store { shards: (0..SHARDS).map(|_| Mutex::default()).collect(), names: RwLock::default() }
    }

    fn names(&self) -> std::sync::RwLockReadGuard<'_, Interner> {
        self.names.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The interned ids of every operation's attribute names, flat, in order.
    pub fn intern<'v, 'a: 'v>(&self, ops: impl Iterator<Item = &'v [(Cow<'a, str>, Val<'a>)]>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut prev: &[(Cow<str>, Val)] = &[];
        let mut prev_start = 0;
        let mut missing = Vec::new();
        let names = self.names();
        for attrs in ops {
            let start = out.len();
            for (j, (k, _)) in attrs.iter().enumerate() {
                let id = match prev.get(j) {
                    Some((pk, _)) if pk == k => out[prev_start + j],
                    _ => names.ids.get(&**k).copied().unwrap_or(u32::MAX),
                };
                if id == u32::MAX {
                    missing.push((out.len(), k.to_string()));
                }
                out.push(id);
            }
            (prev, prev_start) = (attrs, start);
        }
        drop(names);
        if !missing.is_empty() {
            let mut names = self.names.write().unwrap_or_else(|e| e.into_inner());
            for (at, k) in missing {
                let next = names.names.len() as u32;
                let id = *names.ids.entry(k.clone().into()).or_insert(next);
                if id == next {
                    names.names.push(k.into());
                }
                out[at] = id;
            }
        }
        out
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
        let p = shard.get(custom_id)?;
        Some(serde_json::json!({
            "custom_id": custom_id,
            "attributes": attributes_json(&self.names(), p),
            "events": p.events,
        }))
    }

    pub fn received(&self, custom_id: &str) -> u64 {
        let shard = self.shard(shard_of(custom_id.as_bytes()));
        shard.get(custom_id).map_or(0, |p| u64::from(p.received))
    }

    pub fn received_all(&self) -> HashMap<String, u64> {
        let mut out = HashMap::new();
        self.each_custom_id(|id, _, p| {
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
            for p in shard.all() {
                if !p.id.starts_with(INSTALLATION_PREFIX) {
                    f(&p.id, &shard, p);
                }
            }
        }
    }

    /// Every Custom ID profile as `(custom_id, attributes, events)`, for exports.
    pub fn each_profile(&self, mut f: impl FnMut(&str, Map<String, Value>, &[Value])) {
        let names = self.names();
        self.each_custom_id(|id, _, p| f(id, attributes_json(&names, p), &p.events));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(store: &Store, id: &str, attrs: &str) {
        let v: Val = serde_json::from_str(attrs).unwrap();
        let ids = store.intern(std::iter::once(v.as_obj().unwrap()));
        let hash = hash_id(id.as_bytes());
        store.shard(shard_of_hash(hash)).apply(hash, id, v.as_obj().unwrap(), &ids, &[]);
    }

    #[test]
    fn merges_like_batch() {
        let s = Store::new();
        apply(&s, "u1", r#"{"a":"x","tags":["p","q"],"old":1}"#);
        apply(&s, "u1", r#"{"a":"y","tags":{"$add":["r","p"]},"old":null}"#);
        apply(&s, "u1", r#"{"tags":{"$remove":["q"]},"list":{"$add":["z"]}}"#);
        let p = s.profile("u1").unwrap();
        assert_eq!(p["attributes"], serde_json::json!({"a":"y","tags":["p","r"],"list":["z"]}));
        assert_eq!(s.received("u1"), 3);
        assert_eq!(s.received("nobody"), 0);
        assert_eq!(s.received_json(), r#"{"u1":3}"#);
    }

    #[test]
    fn ids_sharing_a_hash_stay_apart() {
        let mut shard = Shard::default();
        let v: Val = serde_json::from_str(r#"{"a":1}"#).unwrap();
        let attrs = v.as_obj().unwrap();
        assert!(shard.apply(7, "x", attrs, &[0], &[]).created);
        assert!(shard.apply(7, "y", attrs, &[0], &[]).created);
        assert!(shard.apply(7, "y", attrs, &[0], &[]).became_duplicate);
        let mut seen: Vec<(String, u32)> = shard.all().map(|p| (p.id.to_string(), p.received)).collect();
        seen.sort();
        assert_eq!(seen, [("x".to_string(), 1), ("y".to_string(), 2)]);
    }
}
