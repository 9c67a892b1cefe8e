//! Text limits, and array cells: split on the separator, or read as a JSON
//! list.

use super::{StringRules, clip};
use crate::job::ValueType;

pub(super) fn check_len(s: &str, sr: StringRules) -> Result<(), String> {
    // Byte length bounds char count from above: skip the count for short strings.
    if s.len() > sr.max_chars && s.chars().count() > sr.max_chars {
        return Err(format!("text longer than {} characters ({})", sr.max_chars, s.chars().count()));
    }
    Ok(())
}

/// Items of a JSON-list cell: `["a","b"]` always; `"a","b"` (Mailchimp's TAGS)
/// too when the mapping says `format = "json"` or the cell is all quoted items.
/// `None` when the cell is not one (split on the separator then).
pub(super) fn json_list(cell: &str, strict: bool) -> Result<Option<Vec<String>>, String> {
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
pub(crate) fn no_items(ty: &ValueType, cell: &str) -> bool {
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
