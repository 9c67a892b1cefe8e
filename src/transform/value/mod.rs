//! One cell → one JSON value, by the mapping's type and API.md's value rules.
//! Normalises what is safe (trim, letter case, dates to RFC 3339 UTC, phone
//! punctuation); anything else that breaks a rule is an error with the reason.
//!
//! By family: dates (`dates`), numbers and booleans (`numbers`), phone
//! numbers (`phones`), native attributes and subscriptions (`natives`),
//! text limits and array cells (`text`); `typed` picks by the mapping's type.

mod dates;
mod natives;
mod numbers;
mod phones;
#[cfg(test)]
mod tests;
mod text;

pub use dates::{FORMAT_SEPARATOR, parse_date};

/// `Viewed Product` → `viewed_product`, `Added-To-Cart!` → `added_to_cart`:
/// lowercase ASCII letters and digits, every other run of characters one
/// `_`, none at either end (`event_case = "snake"`).
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}
pub use natives::native;
pub(crate) use natives::subscription_of;
pub use numbers::{parse_float, parse_int};
pub(crate) use phones::NO_REGION_HINT;
pub use phones::phone;
pub(crate) use text::no_items;

use super::json;
use crate::job::{ArrayMode, ValueType};
use batchport_api::rules;
use dates::fast_date_into;
use numbers::{is_plain_number, parse_bool, unformula};
use text::{check_len, json_list};

/// Text limits that differ between profile attributes, catalog item attributes
/// and the reserved event attributes (all from [`rules::TABLE`], in characters).
#[derive(Debug, Clone, Copy)]
pub struct StringRules {
    pub(crate) max_chars: usize,
    /// Items of an array value.
    pub(crate) max_items: usize,
    /// Characters of one array item.
    pub(crate) max_item_chars: usize,
}

/// Profile attributes, and event attributes other than `$label` and `$tags`.
pub const PROFILE_STRINGS: StringRules =
    StringRules { max_chars: rules::MAX_STRING_CHARS, max_items: usize::MAX, max_item_chars: rules::MAX_STRING_CHARS };
/// Catalog item attributes.
pub(crate) const CATALOG_STRINGS: StringRules = StringRules {
    max_chars: rules::MAX_CATALOG_STRING_CHARS,
    max_items: rules::MAX_CATALOG_ARRAY_ITEMS,
    max_item_chars: rules::MAX_CATALOG_ARRAY_ITEM_CHARS,
};
/// `$label` of an event.
pub(crate) const LABEL_STRINGS: StringRules = StringRules { max_chars: rules::MAX_LABEL_CHARS, ..PROFILE_STRINGS };
/// `$tags` of an event.
pub(crate) const TAGS_STRINGS: StringRules =
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
