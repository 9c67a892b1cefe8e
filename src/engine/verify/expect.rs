//! What Batch should hold for one attribute of one profile, from the
//! operations the job's input gives it, in input order, and whether what the
//! export says matches it.
//!
//! Operations merge as Batch merges them: a value replaces, `null` deletes,
//! `{"$add": [..]}` / `{"$remove": [..]}` edit an array. An attribute no row
//! of the input sets (a blank cell under `blank = "ignore"`) is not expected
//! at all. An array only ever edited by the input (no row replaced it) is
//! checked as membership: the added items are in it and the removed ones are
//! not, whatever else Batch holds from before.
//!
//! Values are compared in Batch's form, as the transform sends them (dates
//! RFC 3339 UTC, phones E.164...), with the few liberties an export may take
//! (README, "What verify compares"): a date may come back as another
//! spelling of the same instant or as Unix time; an email address, a
//! language or a region in another case; an integer as a float of the same
//! value; an array in another order.

use chrono::DateTime;
use serde_json::Value;
use std::collections::BTreeSet;

/// The expected state of one attribute.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Want {
    /// Exactly this value.
    Exact(Value),
    /// No value (deleted by a `null`).
    Absent,
    /// An array holding every item of `has` and none of `hasnt`.
    Members { has: BTreeSet<String>, hasnt: BTreeSet<String> },
}

fn items(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// An `{"$add": [..]}` / `{"$remove": [..]}` edit: its two lists.
fn edit(v: &Value) -> Option<(Vec<String>, Vec<String>)> {
    let o = v.as_object()?;
    if o.is_empty() || !o.keys().all(|k| k == "$add" || k == "$remove") {
        return None;
    }
    Some((items(o.get("$add")), items(o.get("$remove"))))
}

impl Want {
    /// The state after one more operation sets this attribute to `v`.
    pub(crate) fn then(prev: Option<Want>, v: &Value) -> Want {
        if v.is_null() {
            return Want::Absent;
        }
        let Some((add, remove)) = edit(v) else { return Want::Exact(v.clone()) };
        match prev {
            // Batch edits the array it holds (anything else counts as none).
            Some(Want::Exact(Value::Array(cur))) => {
                let mut out: Vec<String> = cur.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
                apply(&mut out, &add, &remove);
                Want::Exact(Value::Array(out.into_iter().map(Value::String).collect()))
            }
            Some(Want::Exact(_)) | Some(Want::Absent) => {
                let mut out = Vec::new();
                apply(&mut out, &add, &remove);
                Want::Exact(Value::Array(out.into_iter().map(Value::String).collect()))
            }
            Some(Want::Members { mut has, mut hasnt }) => {
                for a in add {
                    hasnt.remove(&a);
                    has.insert(a);
                }
                for r in remove {
                    has.remove(&r);
                    hasnt.insert(r);
                }
                Want::Members { has, hasnt }
            }
            None => Want::then(Some(Want::Members { has: BTreeSet::new(), hasnt: BTreeSet::new() }), v),
        }
    }

    /// Whether `found` (the export's value for `key`, if any) satisfies it.
    pub(crate) fn matches(&self, key: &str, found: Option<&Value>) -> bool {
        let found = found.filter(|v| !v.is_null());
        match (self, found) {
            (Want::Absent, None) => true,
            (Want::Absent, Some(_)) => false,
            (Want::Exact(_), None) => false,
            (Want::Exact(w), Some(f)) => same(key, w, f),
            (Want::Members { has, .. }, None) => has.is_empty(),
            (Want::Members { has, hasnt }, Some(Value::Array(a))) => {
                let got: BTreeSet<&str> = a.iter().filter_map(Value::as_str).collect();
                has.iter().all(|h| got.contains(h.as_str())) && hasnt.iter().all(|h| !got.contains(h.as_str()))
            }
            (Want::Members { .. }, Some(_)) => false,
        }
    }

    /// For the differences file.
    pub(crate) fn text(&self) -> String {
        match self {
            Want::Exact(v) => cell(Some(v)),
            Want::Absent => "(no value)".to_string(),
            Want::Members { has, hasnt } => {
                let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join("|");
                match (has.is_empty(), hasnt.is_empty()) {
                    (false, true) => format!("has {}", list(has)),
                    (true, false) => format!("has not {}", list(hasnt)),
                    _ => format!("has {}; has not {}", list(has), list(hasnt)),
                }
            }
        }
    }
}

fn apply(out: &mut Vec<String>, add: &[String], remove: &[String]) {
    for a in add {
        if !out.contains(a) {
            out.push(a.clone());
        }
    }
    out.retain(|x| !remove.contains(x));
}

/// A value as a cell of the differences file: strings as they are, the rest
/// as JSON, nothing as `(no value)`.
pub(crate) fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(no value)".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// An instant from an RFC 3339 text, a `YYYY-MM-DD` day, or Unix time
/// (seconds, or milliseconds past the year 5138 in seconds).
fn instant(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis()).or_else(|| {
                // A day alone: its midnight, UTC (as the transform sends a `YYYY-MM-DD`).
                let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
                Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
            })
        }
        Value::Number(n) => {
            let x = n.as_f64()?;
            Some(if x.abs() >= 1e11 { x as i64 } else { (x * 1000.0) as i64 })
        }
        _ => None,
    }
}

/// `w` (as sent) and `f` (as exported) are the same value of `key`.
fn same(key: &str, w: &Value, f: &Value) -> bool {
    if w == f {
        return true;
    }
    let bare = key.trim_start_matches('$');
    if key.starts_with("date(") {
        return matches!((instant(w), instant(f)), (Some(a), Some(b)) if a == b);
    }
    match (w, f) {
        (Value::String(a), Value::String(b)) => {
            matches!(bare, "email_address" | "language" | "region") && key.starts_with('$') && a.eq_ignore_ascii_case(b)
        }
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => a.as_f64().zip(b.as_f64()).is_some_and(|(x, y)| x == y),
        },
        (Value::Array(a), Value::Array(b)) => {
            let set = |v: &[Value]| v.iter().map(Value::to_string).collect::<BTreeSet<_>>();
            set(a) == set(b)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fold(ops: &[Value]) -> Want {
        ops.iter().fold(None, |p, v| Some(Want::then(p, v))).unwrap()
    }

    #[test]
    fn the_last_value_wins_and_null_deletes() {
        assert_eq!(fold(&[json!("a"), json!("b")]), Want::Exact(json!("b")));
        assert_eq!(fold(&[json!("a"), json!(null)]), Want::Absent);
        assert!(Want::Absent.matches("x", None));
        assert!(Want::Absent.matches("x", Some(&json!(null))));
        assert!(!Want::Absent.matches("x", Some(&json!("a"))));
        assert!(!Want::Exact(json!("a")).matches("x", None));
    }

    #[test]
    fn edits_alone_are_membership_and_after_a_value_exact() {
        let w = fold(&[json!({"$add": ["a", "b"]}), json!({"$remove": ["b"]})]);
        assert_eq!(w, Want::Members { has: ["a".to_string()].into(), hasnt: ["b".to_string()].into() });
        assert!(w.matches("tags", Some(&json!(["z", "a"]))));
        assert!(!w.matches("tags", Some(&json!(["a", "b"]))));
        assert!(!w.matches("tags", None));
        assert_eq!(w.text(), "has a; has not b");
        let w = fold(&[json!(["x"]), json!({"$add": ["y"]}), json!({"$remove": ["x"]})]);
        assert_eq!(w, Want::Exact(json!(["y"])));
        assert!(!w.matches("tags", Some(&json!(["y", "z"]))));
        let removed_only = fold(&[json!({"$remove": ["x"]})]);
        assert!(removed_only.matches("tags", None));
    }

    #[test]
    fn values_compare_in_batch_form() {
        let d = Want::Exact(json!("1989-07-20T00:00:00Z"));
        assert!(d.matches("date(birthdate)", Some(&json!("1989-07-20T00:00:00.000Z"))));
        assert!(d.matches("date(birthdate)", Some(&json!("1989-07-20T02:00:00+02:00"))));
        assert!(d.matches("date(birthdate)", Some(&json!(616896000))));
        assert!(d.matches("date(birthdate)", Some(&json!(616896000000i64))));
        assert!(d.matches("date(birthdate)", Some(&json!("1989-07-20"))));
        assert!(!d.matches("date(birthdate)", Some(&json!("1989-07-21T00:00:00Z"))));
        assert!(Want::Exact(json!("Jo@X.com")).matches("$email_address", Some(&json!("jo@x.com"))));
        assert!(!Want::Exact(json!("Jo")).matches("first_name", Some(&json!("jo"))));
        assert!(Want::Exact(json!(3)).matches("orders", Some(&json!(3.0))));
        assert!(!Want::Exact(json!(3)).matches("orders", Some(&json!("3"))));
        assert!(Want::Exact(json!(["a", "b"])).matches("i", Some(&json!(["b", "a"]))));
        assert!(!Want::Exact(json!("https://x.io/a")).matches("url(site)", Some(&json!("https://x.io/a/"))));
        assert!(Want::Exact(json!(true)).matches("vip", Some(&json!(true))));
    }
}
