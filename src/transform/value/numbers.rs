//! Whole numbers, decimals (with the decimal commas and thousands
//! separators spreadsheets write) and booleans.

use super::clip;

/// A whole number (`-12`; a spreadsheet's leading `'` is dropped), also as
/// spreadsheets and dataframes write one: grouped (`1,234`) or as a decimal
/// with nothing after the point (`2.0`, from a float column: pandas writes
/// whole numbers so whenever a column has a blank). Read from the text, never
/// through a float (exact to the last digit). Never `1.5`, `1.234` or `1e3`.
pub fn parse_int(cell: &str) -> Result<i64, String> {
    let cell = unformula(cell);
    if let Ok(v) = cell.parse::<i64>() {
        return Ok(v);
    }
    let bad = || format!("`{}` is not a whole number", clip(cell));
    if cell.contains(['e', 'E']) {
        return Err(bad());
    }
    // A plain decimal as it stands (`1.234` is a decimal, not grouped);
    // otherwise with its separators read as `parse_float` does.
    let plain =
        if cell.parse::<f64>().is_ok() { cell.to_string() } else { crate::places::ungroup(cell).ok_or_else(bad)? };
    let whole = match plain.split_once('.') {
        Some((whole, fraction)) if fraction.bytes().all(|b| b == b'0') => whole,
        Some(_) => return Err(bad()),
        None => &plain,
    };
    whole.parse::<i64>().map_err(|_| bad())
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
        Err(_) => crate::places::ungroup(cell).ok_or_else(bad)?.parse::<f64>().map_err(|_| bad())?,
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

/// true/false, yes/no or 1/0, in any letter case.
pub(super) fn parse_bool(cell: &str) -> Result<bool, String> {
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
pub(super) fn is_plain_number(cell: &str, fraction: bool) -> bool {
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

/// Braze (like spreadsheet exports) puts an apostrophe before cells starting
/// with `+ - = @`, so a spreadsheet does not run them as formulas: `'+1415...`;
/// Shopify before long numbers, so it keeps their digits. Numbers, dates and
/// phones only: in text the apostrophe may be the user's.
pub(super) fn unformula(cell: &str) -> &str {
    match cell.as_bytes() {
        // Shopify also writes its ids so: `'7012345678901`.
        [b'\'', b'+' | b'-' | b'=' | b'@' | b'0'..=b'9', ..] => &cell[1..],
        _ => cell,
    }
}
