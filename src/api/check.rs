//! Checks of whole JSON values by API.md's rules, shared by the emulator (on
//! request bodies) and the transform (on JSON cells and event times): profile
//! attributes, event attributes (objects and arrays of objects included),
//! catalog item attributes and the event time window.

use super::rules::{self, chars};
use super::value::Val;
use chrono::{DateTime, Duration, Utc};

/// What an attribute key says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind<'k> {
    /// `$name`: a native attribute, named without its `$`.
    Native(&'k str),
    /// `date(name)`: an RFC 3339 date.
    Date,
    /// `url(name)`: a URL.
    Url,
    /// `name`: a plain attribute, typed by its value.
    Plain,
}

/// The kind of `key` (`$name`, `date(name)`, `url(name)`, `name`), if the name
/// inside passes `valid`.
pub fn key_kind_with(key: &str, valid: fn(&str) -> bool) -> Option<KeyKind<'_>> {
    if let Some(n) = key.strip_prefix('$') {
        return Some(KeyKind::Native(n));
    }
    let typed = |prefix: &str| key.strip_prefix(prefix).and_then(|r| r.strip_suffix(')'));
    let (kind, name) = if let Some(n) = typed("date(") {
        (KeyKind::Date, n)
    } else if let Some(n) = typed("url(") {
        (KeyKind::Url, n)
    } else {
        (KeyKind::Plain, key)
    };
    valid(name).then_some(kind)
}

/// [`key_kind_with`] for profile and event attributes: names are `[a-z0-9_]`,
/// 1 to 30 characters (a `$` name is not checked).
pub fn key_kind(key: &str) -> Option<KeyKind<'_>> {
    key_kind_with(key, rules::is_valid_name)
}

/// A string of 1 to `max` characters.
fn text(s: &str, max: usize) -> bool {
    !s.is_empty() && chars(s) <= max
}

/// An array of at most `max_items` strings of 1 to `max_chars` characters.
fn string_array(a: &[Val], max_items: usize, max_chars: usize) -> bool {
    a.len() <= max_items && a.iter().all(|x| x.as_str().is_some_and(|s| text(s, max_chars)))
}

const NAMES: &str = "names are [a-z0-9_], at most 30 characters";

/// One event attribute: plain values like profile ones, `$label` and `$tags`,
/// objects and arrays of objects (nested up to [`rules::MAX_EVENT_OBJECT_DEPTH`]).
pub fn event_attribute(key: &str, v: &Val) -> Result<(), String> {
    event_value(key, v, 0).map_err(|e| format!("`{key}`: {e}"))
}

fn event_value(key: &str, v: &Val, depth: usize) -> Result<(), String> {
    match key_kind(key) {
        Some(KeyKind::Native("label")) if depth == 0 => match v.as_str() {
            Some(s) if text(s, rules::MAX_LABEL_CHARS) => Ok(()),
            _ => Err(format!("$label is a string of 1 to {} characters", rules::MAX_LABEL_CHARS)),
        },
        Some(KeyKind::Native("tags")) if depth == 0 => match v {
            Val::Arr(a) if string_array(a, rules::MAX_TAGS, rules::MAX_TAG_CHARS) => Ok(()),
            _ => Err(format!(
                "$tags is an array of at most {} strings of 1 to {} characters",
                rules::MAX_TAGS,
                rules::MAX_TAG_CHARS
            )),
        },
        Some(KeyKind::Native(_)) => Err("the only $ event attributes are $label and $tags".into()),
        None => Err(NAMES.into()),
        Some(KeyKind::Date) => date_or_null(v),
        Some(KeyKind::Url) => url_or_null(v),
        Some(KeyKind::Plain) => plain_event_value(v, depth),
    }
}

fn plain_event_value(v: &Val, depth: usize) -> Result<(), String> {
    match v {
        Val::Null | Val::Bool(_) | Val::Num(_) => Ok(()),
        Val::Str(s) => plain_string(s),
        Val::Arr(a) if a.iter().all(|x| matches!(x, Val::Obj(_))) && !a.is_empty() => {
            a.iter().try_for_each(|o| event_object(o, depth + 1))
        }
        Val::Arr(a) if string_array(a, usize::MAX, rules::MAX_STRING_CHARS) => Ok(()),
        Val::Arr(_) => Err("arrays hold strings of 1 to 300 characters, or objects".into()),
        Val::Obj(_) => event_object(v, depth + 1),
    }
}

/// A JSON cell of an event attribute: an object or an array of objects, each
/// checked like event attributes.
pub fn event_json(v: &Val) -> Result<(), String> {
    match v {
        Val::Obj(_) => plain_event_value(v, 0),
        Val::Arr(a) if !a.is_empty() && a.iter().all(|x| matches!(x, Val::Obj(_))) => plain_event_value(v, 0),
        _ => Err("a json attribute is an object or a non-empty array of objects".into()),
    }
}

fn event_object(v: &Val, depth: usize) -> Result<(), String> {
    if depth > rules::MAX_EVENT_OBJECT_DEPTH {
        return Err(format!("objects nest at most {} deep", rules::MAX_EVENT_OBJECT_DEPTH));
    }
    let obj = v.as_obj().unwrap_or_default();
    if obj.is_empty() || obj.len() > rules::MAX_EVENT_ATTRIBUTES {
        return Err(format!("an object holds 1 to {} attributes", rules::MAX_EVENT_ATTRIBUTES));
    }
    obj.iter().try_for_each(|(k, v)| event_value(k, v, depth).map_err(|e| format!("`{k}`: {e}")))
}

fn plain_string(s: &str) -> Result<(), String> {
    if text(s, rules::MAX_STRING_CHARS) { Ok(()) } else { Err("strings are 1 to 300 characters".into()) }
}

fn date_or_null(v: &Val) -> Result<(), String> {
    match v {
        Val::Null => Ok(()),
        Val::Str(s) if rules::is_valid_rfc3339(s) => Ok(()),
        _ => Err("date() attributes take an RFC 3339 date (years 0000 to 9999)".into()),
    }
}

fn url_or_null(v: &Val) -> Result<(), String> {
    match v {
        Val::Null => Ok(()),
        Val::Str(s) if rules::is_valid_url(s) => Ok(()),
        _ => Err("url() attributes take a URL of at most 2048 characters".into()),
    }
}

/// One custom (not `$`) profile attribute, as `/profiles/update` takes it.
pub fn profile_attribute(key: &str, v: &Val) -> Result<(), String> {
    match key_kind(key) {
        None => Err(NAMES.into()),
        Some(KeyKind::Native(_)) => Err("native attributes are checked by name".into()),
        Some(KeyKind::Date) => date_or_null(v),
        Some(KeyKind::Url) => url_or_null(v),
        Some(KeyKind::Plain) => match v {
            Val::Str(s) => plain_string(s),
            Val::Bool(_) | Val::Num(_) | Val::Null => Ok(()),
            Val::Arr(a) if string_array(a, usize::MAX, rules::MAX_STRING_CHARS) => Ok(()),
            Val::Arr(_) => Err("arrays hold strings of 1 to 300 characters".into()),
            Val::Obj(o) => {
                let ok = !o.is_empty()
                    && o.iter().all(|(k, v)| {
                        (k == "$add" || k == "$remove")
                            && matches!(v, Val::Arr(a) if string_array(a, usize::MAX, rules::MAX_STRING_CHARS))
                    });
                if ok { Ok(()) } else { Err("objects are {\"$add\": [...]} or {\"$remove\": [...]} of strings".into()) }
            }
        },
    }
}

/// A catalog field or item attribute name: `[a-z0-9_]`, 1 to 250 characters.
pub fn is_valid_catalog_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= rules::MAX_CATALOG_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The schema type a catalog item attribute's value must have, by its key.
pub fn catalog_attribute(key: &str, v: &Val) -> Result<(), String> {
    let kind = key_kind_with(key, is_valid_catalog_name)
        .filter(|k| !matches!(k, KeyKind::Native(_)))
        .ok_or_else(|| format!("`{key}`: names are [a-z0-9_], at most 250 characters"))?;
    let ok = match (kind, v) {
        (_, Val::Null) => true,
        (KeyKind::Date, Val::Str(s)) => rules::is_valid_rfc3339(s),
        (KeyKind::Date, Val::Num(n)) => n.is_i64() || n.is_u64(),
        (KeyKind::Url, Val::Str(s)) => rules::is_valid_url(s),
        (KeyKind::Plain, Val::Str(s)) => chars(s) <= rules::MAX_CATALOG_STRING_CHARS,
        (KeyKind::Plain, Val::Bool(_) | Val::Num(_)) => true,
        (KeyKind::Plain, Val::Arr(a)) => {
            string_array(a, rules::MAX_CATALOG_ARRAY_ITEMS, rules::MAX_CATALOG_ARRAY_ITEM_CHARS)
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{key}`: value not allowed (strings <= 10,000 characters, arrays <= 15 strings of 1 to 64 characters, \
             date() RFC 3339 or Unix time, url() a URL)"
        ))
    }
}

/// Clock skew allowed for "not in the future".
const FUTURE_SKEW: Duration = Duration::minutes(1);

/// Events older than `max_age` or in the future are refused (API.md: the
/// Profile API is reported to take the last 24 h only). `None` = no window.
pub fn event_time(t: DateTime<Utc>, now: DateTime<Utc>, max_age: Option<Duration>) -> Result<(), String> {
    let Some(max) = max_age else { return Ok(()) };
    if t > now + FUTURE_SKEW {
        return Err(format!("the event time {} is in the future; Batch refuses such events", t.to_rfc3339()));
    }
    if now - t > max {
        return Err(format!(
            "events older than {} are refused by Batch's Profile API (this one is {} old); see \"Bringing history\" \
             in docs/guide.md",
            human(max),
            human(now - t)
        ));
    }
    Ok(())
}

/// `24 h`, `90 min`, `3 d`.
fn human(d: Duration) -> String {
    let m = d.num_minutes();
    if m >= 2 * 24 * 60 && m % (24 * 60) == 0 || m >= 7 * 24 * 60 {
        format!("{} d", d.num_days())
    } else if m >= 60 && m % 60 == 0 || m >= 48 * 60 {
        format!("{} h", d.num_hours())
    } else {
        format!("{m} min")
    }
}

/// `24h`, `90m`, `7d`, `3600s`; `none` (or `off`) = no window.
pub fn parse_age(s: &str) -> Result<Option<Duration>, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("none") || t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = || format!("`{s}` is not a duration (e.g. \"24h\", \"90m\", \"7d\", or \"none\")");
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: i64 = t[..split].parse().map_err(|_| bad())?;
    let d = match t[split..].trim() {
        "s" => Duration::try_seconds(n),
        "m" | "min" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        _ => None,
    };
    d.filter(|d| *d > Duration::zero()).map(Some).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Val<'_> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn event_attributes_take_objects_and_arrays_of_objects() {
        assert!(event_attribute("product", &v(r#"{"name":"pumpkin","price":3.2}"#)).is_ok());
        assert!(event_attribute("items", &v(r#"[{"sku":"a"},{"sku":"b","n":2}]"#)).is_ok());
        assert!(event_attribute("$label", &v(&format!("\"{}\"", "é".repeat(200)))).is_ok());
        assert!(event_attribute("$label", &v(&format!("\"{}\"", "é".repeat(201)))).is_err());
        assert!(event_attribute("$tags", &v(r#"["a","b"]"#)).is_ok());
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(event_attribute("$tags", &v(&serde_json::to_string(&eleven).unwrap())).is_err());
        assert!(event_attribute("items", &v(r#"[{"sku":"a"},"b"]"#)).is_err());
        assert!(event_attribute("o", &v(r#"{"Bad":1}"#)).is_err());
        assert!(event_attribute("o", &v(r#"{"a":{"b":{"c":{"d":1}}}}"#)).is_err(), "too deep");
        assert!(event_attribute("o", &v(r#"{"a":{"b":{"c":1}}}"#)).is_ok());
        assert!(event_attribute("s", &v(&format!("\"{}\"", "x".repeat(301)))).is_err());
        assert!(event_attribute("$other", &v(r#""x""#)).is_err());
    }

    #[test]
    fn catalog_values() {
        assert!(catalog_attribute(&"a".repeat(250), &v("1")).is_ok());
        assert!(catalog_attribute(&"a".repeat(251), &v("1")).is_err());
        let fifteen: Vec<String> = (0..15).map(|_| "x".repeat(64)).collect();
        assert!(catalog_attribute("t", &v(&serde_json::to_string(&fifteen).unwrap())).is_ok());
        let long: Vec<String> = vec!["x".repeat(65)];
        assert!(catalog_attribute("t", &v(&serde_json::to_string(&long).unwrap())).is_err());
    }

    #[test]
    fn the_event_window() {
        let now = Utc::now();
        let day = Some(Duration::hours(24));
        assert!(event_time(now - Duration::hours(23), now, day).is_ok());
        let old = event_time(now - Duration::hours(25), now, day).unwrap_err();
        assert!(old.contains("older than 24 h") && old.contains("Bringing history"), "{old}");
        assert!(event_time(now + Duration::minutes(5), now, day).unwrap_err().contains("future"));
        assert!(event_time(now - Duration::days(400), now, None).is_ok());
        assert_eq!(parse_age("24h").unwrap(), day);
        assert_eq!(parse_age("7d").unwrap(), Some(Duration::days(7)));
        assert_eq!(parse_age("none").unwrap(), None);
        assert!(parse_age("soon").is_err() && parse_age("0h").is_err());
    }
}
