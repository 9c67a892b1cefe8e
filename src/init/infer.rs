//! Guessing what a column holds from its sampled values, with the evidence
//! written out (`200/200 sampled values are whole numbers`) so the user can judge
//! the guess. Every guess is checked with the transform's own value functions:
//! a type is proposed only if every sampled value passes it.

use batchport_api::rules;
use batchport_transform::job::{NativeKind, ValueType};
use batchport_transform::value;

/// What a column becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Guess {
    Native(NativeKind),
    Attr(ValueType),
    /// Some value is longer than Batch takes: the column cannot be sent as is.
    TooLong(usize),
}

#[derive(Debug, Clone)]
pub struct Inferred {
    pub guess: Guess,
    pub evidence: String,
}

/// Which natives are still free: a job maps each native once.
pub type Free<'a> = &'a dyn Fn(&NativeKind) -> bool;

/// strftime formats tried in order, explicit ones before the default parser so
/// the job file says what it expects. Formats with `%z` are left out on purpose:
/// `parse_date` tries a naive parse first, which drops the offset.
const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%d %H:%M:%S UTC",
    "%Y-%m-%d %H:%M:%S%.f UTC",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%d-%m-%Y",
    // Brevo's export (`12-04-2022 09:30`, as public code reading it shows).
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%b %d, %Y",
    "%d %b %Y",
];

/// Unix seconds between 2000 and 2100: a 10-digit whole number in a column named
/// like a time is a timestamp, not a count.
const UNIX_RANGE: std::ops::Range<i64> = 946_684_800..4_102_444_800;

/// Every value passes `ty`; else how many fail and the first that does.
pub fn check_attr(ty: &ValueType, values: &[&str]) -> Result<(), (usize, String)> {
    check(values, |v, out| value::typed(ty, v, value::PROFILE_STRINGS, out))
}

pub fn check_native(kind: &NativeKind, values: &[&str]) -> Result<(), (usize, String)> {
    check(values, |v, out| value::native(kind, v, out))
}

fn check(values: &[&str], f: impl Fn(&str, &mut Vec<u8>) -> Result<(), String>) -> Result<(), (usize, String)> {
    let mut out = Vec::new();
    let mut bad = values.iter().filter(|v| {
        out.clear();
        f(v, &mut out).is_err()
    });
    match bad.next() {
        None => Ok(()),
        Some(first) => Err((1 + bad.count(), value::clip(first))),
    }
}

/// The first strftime format every value parses with (`None` = the default
/// parser: RFC 3339 or `YYYY-MM-DD`), with a note when day and month could swap.
pub fn date_format(values: &[&str]) -> Option<(Option<String>, String)> {
    if values.is_empty() {
        return None;
    }
    let parses = |f: Option<&str>| values.iter().all(|v| value::parse_date(v, f).is_ok());
    let found: Vec<&str> = DATE_FORMATS.iter().copied().filter(|f| parses(Some(f))).collect();
    let n = values.len();
    if let Some(f) = found.first() {
        let swapped = f.replace("%m/%d", "%d/%m");
        let note = if swapped != *f && found.contains(&swapped.as_str()) {
            format!(
                "{n}/{n} sampled values are dates in `{f}`; every day in the sample is 12 or less, so day and month could be swapped: check"
            )
        } else {
            format!("{n}/{n} sampled values are dates in `{f}`")
        };
        return Some((Some(f.to_string()), note));
    }
    if parses(None) {
        return Some((None, format!("{n}/{n} sampled values are RFC 3339 or YYYY-MM-DD dates")));
    }
    two_date_formats(values)
}

/// A column in two formats (`23/04/2023` and `2019-04-19 22:20`: a file
/// stitched from two systems): the pair that reads every value, each first
/// where it reads the most, with how many each reads.
fn two_date_formats(values: &[&str]) -> Option<(Option<String>, String)> {
    let n = values.len();
    let reads = |f: &str| values.iter().filter(|v| value::parse_date(v, Some(f)).is_ok()).count();
    let counted: Vec<(&str, usize)> = DATE_FORMATS.iter().map(|f| (*f, reads(f))).filter(|(_, c)| *c > 0).collect();
    // (format, values it reads) for each of the pair.
    type Read<'f> = (&'f str, usize);
    let mut best: Option<(Read, Read)> = None;
    for (i, &(a, ca)) in counted.iter().enumerate() {
        for &(b, cb) in &counted[i + 1..] {
            let both =
                values.iter().all(|v| value::parse_date(v, Some(a)).is_ok() || value::parse_date(v, Some(b)).is_ok());
            if both && best.is_none_or(|((_, c), _)| ca > c) {
                best = Some(((a, ca), (b, cb)));
            }
        }
    }
    // The format that reads more values first.
    let ((a, ca), (b, _)) = best.map(|(x, y)| if y.1 > x.1 { (y, x) } else { (x, y) })?;
    let only_b = n - ca;
    let joined = format!("{a}{}{b}", value::FORMAT_SEPARATOR);
    Some((Some(joined), format!("{n}/{n} sampled values are dates in two formats: {ca} in `{a}`, {only_b} in `{b}`")))
}

/// The format most values parse with, when the others are a minority:
/// (format, how many fail, the first that fails).
fn date_format_mostly(values: &[&str]) -> Option<(Option<String>, usize, String)> {
    let n = values.len();
    let fails = |f: Option<&str>| values.iter().filter(|v| value::parse_date(v, f).is_err()).count();
    let best = DATE_FORMATS
        .iter()
        .map(|f| (Some(f.to_string()), fails(Some(f))))
        .chain(std::iter::once((None, fails(None))))
        .min_by_key(|(_, bad)| *bad)?;
    let (format, bad) = best;
    if bad == 0 || !minority(bad, n) {
        return None;
    }
    let first = values.iter().find(|v| value::parse_date(v, format.as_deref()).is_err()).map(|v| value::clip(v))?;
    Some((format, bad, first))
}

/// Values are Unix seconds (2000..2100).
pub fn unix_seconds(values: &[&str]) -> bool {
    !values.is_empty() && values.iter().all(|v| v.parse::<i64>().is_ok_and(|n| UNIX_RANGE.contains(&n)))
}

/// A column named like a phone number (`Phone`, `mobile`, `tel`).
pub fn phone_name(header: &str) -> bool {
    name_has(header, &["phone", "mobile", "tel", "telephone", "cell", "msisdn", "phonenumber"])
}

fn name_has(header: &str, words: &[&str]) -> bool {
    let h = super::names::snake_case(header);
    words.iter().any(|w| h == *w || h.split('_').any(|p| p == *w) || (w.len() > 4 && h.contains(w)))
}

/// A column named like a country (`country`, `cc`, `country_code`); never
/// `region` or `state`, which hold states as often as countries (CA).
pub fn country_name(header: &str) -> bool {
    name_has(header, &["country", "cc", "country_code", "nation"]) && !name_has(header, &["state", "province"])
}

/// Few enough failing values to map the column anyway and reject those rows:
/// at most 1 in 10, and only on a sample large enough to tell (10 values).
pub fn minority(bad: usize, n: usize) -> bool {
    n >= 10 && bad * 10 <= n
}

/// "12/200 sampled rows would be rejected (e.g. `x`)", for job comments.
pub fn rejects_note(bad: usize, n: usize, first: &str, what: &str) -> String {
    format!(
        "{bad}/{n} sampled values do not fit {what} (e.g. `{first}`): those values would be left out of \
         their rows (the rest of each row is sent) and reported, with the reason, in the rejects file \
         (fix them there and re-import)"
    )
}

/// The values are email addresses, all but a minority (typos and
/// placeholders in a contact list): how many are not.
pub fn emails(values: &[&str]) -> Option<usize> {
    (!values.is_empty()).then(|| mostly(values, rules::is_valid_email)).flatten()
}

/// Every value passes `f`, or all but a minority; the evidence says which.
fn mostly(values: &[&str], f: impl Fn(&str) -> bool) -> Option<usize> {
    let bad = values.iter().filter(|v| !f(v)).count();
    (bad == 0 || minority(bad, values.len())).then_some(bad)
}

/// Guess the type of `header` from its non-blank sampled `values`.
pub fn infer(header: &str, values: &[&str], free: Free<'_>) -> Inferred {
    let n = values.len();
    let all = |what: &str| format!("{n}/{n} sampled values {what}");
    let mk = |guess, evidence: String| Inferred { guess, evidence };
    if n == 0 {
        return mk(Guess::Attr(ValueType::String), "no value in the sample: mapped as text".into());
    }
    let lower: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
    let native_fits = |k: &NativeKind| free(k) && check_native(k, values).is_ok();

    // Subscriptions are `consent`'s: never guessed here from a name alone.
    let some = |bad: usize, what: &str| match bad {
        0 => all(what),
        _ => format!(
            "{}/{n} sampled values {what}; {bad} do not: those values would be left out of their rows \
             (the rest of each row is sent) and reported in the rejects file",
            n - bad
        ),
    };
    if let Some(bad) = emails(values) {
        if free(&NativeKind::Email) {
            return mk(Guess::Native(NativeKind::Email), some(bad, "are email addresses"));
        }
        return mk(
            Guess::Attr(ValueType::String),
            some(bad, "are email addresses (the native email is already mapped)"),
        );
    }
    // `00` is the international prefix only on long numbers; `00501` is a zip code.
    let intl = |v: &&str| v.starts_with('+') || (v.starts_with("00") && v.len() >= 10);
    if values.iter().all(intl) && native_fits(&NativeKind::Phone) {
        return mk(Guess::Native(NativeKind::Phone), all("are international phone numbers"));
    }
    let zone = |v: &&str| {
        rules::is_valid_timezone(v)
            && ["Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Indian/"]
                .iter()
                .chain(&["Pacific/", "Etc/", "UTC"])
                .any(|a| v.starts_with(a))
    };
    if values.iter().all(zone) && native_fits(&NativeKind::Timezone) {
        return mk(Guess::Native(NativeKind::Timezone), all("are IANA time zones"));
    }
    if name_has(header, &["lang", "language", "locale"]) && native_fits(&NativeKind::Language) {
        return mk(Guess::Native(NativeKind::Language), all("are language codes (ISO 639-1, or en-US forms)"));
    }
    if country_name(header) && native_fits(&NativeKind::Region) {
        return mk(Guess::Native(NativeKind::Region), all("are countries (ISO 3166-1 codes or English names)"));
    }
    // `TRUE`/`FALSE` beside `1`/`0` (a spreadsheet's booleans, some typed
    // as numbers) are still booleans, once one value is a word.
    let word = |v: &String| matches!(v.as_str(), "true" | "false" | "yes" | "no");
    if lower.iter().all(|v| word(v) || v == "1" || v == "0") && lower.iter().any(word) {
        let digits = if lower.iter().all(word) { "" } else { " (or 1/0)" };
        return mk(Guess::Attr(ValueType::Bool), all(&format!("are true/false or yes/no{digits}")));
    }
    let flag_name = name_has(header, &["is", "has", "opt", "flag", "enabled", "active", "verified"]);
    if flag_name && lower.iter().all(|v| v == "0" || v == "1") {
        return mk(Guess::Attr(ValueType::Bool), all("are 0 or 1 and the name reads as a flag"));
    }
    let time_name = name_has(header, &["at", "date", "time", "timestamp", "created", "updated", "last", "since"]);
    let unix = |v: &str| v.parse::<i64>().is_ok_and(|n| UNIX_RANGE.contains(&n));
    if time_name && let Some(bad) = mostly(values, unix) {
        return mk(
            Guess::Attr(ValueType::Date { format: Some("%s".into()) }),
            some(bad, "are Unix timestamps in seconds (2000-2100), read with format %s"),
        );
    }
    // `007`, `01234`: a code whose zeros matter; `0.5` is a number.
    let leading_zero = values.iter().any(|v| {
        let b = v.trim_start_matches(['-', '+']).as_bytes();
        b.len() > 1 && b[0] == b'0' && b[1].is_ascii_digit()
    });
    let id_name = name_has(header, &["id", "uid", "uuid", "zip", "postal", "postcode", "code"]);
    // `2.0` and `1,000` are read as whole numbers, but a column written so
    // (`10.00`) is more likely amounts: guessed as decimals, as before.
    let whole = |v: &str| value::parse_int(v).is_ok() && !v.contains(['.', ',']);
    if values.iter().all(|v| whole(v)) {
        if leading_zero || id_name || values.iter().any(|v| v.starts_with('+')) {
            return mk(
                Guess::Attr(ValueType::String),
                all("are digits, kept as text: an identifier or code (leading zeros and exact match matter)"),
            );
        }
        let note = if lower.iter().all(|v| v == "0" || v == "1") { " (only 0 and 1: maybe a flag)" } else { "" };
        return mk(Guess::Attr(ValueType::Int), all(&format!("are whole numbers{note}")));
    }
    if values.iter().all(|v| v.contains(['.', ',']) || v.parse::<i64>().is_ok())
        && check_attr(&ValueType::Float, values).is_ok()
        && !leading_zero
    {
        let comma = if values.iter().any(|v| v.contains(',')) { " (some with a decimal comma)" } else { "" };
        return mk(Guess::Attr(ValueType::Float), all(&format!("are decimal numbers{comma}")));
    }
    if !leading_zero
        && !id_name
        && !values.iter().any(|v| !whole(v) && value::parse_float(v).is_ok())
        && let Some(bad) = mostly(values, whole)
        && bad > 0
    {
        return mk(Guess::Attr(ValueType::Int), some(bad, "are whole numbers"));
    }
    let number = |v: &str| (v.contains(['.', ',']) || v.parse::<i64>().is_ok()) && value::parse_float(v).is_ok();
    if !leading_zero
        && !id_name
        && let Some(bad) = mostly(values, number)
        && bad > 0
    {
        return mk(Guess::Attr(ValueType::Float), some(bad, "are numbers"));
    }
    if let Some((format, evidence)) = date_format(values) {
        return mk(Guess::Attr(ValueType::Date { format }), evidence);
    }
    if let Some((format, bad, first)) = date_format_mostly(values) {
        let evidence = format!(
            "{}/{n} sampled values are dates in `{}`; {}",
            n - bad,
            format.as_deref().unwrap_or("RFC 3339"),
            rejects_note(bad, n, &first, "it")
        );
        return mk(Guess::Attr(ValueType::Date { format }), evidence);
    }
    if values.iter().all(|v| rules::is_valid_url(v)) {
        return mk(Guess::Attr(ValueType::Url), all("are URLs"));
    }
    // `["a","b"]`: a list exported as JSON (JSON lines sources write lists so).
    let json_list = |v: &&str| v.starts_with('[') && serde_json::from_str::<Vec<String>>(v).is_ok();
    if values.iter().all(json_list) {
        let ty =
            ValueType::Array { separator: ",".into(), mode: batchport_transform::job::ArrayMode::Replace, json: true };
        if check_attr(&ty, values).is_ok() {
            return mk(Guess::Attr(ty), all("are JSON lists of text"));
        }
    }
    if name_has(header, &["tags", "tag", "interests", "segments", "lists", "groups", "categories", "labels"]) {
        let sep = ["|", ";", ","]
            .into_iter()
            .max_by_key(|s| values.iter().filter(|v| v.contains(s)).count())
            .filter(|s| values.iter().any(|v| v.contains(s)))
            .unwrap_or(",");
        let json = values.iter().all(|v| v.starts_with('"') || v.starts_with('['));
        let ty = ValueType::Array { separator: sep.into(), mode: batchport_transform::job::ArrayMode::Replace, json };
        if check_attr(&ty, values).is_ok() {
            return mk(Guess::Attr(ty), format!("a list by its name; items split on `{sep}`"));
        }
    }
    string(values)
}

/// Plain text, unless some value is longer than Batch takes.
pub fn string(values: &[&str]) -> Inferred {
    let longest = values.iter().map(|v| v.chars().count()).max().unwrap_or(0);
    if longest > rules::MAX_STRING_CHARS {
        let over = values.iter().filter(|v| v.chars().count() > rules::MAX_STRING_CHARS).count();
        return Inferred {
            guess: Guess::TooLong(longest),
            evidence: format!(
                "{over} sampled values are longer than the {} characters Batch takes (longest: {longest})",
                rules::MAX_STRING_CHARS
            ),
        };
    }
    Inferred {
        guess: Guess::Attr(ValueType::String),
        evidence: format!("text ({} sampled values, the longest {longest} characters)", values.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guess(header: &str, values: &[&str]) -> Guess {
        infer(header, values, &|_| true).guess
    }

    #[test]
    fn spreadsheet_booleans_mixed_with_digits_are_bools() {
        assert_eq!(guess("active", &["TRUE", "FALSE", "1", "0", "TRUE"]), Guess::Attr(ValueType::Bool));
        // Digits alone are numbers (or a flag, by its name).
        assert_eq!(guess("count", &["1", "0", "1"]), Guess::Attr(ValueType::Int));
    }

    #[test]
    fn numbers_bools_and_text() {
        assert_eq!(guess("orders", &["1", "22", "-3"]), Guess::Attr(ValueType::Int));
        assert_eq!(guess("zip", &["01234", "75001"]), Guess::Attr(ValueType::String));
        assert_eq!(guess("score", &["1.5", "2", "3,25"]), Guess::Attr(ValueType::Float));
        assert_eq!(guess("vip", &["TRUE", "no"]), Guess::Attr(ValueType::Bool));
        assert_eq!(guess("is_vip", &["0", "1"]), Guess::Attr(ValueType::Bool));
        assert_eq!(guess("nick", &["Al", "Bo"]), Guess::Attr(ValueType::String));
        assert!(matches!(guess("bio", &[&"x".repeat(301)]), Guess::TooLong(301)));
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(
            guess("born", &["1990-01-02", "2001-12-31"]),
            Guess::Attr(ValueType::Date { format: Some("%Y-%m-%d".into()) })
        );
        assert_eq!(
            guess("seen", &["13/01/2020", "02/03/2021"]),
            Guess::Attr(ValueType::Date { format: Some("%d/%m/%Y".into()) })
        );
        assert_eq!(
            guess("created_at", &["1700000000", "1600000000"]),
            Guess::Attr(ValueType::Date { format: Some("%s".into()) })
        );
        assert_eq!(guess("visits", &["1700000000"]), Guess::Attr(ValueType::Int));
        let (_, note) = date_format(&["01/02/2020"]).unwrap();
        assert!(note.contains("swapped"), "{note}");
        // `%s` parses with the transform's own date parser (chrono supports it).
        assert_eq!(value::parse_date("1700000000", Some("%s")).unwrap(), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn natives_by_value_and_name() {
        assert_eq!(guess("mail", &["a@b.co"]), Guess::Native(NativeKind::Email));
        assert_eq!(guess("mobile", &["+33 6 39 98 13 37"]), Guess::Native(NativeKind::Phone));
        assert_eq!(guess("tz", &["Europe/Paris", "UTC"]), Guess::Native(NativeKind::Timezone));
        assert_eq!(guess("locale", &["en-US", "fr"]), Guess::Native(NativeKind::Language));
        assert_eq!(guess("country", &["fr", "US", "United States"]), Guess::Native(NativeKind::Region));
        assert_eq!(guess("region", &["CA", "IN"]), Guess::Attr(ValueType::String), "states, not countries");
        assert_eq!(guess("initials", &["fr", "US"]), Guess::Attr(ValueType::String));
        let taken = infer("mail", &["a@b.co"], &|k| *k != NativeKind::Email).guess;
        assert_eq!(taken, Guess::Attr(ValueType::String));
    }

    #[test]
    fn a_minority_of_odd_values_is_left_out_of_its_rows() {
        let mut v: Vec<String> = (0..90).map(|i| (1_600_000_000 + i).to_string()).collect();
        v.extend((0..10).map(|_| "2021-03-04".to_string()));
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        let got = infer("created_at", &refs, &|_| true);
        assert_eq!(got.guess, Guess::Attr(ValueType::Date { format: Some("%s".into()) }));
        assert!(got.evidence.contains("90/100") && got.evidence.contains("left out"), "{}", got.evidence);
        let mut w: Vec<String> = (0..95).map(|i| i.to_string()).collect();
        w.extend((0..5).map(|_| "n/a".to_string()));
        let refs: Vec<&str> = w.iter().map(String::as_str).collect();
        assert_eq!(infer("orders", &refs, &|_| true).guess, Guess::Attr(ValueType::Int));
        let mut x: Vec<String> = (0..19).map(|i| format!("{i}.5")).collect();
        x.push("N/A".into());
        let refs: Vec<&str> = x.iter().map(String::as_str).collect();
        assert_eq!(infer("score", &refs, &|_| true).guess, Guess::Attr(ValueType::Float));
        let mut p: Vec<&str> = vec!["10"; 19];
        p.push("10.5");
        assert_eq!(
            infer("price", &p, &|_| true).guess,
            Guess::Attr(ValueType::Float),
            "all fit a float: none rejected"
        );
        // Half and half is no majority: text, nothing rejected.
        let half: Vec<&str> = (0..20).map(|i| if i % 2 == 0 { "1" } else { "x" }).collect();
        assert_eq!(infer("orders", &half, &|_| true).guess, Guess::Attr(ValueType::String));
    }

    #[test]
    fn urls_and_lists() {
        assert_eq!(guess("site", &["https://a.example/x"]), Guess::Attr(ValueType::Url));
        assert_eq!(
            guess("interests", &["bikes|cinema", "cooking"]),
            Guess::Attr(ValueType::Array {
                separator: "|".into(),
                mode: batchport_transform::job::ArrayMode::Replace,
                json: false
            })
        );
    }
}
