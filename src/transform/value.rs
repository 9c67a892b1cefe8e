//! One cell → one JSON value, by the mapping's type and API.md's value rules.
//! Normalises what is safe (trim, letter case, dates to RFC 3339 UTC, phone
//! punctuation); anything else that breaks a rule is an error with the reason.

use super::json;
use crate::job::{ArrayMode, NativeKind, SubscriptionValues, ValueType};
use batchport_api::rules;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// Text limits that differ between profile attributes, catalog item attributes
/// and the reserved event attributes (all from [`rules::TABLE`], in characters).
#[derive(Debug, Clone, Copy)]
pub struct StringRules {
    pub max_chars: usize,
    /// Items of an array value.
    pub max_items: usize,
    /// Characters of one array item.
    pub max_item_chars: usize,
}

pub const PROFILE_STRINGS: StringRules =
    StringRules { max_chars: rules::MAX_STRING_CHARS, max_items: usize::MAX, max_item_chars: rules::MAX_STRING_CHARS };
pub const CATALOG_STRINGS: StringRules = StringRules {
    max_chars: rules::MAX_CATALOG_STRING_CHARS,
    max_items: rules::MAX_CATALOG_ARRAY_ITEMS,
    max_item_chars: rules::MAX_CATALOG_ARRAY_ITEM_CHARS,
};
/// `$label` of an event.
pub const LABEL_STRINGS: StringRules = StringRules { max_chars: rules::MAX_LABEL_CHARS, ..PROFILE_STRINGS };
/// `$tags` of an event.
pub const TAGS_STRINGS: StringRules =
    StringRules { max_chars: rules::MAX_TAG_CHARS, max_items: rules::MAX_TAGS, max_item_chars: rules::MAX_TAG_CHARS };

/// Write `cell` (already trimmed, not blank) as a value of type `ty`.
pub fn typed<O: json::Out>(ty: &ValueType, cell: &str, sr: StringRules, out: &mut O) -> Result<(), String> {
    // Numbers and dates only: in text, a leading apostrophe may be the user's.
    let cell =
        if matches!(ty, ValueType::Int | ValueType::Float | ValueType::Date { .. }) { unformula(cell) } else { cell };
    match ty {
        ValueType::String => {
            check_len(cell, sr)?;
            json::string(out, cell);
        }
        ValueType::Int => {
            let v = parse_int(cell)?;
            // `-0` is 0 (as JSON text it would read back as the float -0.0).
            if is_plain_number(cell, false) && v != 0 {
                // Already the JSON text of `v`: no formatting.
                out.extend_from_slice(cell.as_bytes());
            } else {
                let _ = write!(out, "{v}");
            }
        }
        ValueType::Float => {
            let v = parse_float(cell)?;
            if is_plain_number(cell, true) && v != 0.0 {
                out.extend_from_slice(cell.as_bytes());
            } else {
                let _ = write!(out, "{v}");
            }
        }
        ValueType::Bool => out.extend_from_slice(if parse_bool(cell)? { b"true" } else { b"false" }),
        ValueType::Date { format } => {
            if !fast_date_into(cell, format.as_deref(), out) {
                json::string(out, &parse_date(cell, format.as_deref())?)
            }
        }
        ValueType::Url => {
            if !rules::is_valid_url(cell) {
                return Err(if cell.chars().count() > rules::MAX_URL_CHARS {
                    format!("URL longer than {} characters", rules::MAX_URL_CHARS)
                } else {
                    format!("`{}` is not a URL (scheme://host...)", clip(cell))
                });
            }
            json::string(out, cell);
        }
        ValueType::Array { separator, mode, json } => {
            let wrap = match mode {
                ArrayMode::Replace => None,
                ArrayMode::Add => Some("$add"),
                ArrayMode::Remove => Some("$remove"),
            };
            if let Some(op) = wrap {
                out.extend_from_slice(b"{");
                json::string(out, op);
                out.push(b':');
            }
            out.push(b'[');
            let mut first = true;
            // A cell holding a JSON array of strings (batchport's own CSV exports
            // write arrays so) is read as that array, whatever the separator.
            let json_items = json_list(cell, *json)?;
            let mut count = 0;
            let mut push = |item: &str| -> Result<(), String> {
                if item.is_empty() {
                    return Ok(());
                }
                count += 1;
                if count > sr.max_items {
                    return Err(format!("more than {} items in the array", sr.max_items));
                }
                check_len(item, StringRules { max_chars: sr.max_item_chars, ..sr })?;
                if !first {
                    out.push(b',');
                }
                first = false;
                json::string(out, item);
                Ok(())
            };
            match &json_items {
                Some(v) => v.iter().try_for_each(|s| push(s.trim()))?,
                // A one-byte separator searches with memchr, a longer one with two-way.
                None => match separator.as_bytes() {
                    [c] if c.is_ascii() => cell.split(char::from(*c)).try_for_each(|s| push(s.trim()))?,
                    _ => cell.split(separator.as_str()).try_for_each(|s| push(s.trim()))?,
                },
            }
            out.push(b']');
            if wrap.is_some() {
                out.push(b'}');
            }
        }
        ValueType::Json => {
            let v: batchport_api::value::Val =
                serde_json::from_str(cell).map_err(|e| format!("`{}` is not JSON ({e})", clip(cell)))?;
            batchport_api::check::event_json(&v)?;
            serde_json::to_writer(&mut *out, &v.to_json()).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Write a native attribute's value, normalised.
pub fn native<O: json::Out>(kind: &NativeKind, cell: &str, out: &mut O) -> Result<(), String> {
    match kind {
        NativeKind::Email => {
            if !rules::is_valid_email(cell) {
                return Err(format!("`{}` is not an email address", clip(cell)));
            }
            json::string(out, cell);
        }
        NativeKind::Phone => json::string(out, &phone(cell, None)?),
        NativeKind::Language => {
            // `en-US`, `en_GB` → `en`: Batch takes the ISO 639-1 part only.
            let mut lang = [0u8; 2];
            let code = cell.split(['-', '_']).next().unwrap_or("").as_bytes();
            if code.len() != 2 || !code.iter().all(u8::is_ascii_alphabetic) {
                return Err(format!("`{}` is not an ISO 639-1 language code (e.g. en, fr)", clip(cell)));
            }
            lang.copy_from_slice(code);
            lang.make_ascii_lowercase();
            // The codes ISO withdrew, still written by older systems (Java's
            // Locale wrote `iw` for Hebrew): to the ones that replaced them.
            let lang = match &lang {
                b"iw" => *b"he",
                b"in" => *b"id",
                b"ji" => *b"yi",
                _ => lang,
            };
            if !rules::is_valid_language(std::str::from_utf8(&lang).unwrap_or("")) {
                return Err(format!("`{}` is not an ISO 639-1 language code (e.g. en, fr)", clip(cell)));
            }
            out.extend_from_slice(&[b'"', lang[0], lang[1], b'"']);
        }
        NativeKind::Region => {
            let code = super::places::country(cell)?;
            out.extend_from_slice(&[b'"', code[0], code[1], b'"']);
        }
        NativeKind::Timezone => json::string(out, super::places::timezone(cell)?),
        NativeKind::EmailMarketing(v) | NativeKind::SmsMarketing(v) => {
            let s = subscription(v, cell)?;
            json::string(out, s);
            out.subscription(matches!(kind, NativeKind::EmailMarketing(_)), Some(s));
        }
    }
    Ok(())
}

/// `Ok(None)`: an `undecided` value, no subscription sent for the row.
pub fn subscription_of(v: &SubscriptionValues, cell: &str) -> Result<Option<&'static str>, String> {
    if !v.undecided.is_empty() {
        // Lowercased once for the whole list (and not at all when it already is).
        let lower = if cell.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
            std::borrow::Cow::Owned(cell.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(cell)
        };
        if v.undecided.iter().any(|w| *w == *lower) {
            return Ok(None);
        }
    }
    subscription(v, cell).map(Some)
}

fn subscription(v: &SubscriptionValues, cell: &str) -> Result<&'static str, String> {
    let lower = if cell.is_ascii() { std::borrow::Cow::Borrowed(cell) } else { cell.to_lowercase().into() };
    let is = |list: &[String]| list.iter().any(|w| w.eq_ignore_ascii_case(&lower));
    if is(&v.subscribed) {
        Ok("subscribed")
    } else if is(&v.unsubscribed) {
        Ok("unsubscribed")
    } else {
        Err(format!(
            "`{}` is not a known subscription value (subscribed: {}; unsubscribed: {})",
            clip(cell),
            v.subscribed.join(", "),
            v.unsubscribed.join(", ")
        ))
    }
}

fn check_len(s: &str, sr: StringRules) -> Result<(), String> {
    // Byte length bounds char count from above: skip the count for short strings.
    if s.len() > sr.max_chars && s.chars().count() > sr.max_chars {
        return Err(format!("text longer than {} characters ({})", sr.max_chars, s.chars().count()));
    }
    Ok(())
}

pub fn parse_int(cell: &str) -> Result<i64, String> {
    let cell = unformula(cell);
    cell.parse::<i64>().map_err(|_| format!("`{}` is not a whole number", clip(cell)))
}

/// Accepts a decimal comma when there is no dot (`3,14` from European Excel)
/// and thousands separators (`1,000`, `1,234.5`, `1.234,5`): a lone comma
/// followed by exactly three digits after a 1-3 digit integer part is a
/// thousands separator, so `1,000` is a thousand, never 1.
pub fn parse_float(cell: &str) -> Result<f64, String> {
    let cell = unformula(cell);
    let bad = || format!("`{}` is not a number", clip(cell));
    let v = match cell.parse::<f64>() {
        Ok(v) => v,
        Err(_) => super::places::ungroup(cell).ok_or_else(bad)?.parse::<f64>().map_err(|_| bad())?,
    };
    if !v.is_finite() {
        return Err(format!("`{}` is not a finite number", clip(cell)));
    }
    // Too small for a double: it would arrive as 0, which the cell does not say.
    if v == 0.0 && cell.split(['e', 'E']).next().is_some_and(|m| m.bytes().any(|b| (b'1'..=b'9').contains(&b))) {
        return Err(format!("`{}` is too close to 0 for a number (it would be sent as 0)", clip(cell)));
    }
    // `-0` and `-0.0` are 0.
    Ok(if v == 0.0 { 0.0 } else { v })
}

pub fn parse_bool(cell: &str) -> Result<bool, String> {
    let is = |words: [&str; 3]| words.iter().any(|w| w.eq_ignore_ascii_case(cell));
    if is(["true", "yes", "1"]) {
        Ok(true)
    } else if is(["false", "no", "0"]) {
        Ok(false)
    } else {
        Err(format!("`{}` is not a boolean (true/false, yes/no, 1/0)", clip(cell)))
    }
}

/// Is `cell` a number in JSON's own plain form (`-12`, `3.25`; no `+`, no
/// leading zero, no exponent), so that it can be copied as it is? The parse
/// before it has checked the value.
fn is_plain_number(cell: &str, fraction: bool) -> bool {
    let b = cell.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let (int, frac) = match digits.iter().position(|&c| c == b'.') {
        Some(dot) if fraction => (&digits[..dot], Some(&digits[dot + 1..])),
        Some(_) => return false,
        None => (digits, None),
    };
    !int.is_empty()
        && int.len() <= 15
        && int.iter().all(u8::is_ascii_digit)
        && (int[0] != b'0' || int.len() == 1)
        && frac.is_none_or(|f| !f.is_empty() && f.len() <= 15 && f.iter().all(u8::is_ascii_digit))
}

/// A date as RFC 3339 UTC. With a strftime `format`, the cell must match it (a
/// value without a zone is taken as UTC); without one, RFC 3339 and `YYYY-MM-DD`.
pub fn parse_date(cell: &str, format: Option<&str>) -> Result<String, String> {
    if let Some(fast) = fast_date(cell, format) {
        return Ok(fast);
    }
    let utc: Option<DateTime<Utc>> = match format {
        Some(f) => NaiveDateTime::parse_from_str(cell, f)
            .map(|d| d.and_utc())
            .or_else(|_| {
                NaiveDate::parse_from_str(cell, f).map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
            })
            .or_else(|_| DateTime::parse_from_str(cell, f).map(|d| d.with_timezone(&Utc)))
            .ok(),
        None => DateTime::parse_from_rfc3339(cell)
            .map(|d| d.with_timezone(&Utc))
            .or_else(|_| {
                NaiveDate::parse_from_str(cell, "%Y-%m-%d")
                    .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
            })
            .or_else(|_| NaiveDateTime::parse_from_str(cell, "%Y-%m-%d %H:%M:%S").map(|d| d.and_utc()))
            .or_else(|_| NaiveDateTime::parse_from_str(cell, "%Y-%m-%dT%H:%M:%S").map(|d| d.and_utc()))
            .ok(),
    };
    match utc {
        // RFC 3339 has four-digit years: `-0001` or `10000` would be refused.
        Some(d) if !(0..=9999).contains(&d.year()) => Err(format!(
            "`{}`: the year {} is outside 0000 to 9999, which RFC 3339 dates cannot hold",
            clip(cell),
            d.year()
        )),
        Some(d) => Ok(d.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        None => Err(match format {
            Some(f) => format!("`{}` does not match the date format `{f}`", clip(cell)),
            None => {
                format!("`{}` is not a date (expected YYYY-MM-DD or RFC 3339; set a `format` for others)", clip(cell))
            }
        }),
    }
}

/// `fast_date` written straight into `out` as a JSON string; false if the
/// cell is not in one of its shapes (nothing written then).
fn fast_date_into<O: json::Out>(cell: &str, format: Option<&str>, out: &mut O) -> bool {
    match fast_date_shape(cell, format) {
        Some(plain) => {
            out.push(b'"');
            out.extend_from_slice(cell.as_bytes());
            if plain {
                out.extend_from_slice(b"T00:00:00Z");
            }
            out.push(b'"');
            true
        }
        None => false,
    }
}

/// `YYYY-MM-DD` (the default or `%Y-%m-%d`) and `...T..:..:..Z` without chrono's
/// general parser: dates are in most rows of most exports.
fn fast_date(cell: &str, format: Option<&str>) -> Option<String> {
    fast_date_shape(cell, format).map(|plain| if plain { format!("{cell}T00:00:00Z") } else { cell.to_string() })
}

/// Some(true): a valid `YYYY-MM-DD`; Some(false): a valid `YYYY-MM-DDTHH:MM:SSZ`
/// (already RFC 3339 UTC); None: another shape, or not a valid date.
fn fast_date_shape(cell: &str, format: Option<&str>) -> Option<bool> {
    let b = cell.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    let plain_date = b.len() == 10 && b[4] == b'-' && b[7] == b'-';
    let utc_time = format.is_none()
        && b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    if !(plain_date && matches!(format, None | Some("%Y-%m-%d")) || utc_time) {
        return None;
    }
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    NaiveDate::from_ymd_opt(y as i32, m, d)?;
    if plain_date {
        return Some(true);
    }
    let (hh, mm, ss) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    (hh < 24 && mm < 60 && ss < 60).then_some(false)
}

/// `+33 6 39-98.13(37)` → `+33639981337`; a `00` international prefix becomes `+`.
pub fn normalise_phone(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with('+') && cell[1..].bytes().all(|b| b.is_ascii_digit()) {
        return cell.into();
    }
    let kept: String = cell.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}')).collect();
    match kept.strip_prefix("00") {
        Some(rest) => format!("+{rest}").into(),
        None => kept.into(),
    }
}

/// Braze (like spreadsheet exports) puts an apostrophe before cells starting
/// with `+ - = @`, so a spreadsheet does not run them as formulas: `'+1415...`;
/// Shopify before long numbers, so it keeps their digits. Numbers, dates and
/// phones only: in text the apostrophe may be the user's.
pub fn unformula(cell: &str) -> &str {
    match cell.as_bytes() {
        // Shopify also writes its ids so: `'7012345678901`.
        [b'\'', b'+' | b'-' | b'=' | b'@' | b'0'..=b'9', ..] => &cell[1..],
        _ => cell,
    }
}

/// A phone number as E.164, read with the `phonenumber` crate (Google's
/// libphonenumber metadata): international numbers as they are, national ones
/// in `region` (`06 39 98 13 37` in FR), the `(0)` trunk prefix written after
/// a country code dropped. Extensions are refused: Batch stores a number only.
pub fn phone<'c>(cell: &'c str, region: Option<&str>) -> Result<std::borrow::Cow<'c, str>, String> {
    let cell = unformula(cell);
    // Already E.164 (most rows of most exports): as is, borrowed, without the
    // parser, which is the costly part of a row.
    if cell.starts_with('+') && plausible(cell) {
        return Ok(cell.into());
    }
    phone_parsed(cell, region).map(Into::into)
}

/// `phone` for a cell that is not E.164 as it is.
fn phone_parsed(cell: &str, region: Option<&str>) -> Result<String, String> {
    let intl = cell.starts_with('+') || cell.starts_with("00");
    // `+33 (0)6...`: the `(0)` is the national trunk prefix, not a digit.
    let cleaned = if intl { cell.replace("(0)", "") } else { cell.to_string() };
    let cleaned = match cleaned.strip_prefix("00") {
        Some(rest) if intl => format!("+{rest}"),
        _ => cleaned,
    };
    let id = region.and_then(|r| r.to_ascii_uppercase().parse::<phonenumber::country::Id>().ok());
    match phonenumber::parse(id, &cleaned) {
        Ok(p) if p.extension().is_some() => Err(format!(
            "`{}` has an extension ({}): Batch takes a phone number without one",
            clip(cell),
            p.extension().map(|e| e.to_string()).unwrap_or_default()
        )),
        // Valid in the numbering plan, or at least shaped like a full number:
        // the metadata lags new ranges, and Batch itself takes any E.164.
        Ok(p) if p.is_valid() || plausible(&p.format().mode(phonenumber::Mode::E164).to_string()) => {
            Ok(p.format().mode(phonenumber::Mode::E164).to_string())
        }
        _ if intl && rules::is_valid_e164(&normalise_phone(&cleaned)) => Ok(normalise_phone(&cleaned).into_owned()),
        _ if !intl && region.is_none() => Err(format!(
            "`{}` is a national number, not E.164 (+33639981337): give the job a phone region (region = \"FR\" or region_column)",
            clip(cell)
        )),
        _ => Err(format!(
            "`{}` is not a valid phone number{}",
            clip(cell),
            region.map(|r| format!(" in {r}")).unwrap_or_default()
        )),
    }
}

/// E.164 with at least 8 digits: a whole number, not a fragment.
fn plausible(e164: &str) -> bool {
    rules::is_valid_e164(e164) && e164.len() > 8
}

/// Items of a JSON-list cell: `["a","b"]` always; `"a","b"` (Mailchimp's TAGS)
/// too when the mapping says `format = "json"` or the cell is all quoted items.
/// `None` when the cell is not one (split on the separator then).
fn json_list(cell: &str, strict: bool) -> Result<Option<Vec<String>>, String> {
    let parsed: Option<Vec<String>> = if cell.starts_with('[') {
        serde_json::from_str(cell).ok()
    } else if cell.starts_with('"') && cell.ends_with('"') && cell.len() >= 2 {
        serde_json::from_str(&format!("[{cell}]")).ok()
    } else {
        None
    };
    match parsed {
        None if strict => Err(format!("`{}` is not a JSON list (\"a\",\"b\" or [\"a\",\"b\"])", clip(cell))),
        p => Ok(p),
    }
}

/// True when an array cell holds no item (`|||`, `[]`, `""`): the row then
/// sends nothing for it, as a blank cell does, instead of clearing the array.
pub fn no_items(ty: &ValueType, cell: &str) -> bool {
    let ValueType::Array { separator, json, .. } = ty else { return false };
    // The usual cell starts with its first item: not blank, nothing to split.
    if !matches!(cell.as_bytes().first(), None | Some(b'[' | b'"'))
        && !cell.starts_with(separator.as_str())
        && !cell.starts_with(char::is_whitespace)
    {
        return false;
    }
    match json_list(cell, false) {
        Ok(Some(items)) => items.iter().all(|s| s.trim().is_empty()),
        _ if *json => false,
        _ => cell.split(separator.as_str()).all(|s| s.trim().is_empty()),
    }
}

/// Cells quoted in messages are cut, so one bad 5 MB cell cannot flood a report.
pub fn clip(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(ty: &ValueType, cell: &str) -> Result<String, String> {
        let mut out = Vec::new();
        typed(ty, cell, PROFILE_STRINGS, &mut out).map(|_| String::from_utf8(out).unwrap())
    }

    fn n(kind: &NativeKind, cell: &str) -> Result<String, String> {
        let mut out = Vec::new();
        native(kind, cell, &mut out).map(|_| String::from_utf8(out).unwrap())
    }

    #[test]
    fn strings() {
        assert_eq!(w(&ValueType::String, "Jane").unwrap(), "\"Jane\"");
        assert!(w(&ValueType::String, &"x".repeat(300)).is_ok());
        assert!(w(&ValueType::String, &"x".repeat(301)).unwrap_err().contains("300"));
        assert!(w(&ValueType::String, &"é".repeat(300)).is_ok(), "chars, not bytes");
    }

    #[test]
    fn numbers_and_bools() {
        assert_eq!(w(&ValueType::Int, "42").unwrap(), "42");
        assert_eq!(w(&ValueType::Int, "-7").unwrap(), "-7");
        assert_eq!(w(&ValueType::Int, "-0").unwrap(), "0", "never -0 (read back as the float -0.0)");
        assert_eq!(w(&ValueType::Float, "-0.0").unwrap(), "0");
        assert!(w(&ValueType::Float, "1e-400").unwrap_err().contains("too close to 0"));
        assert_eq!(w(&ValueType::Float, "0e-400").unwrap(), "0");
        assert!(w(&ValueType::Int, "4.2").is_err());
        assert_eq!(w(&ValueType::Float, "3.5").unwrap(), "3.5");
        assert_eq!(w(&ValueType::Float, "3,5").unwrap(), "3.5");
        assert_eq!(w(&ValueType::Float, "1,000.5").unwrap(), "1000.5");
        assert_eq!(w(&ValueType::Float, "1,000").unwrap(), "1000", "a thousands separator, never 1");
        assert_eq!(w(&ValueType::Float, "1.234,5").unwrap(), "1234.5");
        assert_eq!(w(&ValueType::Float, "0,125").unwrap(), "0.125");
        assert!(w(&ValueType::Float, "1,00,0").is_err());
        assert!(w(&ValueType::Float, "NaN").is_err());
        assert!(w(&ValueType::Float, "inf").is_err());
        for t in ["true", "YES", "1", "True"] {
            assert_eq!(w(&ValueType::Bool, t).unwrap(), "true");
        }
        for f in ["false", "No", "0"] {
            assert_eq!(w(&ValueType::Bool, f).unwrap(), "false");
        }
        assert!(w(&ValueType::Bool, "maybe").is_err());
    }

    #[test]
    fn dates() {
        let d = ValueType::Date { format: None };
        assert_eq!(w(&d, "1989-07-20").unwrap(), "\"1989-07-20T00:00:00Z\"");
        assert_eq!(w(&d, "1989-07-20T10:00:00+02:00").unwrap(), "\"1989-07-20T08:00:00Z\"");
        assert_eq!(w(&d, "1989-07-20 10:11:12").unwrap(), "\"1989-07-20T10:11:12Z\"");
        assert!(w(&d, "20/07/1989").is_err());
        assert!(w(&d, "1989-02-30").is_err());
        assert!(w(&d, "-0001-01-01").unwrap_err().contains("0000 to 9999"));
        assert!(w(&ValueType::Date { format: Some("%Y-%m-%d".into()) }, "-0001-01-01").is_err());
        let f = ValueType::Date { format: Some("%d/%m/%Y".into()) };
        assert_eq!(w(&f, "20/07/1989").unwrap(), "\"1989-07-20T00:00:00Z\"");
        assert!(w(&f, "1989-07-20").unwrap_err().contains("%d/%m/%Y"));
        let t = ValueType::Date { format: Some("%m/%d/%Y %H:%M".into()) };
        assert_eq!(w(&t, "07/20/1989 13:45").unwrap(), "\"1989-07-20T13:45:00Z\"");
    }

    #[test]
    fn urls_and_arrays() {
        assert_eq!(w(&ValueType::Url, "https://e.com/x").unwrap(), "\"https://e.com/x\"");
        assert!(w(&ValueType::Url, "e.com").is_err());
        assert!(w(&ValueType::Url, &format!("https://e.com/{}", "a".repeat(2050))).unwrap_err().contains("2048"));
        let a = ValueType::Array { separator: "|".into(), mode: ArrayMode::Replace, json: false };
        assert_eq!(w(&a, "bikes| cinema ||").unwrap(), r#"["bikes","cinema"]"#);
        assert_eq!(w(&a, r#"["bikes","ci|nema"]"#).unwrap(), r#"["bikes","ci|nema"]"#, "JSON array cells");
        let j = ValueType::Array { separator: ",".into(), mode: ArrayMode::Replace, json: true };
        assert_eq!(w(&j, r#""Customer","Black Friday, 2022""#).unwrap(), r#"["Customer","Black Friday, 2022"]"#);
        assert!(w(&j, "a,b").unwrap_err().contains("JSON list"));
        assert!(no_items(&a, "|||") && no_items(&a, " ") && no_items(&j, "[]") && !no_items(&a, "x|"));
        let add = ValueType::Array { separator: ",".into(), mode: ArrayMode::Add, json: false };
        assert_eq!(w(&add, "premium").unwrap(), r#"{"$add":["premium"]}"#);
        let rm = ValueType::Array { separator: ",".into(), mode: ArrayMode::Remove, json: false };
        assert_eq!(w(&rm, "a,b").unwrap(), r#"{"$remove":["a","b"]}"#);
    }

    #[test]
    fn natives() {
        assert_eq!(n(&NativeKind::Email, "jane@example.com").unwrap(), "\"jane@example.com\"");
        assert!(n(&NativeKind::Email, "jane@").is_err());
        assert_eq!(n(&NativeKind::Phone, "+33 6 39 98 13 37").unwrap(), "\"+33639981337\"");
        assert_eq!(n(&NativeKind::Phone, "0033639981337").unwrap(), "\"+33639981337\"");
        assert!(n(&NativeKind::Phone, "06 39 98 13 37").is_err());
        assert_eq!(phone("+33 (0)6 39 98 13 37", None).unwrap(), "+33639981337", "the (0) trunk prefix is dropped");
        assert_eq!(phone("06 39 98 13 37", Some("FR")).unwrap(), "+33639981337");
        assert_eq!(phone("(217) 544-1234", Some("US")).unwrap(), "+12175441234");
        assert_eq!(phone("'+14155552671", None).unwrap(), "+14155552671", "Braze's apostrophe");
        assert!(phone("06 39 98 13 37", None).unwrap_err().contains("national"));
        assert!(phone("+1 415 555 2671 ext. 12", None).unwrap_err().contains("extension"));
        assert!(phone("12", Some("FR")).is_err());
        // Issue 25: shaped right, naming nothing.
        assert!(phone("+999999999999999", None).is_err());
        assert!(n(&NativeKind::Language, "zz").is_err());
        assert_eq!(n(&NativeKind::Language, "iw").unwrap(), "\"he\"", "a withdrawn code, as Java wrote it");
        assert_eq!(n(&NativeKind::Language, "pt-BR").unwrap(), "\"pt\"");
        assert!(n(&NativeKind::Timezone, "Europe/Pariss").is_err());
        assert!(n(&NativeKind::Timezone, "Etc/GMT+15").is_err());
        assert!(n(&NativeKind::Email, "jane\u{200B}@example.com").is_err());
        assert_eq!(n(&NativeKind::Timezone, "Eastern Time (US & Canada)").unwrap(), "\"America/New_York\"");
        assert_eq!(n(&NativeKind::Language, "EN").unwrap(), "\"en\"");
        assert_eq!(n(&NativeKind::Language, "en-US").unwrap(), "\"en\"");
        assert!(n(&NativeKind::Language, "english").is_err());
        assert_eq!(n(&NativeKind::Region, "fr").unwrap(), "\"FR\"");
        assert_eq!(n(&NativeKind::Region, "France").unwrap(), "\"FR\"");
        assert!(n(&NativeKind::Region, "Atlantis").is_err());
        assert_eq!(n(&NativeKind::Timezone, "Europe/Paris").unwrap(), "\"Europe/Paris\"");
        assert!(n(&NativeKind::Timezone, "CET+1 hour").is_err());
        let v = SubscriptionValues {
            subscribed: vec!["yes".into(), "1".into()],
            unsubscribed: vec!["no".into()],
            undecided: vec![],
        };
        assert_eq!(n(&NativeKind::EmailMarketing(v.clone()), "YES").unwrap(), "\"subscribed\"");
        assert_eq!(n(&NativeKind::SmsMarketing(v.clone()), "no").unwrap(), "\"unsubscribed\"");
        assert!(n(&NativeKind::EmailMarketing(v), "maybe").unwrap_err().contains("maybe"));
    }
}
