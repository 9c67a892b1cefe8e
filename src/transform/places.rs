//! Countries, time zones and numbers as other tools write them, to what Batch
//! takes: country names and codes to ISO 3166-1 alpha-2 (`celes`), Rails and
//! Windows zone names to IANA (`zones`), grouped numbers to plain ones.
//!
//! `celes` was chosen for countries: a maintained ISO 3166-1 table with the
//! alpha-2, alpha-3, numeric codes, official names and common English aliases
//! ("United States", "USA", "Russia"), no dependencies beyond serde, and
//! case-insensitive lookups. `isocountry` has no aliases; `keshvar` carries
//! much more data (translations, geography) than a mapping needs.

use super::value::clip;
use batchport_api::rules;

/// Codes people write that are not ISO's own.
const NOT_ISO: &[(&str, &str)] = &[("UK", "GB"), ("EL", "GR"), ("EN", "GB")];

/// A country as its two-letter ISO code, uppercase: `fr`, `FRA`, `France`,
/// `United States`, `UK` all work. Subdivision codes (`CA` for California)
/// cannot be told from countries here: `init` keeps state columns away.
pub fn country(cell: &str) -> Result<[u8; 2], String> {
    let err = || format!("`{}` is not a country (ISO 3166-1 code or English name, e.g. FR, FRA, France)", clip(cell));
    let t = cell.trim();
    // The common case, a two-letter code: a table lookup.
    if let [a, b] = *t.as_bytes()
        && a.is_ascii_alphabetic()
        && b.is_ascii_alphabetic()
        && let Some(code) =
            ALPHA2[usize::from(a.to_ascii_uppercase() - b'A') * 26 + usize::from(b.to_ascii_uppercase() - b'A')]
    {
        return Ok(code);
    }
    if let Some((_, iso)) = NOT_ISO.iter().find(|(k, _)| k.eq_ignore_ascii_case(t)) {
        return Ok(two(iso));
    }
    let key: String = t.chars().filter(|c| c.is_alphanumeric()).collect();
    let found = match key.len() {
        0 | 1 => None,
        2 => celes::Country::from_alpha2(&key).ok(),
        3 if key.bytes().all(|b| b.is_ascii_digit()) => celes::Country::from_code(&key).ok(),
        3 => celes::Country::from_alpha3(&key).ok().or_else(|| celes::Country::from_alias(&key).ok()),
        _ => celes::Country::from_name(&key).ok().or_else(|| celes::Country::from_alias(&key).ok()).or_else(|| {
            // "The Netherlands", "Republic of Korea": drop a leading article.
            let lower = key.to_lowercase();
            lower.strip_prefix("the").and_then(|k| celes::Country::from_name(k).ok())
        }),
    };
    found.map(|c| two(c.alpha2)).ok_or_else(err)
}

/// Every two-letter code `celes` knows, by its letters (AA = 0 ... ZZ = 675),
/// built once: the per-row lookup was a hash, a copy and a country built.
static ALPHA2: std::sync::LazyLock<[Option<[u8; 2]>; 676]> = std::sync::LazyLock::new(|| {
    let mut table = [None; 676];
    for (i, slot) in table.iter_mut().enumerate() {
        let code = [b'A' + (i / 26) as u8, b'A' + (i % 26) as u8];
        let code = std::str::from_utf8(&code).unwrap_or_default();
        *slot = celes::Country::from_alpha2(code).ok().map(|c| two(c.alpha2));
    }
    table
});

fn two(code: &str) -> [u8; 2] {
    let b = code.as_bytes();
    [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()]
}

/// An IANA zone as is, or the IANA zone a Rails / Windows name stands for.
pub(crate) fn timezone(cell: &str) -> Result<&str, String> {
    if rules::is_valid_timezone(cell) {
        return Ok(cell);
    }
    super::zones::to_iana(cell).ok_or_else(|| {
        format!("`{}` is not an IANA time zone (e.g. Europe/Paris) nor a Rails or Windows zone name", clip(cell))
    })
}

/// `1,234.5` → `1234.5`, `1.234,5` → `1234.5`, `1,000` → `1000`, `3,14` →
/// `3.14`; `None` when separators are not in groups of three.
pub(crate) fn ungroup(cell: &str) -> Option<String> {
    let (sign, body) = match cell.strip_prefix('-') {
        Some(b) => ("-", b),
        None => ("", cell.strip_prefix('+').unwrap_or(cell)),
    };
    let (commas, dots) = (body.matches(',').count(), body.matches('.').count());
    let (group, decimal) = match (commas, dots) {
        (0, _) => ('.', None),
        (_, 0) if commas == 1 => {
            let (int, frac) = body.split_once(',')?;
            // `1,000`: a thousand (a decimal comma with exactly three digits
            // after a short integer part is the rarer reading); `0,125` stays
            // decimal because a grouped number never starts with 0.
            let grouped = frac.len() == 3 && (1..=3).contains(&int.len()) && !int.starts_with('0');
            if grouped { (',', None) } else { (',', Some(',')) }
        }
        (_, 0) => (',', None),
        _ => {
            let last_comma = body.rfind(',')?;
            let last_dot = body.rfind('.')?;
            if last_dot > last_comma { (',', Some('.')) } else { ('.', Some(',')) }
        }
    };
    let (int, frac) = match decimal {
        Some(d) => {
            let at = body.rfind(d)?;
            (&body[..at], Some(&body[at + 1..]))
        }
        None => (body, None),
    };
    if decimal == Some(group) {
        // A lone decimal comma: no grouping in the integer part.
        return (int.bytes().all(|b| b.is_ascii_digit()) && !int.is_empty())
            .then(|| format!("{sign}{int}.{}", frac.unwrap_or("")));
    }
    let parts: Vec<&str> = int.split(group).collect();
    let grouped = parts.len() > 1
        && (1..=3).contains(&parts[0].len())
        && parts[1..].iter().all(|p| p.len() == 3)
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !grouped {
        return None;
    }
    let digits: String = parts.concat();
    Some(match frac {
        Some(f) => format!("{sign}{digits}.{f}"),
        None => format!("{sign}{digits}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_by_code_and_name() {
        for (cell, want) in [
            ("fr", "FR"),
            ("FRA", "FR"),
            ("France", "FR"),
            ("United States", "US"),
            ("united states of america", "US"),
            ("USA", "US"),
            ("UK", "GB"),
            ("United Kingdom", "GB"),
            ("Germany", "DE"),
            ("250", "FR"),
            ("The Netherlands", "NL"),
        ] {
            assert_eq!(country(cell).map(|c| String::from_utf8(c.to_vec()).unwrap()), Ok(want.to_string()), "{cell}");
        }
        assert!(country("Atlantis").is_err());
        assert!(country("X").is_err());
    }

    #[test]
    fn zones() {
        assert_eq!(timezone("Europe/Paris"), Ok("Europe/Paris"));
        assert_eq!(timezone("Eastern Time (US & Canada)"), Ok("America/New_York"));
        assert_eq!(timezone("Romance Standard Time"), Ok("Europe/Paris"));
        assert!(timezone("CET+1 hour").is_err());
    }

    #[test]
    fn grouped_numbers() {
        assert_eq!(ungroup("1,000").as_deref(), Some("1000"));
        assert_eq!(ungroup("12,345,678").as_deref(), Some("12345678"));
        assert_eq!(ungroup("1,234.56").as_deref(), Some("1234.56"));
        assert_eq!(ungroup("1.234,56").as_deref(), Some("1234.56"));
        assert_eq!(ungroup("1.234.567").as_deref(), Some("1234567"));
        assert_eq!(ungroup("3,14").as_deref(), Some("3.14"));
        assert_eq!(ungroup("-0,5").as_deref(), Some("-0.5"));
        assert_eq!(ungroup("1,00,0"), None);
        assert_eq!(ungroup("12,34.5"), None);
        assert_eq!(ungroup("abc"), None);
    }
}
