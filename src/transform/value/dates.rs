//! Dates to RFC 3339 UTC: by the mapping's strftime `format`, else RFC 3339
//! and `YYYY-MM-DD`, with a fast path for the shapes most exports write.

use super::clip;
use crate::json;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// Joins the formats of `format = [...]` in `ValueType::Date`'s one text: a
/// newline never appears in a strftime pattern (the job refuses one), and a
/// single format keeps its text (the change index's fingerprint is made of it).
pub const FORMAT_SEPARATOR: char = '\n';

/// A date as RFC 3339 UTC. With a strftime `format`, the cell must match it (a
/// value without a zone is taken as UTC); without one, RFC 3339, `YYYY-MM-DD`
/// and the timestamps databases write (`sql_timestamp`).
pub fn parse_date(cell: &str, format: Option<&str>) -> Result<String, String> {
    if let Some(fast) = fast_date(cell, format) {
        return Ok(fast);
    }
    // `format = ["%d/%m/%Y", "%Y-%m-%d %H:%M"]`: the first that reads the cell.
    if let Some(formats) = format.filter(|f| f.contains(FORMAT_SEPARATOR)) {
        return formats.split(FORMAT_SEPARATOR).find_map(|f| parse_date(cell, Some(f)).ok()).ok_or_else(|| {
            let list: Vec<String> = formats.split(FORMAT_SEPARATOR).map(|f| format!("`{f}`")).collect();
            format!("`{}` does not match any of the date formats {}", clip(cell), list.join(", "))
        });
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
            .ok()
            .or_else(|| sql_timestamp(cell)),
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
                format!(
                    "`{}` is not a date (expected YYYY-MM-DD, RFC 3339 or YYYY-MM-DD HH:MM:SS; set a `format` for others)",
                    clip(cell)
                )
            }
        }),
    }
}

/// The timestamps databases and warehouses write, without a `format`:
/// `2023-04-19 22:20:05` and `...T22:20:05` (seconds optional, fractions
/// kept), with a zone offset as PostgreSQL writes it (`+00`, `+05:30`) or
/// BigQuery's ` UTC`; without a zone, UTC.
fn sql_timestamp(cell: &str) -> Option<DateTime<Utc>> {
    const NAIVE: [&str; 4] = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"];
    const ZONED: [&str; 2] = ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"];
    let naive = cell.strip_suffix(" UTC").unwrap_or(cell);
    NAIVE
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(naive, f).ok())
        .map(|d| d.and_utc())
        .or_else(|| ZONED.iter().find_map(|f| DateTime::parse_from_str(cell, f).ok()).map(|d| d.with_timezone(&Utc)))
}

/// `fast_date` written straight into `out` as a JSON string; false if the
/// cell is not in one of its shapes (nothing written then).
pub(super) fn fast_date_into<O: json::Out>(cell: &str, format: Option<&str>, out: &mut O) -> bool {
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
