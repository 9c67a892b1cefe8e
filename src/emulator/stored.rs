//! What the store keeps per attribute: values with short strings inline (most
//! values then cost no allocation) and the table of interned attribute names.

use std::collections::HashMap;

use serde_json::{Number, Value};
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

type Fast<K, V> = HashMap<K, V, Xxh3DefaultBuilder>;

/// A string stored inline up to 23 bytes, so most values cost no allocation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SmallStr {
    Inline(u8, [u8; 23]),
    Heap(Box<str>),
}

impl SmallStr {
    pub fn new(s: &str) -> SmallStr {
        if s.len() <= 23 {
            let mut buf = [0u8; 23];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            SmallStr::Inline(s.len() as u8, buf)
        } else {
            SmallStr::Heap(s.into())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            // Only ever built from a whole &str, so the bytes are UTF-8.
            SmallStr::Inline(n, buf) => std::str::from_utf8(&buf[..*n as usize]).unwrap_or_default(),
            SmallStr::Heap(s) => s,
        }
    }
}

/// A stored attribute value (`null` deletes, so there is none).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SVal {
    Bool(bool),
    Num(Number),
    Str(SmallStr),
    Arr(Vec<SmallStr>),
}

impl SVal {
    pub fn to_json(&self) -> Value {
        match self {
            SVal::Bool(b) => Value::Bool(*b),
            SVal::Num(n) => Value::Number(n.clone()),
            SVal::Str(s) => Value::String(s.as_str().to_string()),
            SVal::Arr(a) => Value::Array(a.iter().map(|s| Value::String(s.as_str().to_string())).collect()),
        }
    }
}

/// Attribute names, numbered.
#[derive(Default)]
pub(crate) struct Interner {
    pub ids: Fast<Box<str>, u32>,
    pub names: Vec<Box<str>>,
}

impl Interner {
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}
