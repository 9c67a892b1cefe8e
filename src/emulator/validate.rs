//! The per-value rules of API.md applied to one profile operation: identifiers,
//! native and custom attributes, events. Used by the profile endpoints (and, for
//! custom attributes, by audiences).

use crate::api::rules;

use super::value::Val;

/// Why one operation was refused; becomes a partial error on `/profiles/update`.
#[derive(Debug, Clone, PartialEq)]
pub struct OpError {
    pub category: &'static str,
    pub reason: String,
    pub attribute: Option<String>,
}

impl OpError {
    pub fn new(category: &'static str, reason: impl Into<String>) -> OpError {
        OpError { category, reason: reason.into(), attribute: None }
    }
    fn attr(key: &str, reason: impl Into<String>) -> OpError {
        OpError { category: "attributes", reason: reason.into(), attribute: Some(key.to_string()) }
    }
}

/// An operation's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ident<'a> {
    Custom(&'a str),
    Installation(&'a str),
}

/// Longest identifier we accept (Batch documents none; 512 covers real ids).
const MAX_ID_LEN: usize = 512;

/// `identifiers`: exactly one of `custom_id` and `installation`, a non-empty string.
pub fn identifiers<'v>(v: Option<&'v Val<'_>>) -> Result<Ident<'v>, OpError> {
    let bad = |r: &str| OpError::new("identifiers", r);
    let obj = v.and_then(Val::as_obj).ok_or_else(|| bad("identifiers must be an object"))?;
    let mut found = None;
    for (k, v) in obj {
        let id = match &**k {
            "custom_id" => Ident::Custom(v.as_str().ok_or_else(|| bad("custom_id must be a string"))?),
            "installation" => Ident::Installation(v.as_str().ok_or_else(|| bad("installation must be a string"))?),
            _ => return Err(bad(&format!("unknown identifier `{k}`"))),
        };
        if found.is_some() {
            return Err(bad("exactly one of custom_id and installation is allowed"));
        }
        found = Some(id);
    }
    let id = found.ok_or_else(|| bad("one of custom_id and installation is required"))?;
    let (Ident::Custom(s) | Ident::Installation(s)) = id;
    if s.trim().is_empty() || s.len() > MAX_ID_LEN {
        return Err(bad("identifier must be 1 to 512 characters and not blank"));
    }
    Ok(id)
}

/// What an attribute key says about its value.
enum KeyKind<'k> {
    Native(&'k str),
    Date,
    Url,
    Plain,
}

fn key_kind(key: &str) -> Option<KeyKind<'_>> {
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
    rules::is_valid_name(name).then_some(kind)
}

fn string_array(a: &[Val]) -> bool {
    a.iter().all(|x| x.as_str().is_some_and(rules::is_valid_string))
}

/// One attribute of a profile operation (`natives` = `$` attributes allowed).
pub fn attribute(key: &str, v: &Val, natives: bool) -> Result<(), OpError> {
    let kind =
        key_kind(key).ok_or_else(|| OpError::attr(key, "attribute names are [a-z0-9_], at most 30 characters"))?;
    if matches!(v, Val::Null) {
        return match kind {
            KeyKind::Native(_) if !natives => Err(OpError::attr(key, "native attributes are not allowed here")),
            KeyKind::Native(n) if native_rule(n).is_none() => Err(OpError::attr(key, "unknown native attribute")),
            _ => Ok(()),
        };
    }
    match kind {
        KeyKind::Native(_) if !natives => Err(OpError::attr(key, "native attributes are not allowed here")),
        KeyKind::Native(n) => {
            let (rule, what) = native_rule(n).ok_or_else(|| OpError::attr(key, "unknown native attribute"))?;
            match v.as_str() {
                Some(s) if rule(s) => Ok(()),
                _ => Err(OpError::attr(key, format!("must be {what}"))),
            }
        }
        KeyKind::Date => match v.as_str() {
            Some(s) if rules::is_valid_rfc3339(s) => Ok(()),
            _ => Err(OpError::attr(key, "date() attributes take an RFC 3339 date")),
        },
        KeyKind::Url => match v.as_str() {
            Some(s) if rules::is_valid_url(s) => Ok(()),
            _ => Err(OpError::attr(key, "url() attributes take a URL of at most 2048 characters")),
        },
        KeyKind::Plain => match v {
            Val::Str(s) if rules::is_valid_string(s) => Ok(()),
            Val::Str(_) => Err(OpError::attr(key, "strings are 1 to 300 characters")),
            Val::Bool(_) | Val::Num(_) | Val::Null => Ok(()),
            Val::Arr(a) if string_array(a) => Ok(()),
            Val::Arr(_) => Err(OpError::attr(key, "arrays hold strings of 1 to 300 characters")),
            Val::Obj(o) => {
                let ok = !o.is_empty()
                    && o.iter()
                        .all(|(k, v)| (k == "$add" || k == "$remove") && matches!(v, Val::Arr(a) if string_array(a)));
                if ok {
                    Ok(())
                } else {
                    Err(OpError::attr(key, "objects are {\"$add\": [...]} or {\"$remove\": [...]} of strings"))
                }
            }
        },
    }
}

type Rule = fn(&str) -> bool;

fn native_rule(name: &str) -> Option<(Rule, &'static str)> {
    Some(match name {
        "email_address" => (rules::is_valid_email, "an email address"),
        "email_marketing" | "sms_marketing" => (rules::is_valid_subscription, "subscribed or unsubscribed"),
        "phone_number" => (rules::is_valid_e164, "an E.164 phone number"),
        "language" => (rules::is_valid_language, "an ISO 639-1 language code"),
        "region" => (rules::is_valid_region, "an ISO 3166-1 alpha-2 region code"),
        "timezone" => (rules::is_valid_timezone, "an IANA time zone"),
        _ => return None,
    })
}

/// The `attributes` object of an operation.
pub fn attributes(v: &Val) -> Result<(), OpError> {
    let obj = v.as_obj().ok_or_else(|| OpError::new("attributes", "attributes must be an object"))?;
    if obj.len() > rules::MAX_ATTRIBUTES {
        return Err(OpError::new("attributes", "at most 50 attributes per operation"));
    }
    obj.iter().try_for_each(|(k, v)| attribute(k, v, true))
}

/// The `events` array of an operation. `strict_time`: events older than 24 h or
/// in the future are refused.
pub fn events(v: &Val, strict_time: bool) -> Result<(), OpError> {
    let bad = |r: String| OpError::new("events", r);
    let Val::Arr(list) = v else {
        return Err(bad("events must be an array".into()));
    };
    if list.len() > rules::MAX_EVENTS_PER_OPERATION {
        return Err(bad("at most 15 events per profile per call".into()));
    }
    for (i, e) in list.iter().enumerate() {
        let obj = e.as_obj().ok_or_else(|| bad(format!("event {i} must be an object")))?;
        let mut named = false;
        for (k, v) in obj {
            match &**k {
                "name" => match v.as_str() {
                    Some(n) if rules::is_valid_name(n) => named = true,
                    _ => {
                        return Err(bad(format!("event {i}: names are [a-z0-9_], at most 30 characters")));
                    }
                },
                "time" => match v.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()) {
                    Some(t) => {
                        let age = chrono::Utc::now().signed_duration_since(t);
                        if strict_time && (age > chrono::Duration::hours(24) || age < -chrono::Duration::minutes(1)) {
                            return Err(bad(format!("event {i}: older than 24 hours or in the future")));
                        }
                    }
                    None => return Err(bad(format!("event {i}: time must be RFC 3339"))),
                },
                "attributes" => event_attributes(v).map_err(|r| bad(format!("event {i}: {r}")))?,
                other => return Err(bad(format!("event {i}: unknown field `{other}`"))),
            }
        }
        if !named {
            return Err(bad(format!("event {i}: name is required")));
        }
    }
    Ok(())
}

fn event_attributes(v: &Val) -> Result<(), String> {
    let obj = v.as_obj().ok_or("attributes must be an object")?;
    if obj.len() > rules::MAX_ATTRIBUTES {
        return Err("at most 50 attributes per event".into());
    }
    for (k, v) in obj {
        match &**k {
            "$label" if v.as_str().is_some_and(rules::is_valid_string) => {}
            "$label" => return Err("$label must be a string".into()),
            "$tags" if matches!(v, Val::Arr(a) if string_array(a)) => {}
            "$tags" => return Err("$tags must be an array of strings".into()),
            _ if matches!(key_kind(k), Some(KeyKind::Date | KeyKind::Url | KeyKind::Plain)) => {}
            _ => {
                return Err(format!("attribute `{k}`: names are [a-z0-9_], at most 30 characters"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(json: &str) -> Result<(), OpError> {
        attributes(&serde_json::from_str::<Val>(json).unwrap())
    }

    #[test]
    fn attribute_rules() {
        assert!(attr(r#"{"$email_address":"a@b.co","firstname":"Jane","n":3,"f":1.5,"b":true}"#).is_ok());
        assert!(attr(r#"{"date(birth)":"1989-07-20T00:00:00Z","url(w)":"https://e.com","x":null}"#).is_ok());
        assert!(attr(r#"{"tags":{"$add":["a"]},"i":["x","y"],"$language":null}"#).is_ok());
        for bad in [
            r#"{"FirstName":"x"}"#,
            r#"{"s":""}"#,
            r#"{"date(birth)":"1989-07-20"}"#,
            r#"{"url(w)":"nope"}"#,
            r#"{"$phone_number":"0639981337"}"#,
            r#"{"$unknown":"x"}"#,
            r#"{"tags":{"$set":["a"]}}"#,
            r#"{"i":[1,2]}"#,
        ] {
            let e = attr(bad).unwrap_err();
            assert!(e.attribute.is_some(), "{bad}");
        }
        let many: String = (0..51).map(|i| format!("\"a{i}\":1")).collect::<Vec<_>>().join(",");
        assert!(attr(&format!("{{{many}}}")).is_err());
    }

    #[test]
    fn identifier_rules() {
        fn v(s: &str) -> Val<'_> {
            serde_json::from_str(s).unwrap()
        }
        assert_eq!(identifiers(Some(&v(r#"{"custom_id":"u1"}"#))), Ok(Ident::Custom("u1")));
        assert!(identifiers(Some(&v(r#"{"custom_id":"u1","installation":"i"}"#))).is_err());
        assert!(identifiers(Some(&v(r#"{}"#))).is_err());
        assert!(identifiers(None).is_err());
        assert!(identifiers(Some(&v(r#"{"custom_id":" "}"#))).is_err());
    }
}
