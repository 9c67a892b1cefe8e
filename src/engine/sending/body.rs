//! Request bodies per endpoint, built once per batch from its operations; a
//! refused body is split into sub-bodies by element ranges.

use batchport_transform::{Op, json};
use std::collections::HashMap;

/// What the operations of a job become on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// `/profiles/*update`: one operation per row.
    Profiles,
    /// `/profiles/*update`: rows of one Custom ID grouped into one operation.
    Events,
    /// `/audiences/update` (`action` add or remove) and `/audiences/replace` (no action).
    Audience { name: String, action: Option<&'static str> },
    /// `/catalogs/items/edit`: items added, or removed (`remove`).
    Catalog { name: String, remove: bool },
}

/// A body, with where each element of its array lies and which operations
/// (indexes into the batch) it carries: `bulk_index` in partial errors points
/// into `elements`, and a refused body is split by element ranges without
/// going back to the operations, whose attributes are dropped once built.
pub(crate) struct Body {
    /// Shared, so that each attempt sends it without a copy.
    pub(crate) bytes: batchport_api::client::Bytes,
    pub(crate) elements: Vec<std::ops::Range<usize>>,
    pub(crate) members: Vec<Vec<usize>>,
}

impl Body {
    /// A body with only `elems` of the elements, same framing.
    pub(crate) fn subset(&self, elems: std::ops::Range<usize>) -> Vec<u8> {
        let (Some(first), Some(last)) = (self.elements.first(), self.elements.last()) else {
            return self.bytes.to_vec();
        };
        let (prefix, suffix) = (&self.bytes[..first.start], &self.bytes[last.end..]);
        let mut out = Vec::with_capacity(
            prefix.len() + suffix.len() + self.elements[elems.clone()].iter().map(|r| r.len() + 1).sum::<usize>(),
        );
        out.extend_from_slice(prefix);
        for (i, r) in self.elements[elems].iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&self.bytes[r.clone()]);
        }
        out.extend_from_slice(suffix);
        out
    }
}

pub(crate) fn build(kind: &BodyKind, ops: &[Op]) -> Body {
    let mut bytes = Vec::with_capacity(ops.iter().map(|o| o.attrs.len() + o.key.len() + 48).sum::<usize>() + 64);
    let mut elements = Vec::with_capacity(ops.len());
    let one_each = |n: usize| (0..n).map(|i| vec![i]).collect();
    match kind {
        BodyKind::Profiles => {
            bytes.push(b'[');
            for (i, op) in ops.iter().enumerate() {
                if i > 0 {
                    bytes.push(b',');
                }
                let start = bytes.len();
                bytes.extend_from_slice(br#"{"identifiers":{"custom_id":"#);
                json::string(&mut bytes, &op.key);
                bytes.extend_from_slice(br#"},"attributes":"#);
                bytes.extend_from_slice(&op.attrs);
                bytes.push(b'}');
                elements.push(start..bytes.len());
            }
            bytes.push(b']');
            Body { bytes: bytes.into(), elements, members: one_each(ops.len()) }
        }
        BodyKind::Events => events(ops, bytes),
        BodyKind::Audience { name, action } => {
            bytes.extend_from_slice(br#"{"name":"#);
            json::string(&mut bytes, name);
            bytes.extend_from_slice(br#","ids":["#);
            for (i, op) in ops.iter().enumerate() {
                if i > 0 {
                    bytes.push(b',');
                }
                let start = bytes.len();
                let mut o = json::Object::open(&mut bytes);
                if let Some(a) = action {
                    json::string(o.key("action"), a);
                }
                json::string(o.key("id"), &op.key);
                if op.attrs.len() > 2 && *action != Some("remove") {
                    o.key("attributes").extend_from_slice(&op.attrs);
                }
                o.close();
                elements.push(start..bytes.len());
            }
            bytes.extend_from_slice(b"]}");
            Body { bytes: bytes.into(), elements, members: one_each(ops.len()) }
        }
        BodyKind::Catalog { name, remove } => {
            bytes.extend_from_slice(br#"{"name":"#);
            json::string(&mut bytes, name);
            bytes.extend_from_slice(br#","items":["#);
            for (i, op) in ops.iter().enumerate() {
                if i > 0 {
                    bytes.push(b',');
                }
                let start = bytes.len();
                let mut o = json::Object::open(&mut bytes);
                json::string(o.key("id"), &op.key);
                if *remove {
                    json::string(o.key("action"), "remove");
                } else {
                    json::string(o.key("action"), "add");
                    o.key("attributes").extend_from_slice(&op.attrs);
                }
                o.close();
                elements.push(start..bytes.len());
            }
            bytes.extend_from_slice(b"]}");
            Body { bytes: bytes.into(), elements, members: one_each(ops.len()) }
        }
    }
}

/// One operation per Custom ID, in order of first appearance, carrying its
/// events in row order and its attributes merged (a later row wins).
fn events(ops: &[Op], mut bytes: Vec<u8>) -> Body {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let g = *index.entry(op.key.as_str()).or_insert_with(|| {
            members.push(Vec::new());
            members.len() - 1
        });
        members[g].push(i);
    }
    let mut elements = Vec::with_capacity(members.len());
    bytes.push(b'[');
    for (g, rows) in members.iter().enumerate() {
        if g > 0 {
            bytes.push(b',');
        }
        let start = bytes.len();
        let first = &ops[rows[0]];
        bytes.extend_from_slice(br#"{"identifiers":{"custom_id":"#);
        json::string(&mut bytes, &first.key);
        bytes.push(b'}');
        let with_attrs: Vec<&Op> = rows.iter().map(|&i| &ops[i]).filter(|o| o.attrs.len() > 2).collect();
        match with_attrs.as_slice() {
            [] => {}
            [one] => {
                bytes.extend_from_slice(br#","attributes":"#);
                bytes.extend_from_slice(&one.attrs);
            }
            many => {
                let mut merged = serde_json::Map::new();
                for o in many {
                    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(&o.attrs) {
                        merged.extend(m);
                    }
                }
                bytes.extend_from_slice(br#","attributes":"#);
                let _ = serde_json::to_writer(&mut bytes, &merged);
            }
        }
        // A row whose event Batch already has carries only its attributes.
        if rows.iter().any(|&i| ops[i].event.is_some()) {
            bytes.extend_from_slice(br#","events":["#);
            let mut first_event = true;
            for &i in rows {
                if let Some(e) = &ops[i].event {
                    if !first_event {
                        bytes.push(b',');
                    }
                    first_event = false;
                    bytes.extend_from_slice(e);
                }
            }
            bytes.push(b']');
        }
        bytes.push(b'}');
        elements.push(start..bytes.len());
    }
    bytes.push(b']');
    Body { bytes: bytes.into(), elements, members }
}

#[cfg(test)]
mod tests {
    use super::*;
    use batchport_source::Position;
    use serde_json::{Value, json};

    fn op(key: &str, attrs: &str, event: Option<&str>) -> Op {
        Op {
            key: key.into(),
            pos: Position::default(),
            attrs: attrs.as_bytes().to_vec(),
            event: event.map(|e| e.as_bytes().to_vec()),
            record: Default::default(),
            change: None,
            dropped: Vec::new(),
            row: 0,
        }
    }

    fn parse(b: &Body) -> Value {
        serde_json::from_slice(&b.bytes).unwrap()
    }

    #[test]
    fn profiles_are_one_operation_per_row() {
        let b = build(&BodyKind::Profiles, &[op("u\"1", r#"{"a":1}"#, None), op("u2", "{}", None)]);
        assert_eq!(
            parse(&b),
            json!([{"identifiers":{"custom_id":"u\"1"},"attributes":{"a":1}},{"identifiers":{"custom_id":"u2"},"attributes":{}}])
        );
    }

    #[test]
    fn events_group_per_custom_id_in_order() {
        let ops = [
            op("a", "{}", Some(r#"{"name":"e1"}"#)),
            op("b", r#"{"x":1}"#, Some(r#"{"name":"e2"}"#)),
            op("a", r#"{"y":2}"#, Some(r#"{"name":"e3"}"#)),
            op("a", r#"{"y":3,"z":4}"#, Some(r#"{"name":"e4"}"#)),
        ];
        let b = build(&BodyKind::Events, &ops);
        assert_eq!(b.members, vec![vec![0, 2, 3], vec![1]]);
        assert_eq!(
            parse(&b),
            json!([
                {"identifiers":{"custom_id":"a"},"attributes":{"y":3,"z":4},"events":[{"name":"e1"},{"name":"e3"},{"name":"e4"}]},
                {"identifiers":{"custom_id":"b"},"attributes":{"x":1},"events":[{"name":"e2"}]}
            ])
        );
    }

    #[test]
    fn subsets_keep_the_framing() {
        let ops = [op("u1", r#"{"a":1}"#, None), op("u2", "{}", None), op("u3", "{}", None)];
        let b = build(&BodyKind::Audience { name: "vip".into(), action: Some("add") }, &ops);
        let half: Value = serde_json::from_slice(&b.subset(1..3)).unwrap();
        assert_eq!(half, json!({"name":"vip","ids":[{"action":"add","id":"u2"},{"action":"add","id":"u3"}]}));
        let p = build(&BodyKind::Profiles, &ops);
        assert_eq!(
            serde_json::from_slice::<Value>(&p.subset(0..1)).unwrap(),
            json!([{"identifiers":{"custom_id":"u1"},"attributes":{"a":1}}])
        );
        assert_eq!(p.subset(0..3), p.bytes);
    }

    #[test]
    fn audiences_and_catalogs() {
        let ops = [op("u1", r#"{"tier":"gold"}"#, None), op("u2", "{}", None)];
        let add = build(&BodyKind::Audience { name: "vip".into(), action: Some("add") }, &ops);
        assert_eq!(
            parse(&add),
            json!({"name":"vip","ids":[{"action":"add","id":"u1","attributes":{"tier":"gold"}},{"action":"add","id":"u2"}]})
        );
        let rep = build(&BodyKind::Audience { name: "vip".into(), action: None }, &ops[1..]);
        assert_eq!(parse(&rep), json!({"name":"vip","ids":[{"id":"u2"}]}));
        let cat = build(&BodyKind::Catalog { name: "p".into(), remove: false }, &ops[..1]);
        assert_eq!(parse(&cat), json!({"name":"p","items":[{"id":"u1","action":"add","attributes":{"tier":"gold"}}]}));
        let rm = build(&BodyKind::Catalog { name: "p".into(), remove: true }, &ops[..1]);
        assert_eq!(parse(&rm), json!({"name":"p","items":[{"id":"u1","action":"remove"}]}));
    }
}
