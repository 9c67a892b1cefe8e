//! Request bodies per endpoint, built from a slice of operations so that a
//! refused batch can be split and each half rebuilt.

use crate::transform::{Op, json};
use std::collections::HashMap;

/// What the operations of a job become on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    /// `/profiles/*update`: one operation per row.
    Profiles,
    /// `/profiles/*update`: rows of one Custom ID grouped into one operation.
    Events,
    /// `/audiences/update` (`action` add or remove) and `/audiences/replace` (no action).
    Audience { name: String, action: Option<&'static str> },
    /// `/catalogs/items/edit`.
    Catalog { name: String },
}

/// A body, and for each element of its array the operations (indexes into the
/// slice) it carries: `bulk_index` in partial errors points into this.
pub struct Body {
    pub bytes: Vec<u8>,
    pub members: Vec<Vec<usize>>,
}

pub fn build(kind: &BodyKind, ops: &[Op]) -> Body {
    let mut bytes = Vec::with_capacity(ops.iter().map(|o| o.attrs.len() + o.key.len() + 48).sum::<usize>() + 64);
    match kind {
        BodyKind::Profiles => {
            bytes.push(b'[');
            for (i, op) in ops.iter().enumerate() {
                if i > 0 {
                    bytes.push(b',');
                }
                bytes.extend_from_slice(br#"{"identifiers":{"custom_id":"#);
                json::string(&mut bytes, &op.key);
                bytes.extend_from_slice(br#"},"attributes":"#);
                bytes.extend_from_slice(&op.attrs);
                bytes.push(b'}');
            }
            bytes.push(b']');
            Body { bytes, members: (0..ops.len()).map(|i| vec![i]).collect() }
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
                let mut o = json::Object::open(&mut bytes);
                if let Some(a) = action {
                    json::string(o.key("action"), a);
                }
                json::string(o.key("id"), &op.key);
                if op.attrs.len() > 2 && *action != Some("remove") {
                    o.key("attributes").extend_from_slice(&op.attrs);
                }
                o.close();
            }
            bytes.extend_from_slice(b"]}");
            Body { bytes, members: (0..ops.len()).map(|i| vec![i]).collect() }
        }
        BodyKind::Catalog { name } => {
            bytes.extend_from_slice(br#"{"name":"#);
            json::string(&mut bytes, name);
            bytes.extend_from_slice(br#","items":["#);
            for (i, op) in ops.iter().enumerate() {
                if i > 0 {
                    bytes.push(b',');
                }
                let mut o = json::Object::open(&mut bytes);
                json::string(o.key("id"), &op.key);
                json::string(o.key("action"), "add");
                o.key("attributes").extend_from_slice(&op.attrs);
                o.close();
            }
            bytes.extend_from_slice(b"]}");
            Body { bytes, members: (0..ops.len()).map(|i| vec![i]).collect() }
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
    bytes.push(b'[');
    for (g, rows) in members.iter().enumerate() {
        if g > 0 {
            bytes.push(b',');
        }
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
        bytes.extend_from_slice(b"]}");
    }
    bytes.push(b']');
    Body { bytes, members }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Position;
    use serde_json::{Value, json};

    fn op(key: &str, attrs: &str, event: Option<&str>) -> Op {
        Op {
            key: key.into(),
            pos: Position::default(),
            attrs: attrs.as_bytes().to_vec(),
            event: event.map(|e| e.as_bytes().to_vec()),
            record: Default::default(),
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
    fn audiences_and_catalogs() {
        let ops = [op("u1", r#"{"tier":"gold"}"#, None), op("u2", "{}", None)];
        let add = build(&BodyKind::Audience { name: "vip".into(), action: Some("add") }, &ops);
        assert_eq!(
            parse(&add),
            json!({"name":"vip","ids":[{"action":"add","id":"u1","attributes":{"tier":"gold"}},{"action":"add","id":"u2"}]})
        );
        let rep = build(&BodyKind::Audience { name: "vip".into(), action: None }, &ops[1..]);
        assert_eq!(parse(&rep), json!({"name":"vip","ids":[{"id":"u2"}]}));
        let cat = build(&BodyKind::Catalog { name: "p".into() }, &ops[..1]);
        assert_eq!(parse(&cat), json!({"name":"p","items":[{"id":"u1","action":"add","attributes":{"tier":"gold"}}]}));
    }
}
