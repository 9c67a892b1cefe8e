//! The per-value rules of API.md applied to one profile operation: identifiers,
//! native and custom attributes, events. Used by the profile endpoints (and, for
//! custom attributes, by audiences). A refused attribute or event is dropped with
//! its error and the rest of the operation is applied, as Batch is reported to.

use std::borrow::Cow;

use batchport_api::check::{self, KeyKind};
use batchport_api::rules;

use super::value::Val;

/// Why one operation was refused; becomes a partial error on `/profiles/update`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OpError {
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
pub(crate) enum Ident<'a> {
    Custom(&'a str),
    Installation(&'a str),
}

/// Longest installation id we accept (Batch documents none).
const MAX_INSTALLATION_LEN: usize = 512;

/// `identifiers`: exactly one of `custom_id` and `installation`, a valid string.
pub(crate) fn identifiers<'v>(v: Option<&'v Val<'_>>) -> Result<Ident<'v>, OpError> {
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
    match found.ok_or_else(|| bad("one of custom_id and installation is required"))? {
        Ident::Custom(s) => rules::check_custom_id(s).map_err(|r| bad(&r))?,
        Ident::Installation(s) if s.trim().is_empty() || s.len() > MAX_INSTALLATION_LEN => {
            return Err(bad("installation must be 1 to 512 characters and not blank"));
        }
        Ident::Installation(_) => {}
    }
    Ok(found.expect("checked above"))
}

/// One attribute of a profile operation (`natives` = `$` attributes allowed).
pub(crate) fn attribute(key: &str, v: &Val, natives: bool) -> Result<(), OpError> {
    match check::key_kind(key) {
        None => Err(OpError::attr(key, "attribute names are [a-z0-9_], at most 30 characters")),
        Some(KeyKind::Native(_)) if !natives => Err(OpError::attr(key, "native attributes are not allowed here")),
        Some(KeyKind::Native(n)) => {
            let (rule, what) = native_rule(n).ok_or_else(|| OpError::attr(key, "unknown native attribute"))?;
            match v {
                Val::Null => Ok(()),
                Val::Str(s) if rule(s) => Ok(()),
                _ => Err(OpError::attr(key, format!("must be {what}"))),
            }
        }
        Some(_) => check::profile_attribute(key, v).map_err(|r| OpError::attr(key, r)),
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

/// What survives of a list once the refused entries are dropped: Batch applies
/// the rest of the operation (API.md, "What a partial error means").
pub(crate) type Kept<'v, T> = (Cow<'v, [T]>, Vec<OpError>);
type Pair<'a> = (Cow<'a, str>, Val<'a>);

/// Keep the entries for which `refused` is `None`; borrowed when all are kept.
fn keep<'v, T: Clone>(all: &'v [T], mut refused: impl FnMut(usize, &T) -> Option<OpError>) -> Kept<'v, T> {
    let mut errors = Vec::new();
    let mut dropped = Vec::new();
    for (i, x) in all.iter().enumerate() {
        if let Some(e) = refused(i, x) {
            errors.push(e);
            dropped.push(i);
        }
    }
    if dropped.is_empty() {
        return (Cow::Borrowed(all), errors);
    }
    let kept = all.iter().enumerate().filter(|(i, _)| !dropped.contains(i)).map(|(_, x)| x.clone()).collect();
    (Cow::Owned(kept), errors)
}

/// The `attributes` object of an operation: the valid ones and one error per
/// refused one. More than 50 refuses the whole operation.
pub(crate) fn attributes<'v, 'a>(v: &'v Val<'a>) -> Result<Kept<'v, Pair<'a>>, OpError> {
    let obj = v.as_obj().ok_or_else(|| OpError::new("attributes", "attributes must be an object"))?;
    if obj.len() > rules::MAX_ATTRIBUTES {
        return Err(OpError::new("attributes", "at most 50 attributes per operation"));
    }
    Ok(keep(obj, |_, (k, v)| attribute(k, v, true).err()))
}

/// Which event rules the emulator enforces; strict by default, so rehearsals
/// fail where production would.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventRules {
    /// Events older than this or in the future are refused; `None` = any time.
    pub max_age: Option<chrono::Duration>,
    /// Event attribute values checked like profile ones ($label, $tags, objects).
    pub attributes: bool,
}

/// The `events` array of an operation: the valid events and one error per
/// refused one. More than 15, or not an array, refuses the whole operation.
pub(crate) fn events<'v, 'a>(v: &'v Val<'a>, r: EventRules) -> Result<Kept<'v, Val<'a>>, OpError> {
    let Val::Arr(list) = v else {
        return Err(OpError::new("events", "events must be an array"));
    };
    if list.len() > rules::MAX_EVENTS_PER_OPERATION {
        return Err(OpError::new("events", "at most 15 events per profile per call"));
    }
    let now = chrono::Utc::now();
    Ok(keep(list, |i, e| {
        event(e, r, now).err().map(|reason| OpError {
            category: "events",
            reason,
            attribute: Some(format!("events[{i}]")),
        })
    }))
}

fn event(e: &Val, r: EventRules, now: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
    let obj = e.as_obj().ok_or("an event must be an object")?;
    let name = match e.get("name").map(Val::as_str) {
        Some(Some(n)) if rules::is_valid_name(n) => n,
        Some(_) => return Err("event names are [a-z0-9_], at most 30 characters".into()),
        None => return Err("name is required".into()),
    };
    let why = |m: String| format!("event `{name}`: {m}");
    for (k, v) in obj {
        match &**k {
            "name" => {}
            "time" => {
                let t = v
                    .as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .ok_or_else(|| why("time must be RFC 3339".into()))?;
                check::event_time(t.to_utc(), now, r.max_age).map_err(why)?;
            }
            "attributes" => {
                let attrs = v.as_obj().ok_or_else(|| why("attributes must be an object".into()))?;
                if attrs.len() > rules::MAX_EVENT_ATTRIBUTES {
                    return Err(why(format!("at most {} attributes per event", rules::MAX_EVENT_ATTRIBUTES)));
                }
                for (k, v) in attrs {
                    if r.attributes {
                        check::event_attribute(k, v).map_err(why)?;
                    } else if !matches!(k.as_ref(), "$label" | "$tags") && check::key_kind(k).is_none() {
                        return Err(why(format!("`{k}`: names are [a-z0-9_], at most 30 characters")));
                    }
                }
            }
            other => return Err(why(format!("unknown field `{other}`"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(json: &str) -> Result<(), OpError> {
        let v = serde_json::from_str::<Val>(json).unwrap();
        let (_, errors) = attributes(&v)?;
        errors.into_iter().next().map_or(Ok(()), Err)
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
        let e257 = format!(r#"{{"custom_id":"{}"}}"#, "é".repeat(257));
        assert!(identifiers(Some(&v(&e257))).is_ok(), "characters, not bytes");
        let long = format!(r#"{{"custom_id":"{}"}}"#, "a".repeat(512));
        assert!(identifiers(Some(&v(&long))).is_err());
    }

    #[test]
    fn refused_entries_are_dropped_and_the_rest_kept() {
        let v = serde_json::from_str::<Val>(r#"{"a":"ok","Bad":1,"b":2}"#).unwrap();
        let (kept, errors) = attributes(&v).unwrap();
        assert_eq!(kept.iter().map(|(k, _)| k.as_ref()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(errors[0].attribute.as_deref(), Some("Bad"));
        let old = (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339();
        let text = format!(
            r#"[{{"name":"a"}},{{"name":"b","time":"{old}"}},{{"name":"c","attributes":{{"$label":"{}"}}}}]"#,
            "x".repeat(201)
        );
        let ev = serde_json::from_str::<Val>(&text).unwrap();
        let strict = EventRules { max_age: Some(chrono::Duration::hours(24)), attributes: true };
        let (kept, errors) = events(&ev, strict).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(errors.iter().map(|e| e.attribute.clone().unwrap()).collect::<Vec<_>>(), ["events[1]", "events[2]"]);
        let lax = EventRules { max_age: None, attributes: false };
        assert!(events(&ev, lax).unwrap().1.is_empty());
    }
}
