//! Native attributes' values (email, phone, language, region, time zone)
//! and the words of a subscription column, normalised to what Batch takes.

use super::{clip, phone};
use crate::job::{NativeKind, SubscriptionValues};
use crate::json;
use batchport_api::rules;

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
            let code = crate::places::country(cell)?;
            out.extend_from_slice(&[b'"', code[0], code[1], b'"']);
        }
        NativeKind::Timezone => json::string(out, crate::places::timezone(cell)?),
        NativeKind::EmailMarketing(v) | NativeKind::SmsMarketing(v) => {
            let s = subscription(v, cell)?;
            json::string(out, s);
            out.subscription(matches!(kind, NativeKind::EmailMarketing(_)), Some(s));
        }
    }
    Ok(())
}

/// `Ok(None)`: an `undecided` value, no subscription sent for the row.
pub(crate) fn subscription_of(v: &SubscriptionValues, cell: &str) -> Result<Option<&'static str>, String> {
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
    match subscription(v, cell) {
        // An opt-in date column: `false`, `0`, `no` say nothing.
        Err(_) if v.when_set && !crate::native::is_set(cell) => Ok(None),
        other => other.map(Some),
    }
}

fn subscription(v: &SubscriptionValues, cell: &str) -> Result<&'static str, String> {
    let lower = if cell.is_ascii() { std::borrow::Cow::Borrowed(cell) } else { cell.to_lowercase().into() };
    let is = |list: &[String]| list.iter().any(|w| w.eq_ignore_ascii_case(&lower));
    if is(&v.subscribed) {
        Ok("subscribed")
    } else if is(&v.unsubscribed) {
        Ok("unsubscribed")
    } else if v.when_set && crate::native::is_set(cell) {
        Ok("subscribed")
    } else {
        Err(format!(
            "`{}` is not a known subscription value (subscribed: {}; unsubscribed: {})",
            clip(cell),
            v.subscribed.join(", "),
            v.unsubscribed.join(", ")
        ))
    }
}
