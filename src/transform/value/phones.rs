//! Phone numbers to E.164, national numbers read in the job's region.

use super::{clip, unformula};
use batchport_api::rules;

/// `+33 6 39-98.13(37)` → `+33639981337`; a `00` international prefix becomes `+`.
fn normalise_phone(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with('+') && cell[1..].bytes().all(|b| b.is_ascii_digit()) {
        return cell.into();
    }
    let kept: String = cell.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}')).collect();
    match kept.strip_prefix("00") {
        Some(rest) => format!("+{rest}").into(),
        None => kept.into(),
    }
}

/// The end of a national number's reason when the job gives no region: a
/// caller that knows the row's region cell was the cause says that instead.
pub(crate) const NO_REGION_HINT: &str = ": give the job a phone region (region = \"FR\" or region_column)";

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
        _ if !intl && region.is_none() => {
            Err(format!("`{}` is a national number, not E.164 (+33639981337){NO_REGION_HINT}", clip(cell)))
        }
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
