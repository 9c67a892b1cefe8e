//! Each type and native kind: what is normalised, what is refused and why.

use super::*;
use crate::job::{NativeKind, SubscriptionValues};

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
fn event_names_in_snake_case() {
    for (name, want) in [
        ("Viewed Product", "viewed_product"),
        ("Added-To-Cart!", "added_to_cart"),
        ("  order  completed ", "order_completed"),
        ("purchase", "purchase"),
        ("Été", "t"),
        ("!!!", ""),
    ] {
        assert_eq!(crate::value::snake_case(name), want, "{name}");
    }
}

/// `format = ["%d/%m/%Y", "%Y-%m-%d %H:%M"]`: the first that reads the cell.
#[test]
fn several_date_formats() {
    let f = format!("%d/%m/%Y{}%Y-%m-%d %H:%M", crate::value::FORMAT_SEPARATOR);
    let d = ValueType::Date { format: Some(f) };
    assert_eq!(w(&d, "23/04/2023").unwrap(), "\"2023-04-23T00:00:00Z\"");
    assert_eq!(w(&d, "2019-04-19 22:20").unwrap(), "\"2019-04-19T22:20:00Z\"");
    let e = w(&d, "April 1st").unwrap_err();
    assert!(e.contains("any of the date formats `%d/%m/%Y`, `%Y-%m-%d %H:%M`"), "{e}");
}

/// What databases and warehouses write for a timestamp, with no `format`.
#[test]
fn sql_timestamps() {
    let d = ValueType::Date { format: None };
    for (cell, want) in [
        ("2023-04-19 22:20", "2023-04-19T22:20:00Z"),
        ("2023-04-19T22:20", "2023-04-19T22:20:00Z"),
        ("2023-04-19 22:20:05.123", "2023-04-19T22:20:05.123Z"),
        ("2023-04-19T22:20:05.123456", "2023-04-19T22:20:05.123456Z"),
        // PostgreSQL's timestamptz, BigQuery's TIMESTAMP.
        ("2023-04-19 22:20:05+00", "2023-04-19T22:20:05Z"),
        ("2023-04-19 22:20:05.5+05:30", "2023-04-19T16:50:05.500Z"),
        ("2023-04-19 22:20:05 UTC", "2023-04-19T22:20:05Z"),
    ] {
        assert_eq!(w(&d, cell).unwrap(), format!("\"{want}\""), "{cell}");
    }
    for bad in ["2023-04-19 25:00", "2023-04-19 22:20:05 CET", "2023-04-19 22", "2023-04-19 22:20:05+99"] {
        assert!(w(&d, bad).is_err(), "{bad}");
    }
}

/// Whole numbers as spreadsheets and dataframes write them.
#[test]
fn whole_numbers_in_their_written_forms() {
    for (cell, want) in [
        ("2.0", "2"),
        ("-3.00", "-3"),
        ("-0.0", "0"),
        ("1,234", "1234"),
        ("1,234,567", "1234567"),
        ("2,0", "2"),
        ("9007199254740993.0", "9007199254740993"),
    ] {
        assert_eq!(w(&ValueType::Int, cell).unwrap(), want, "{cell}");
    }
    for bad in ["1.5", "1e3", "1.234", "99999999999999999999", "NaN", "inf", "2.0.0", "1,5", ".0", ""] {
        assert!(w(&ValueType::Int, bad).is_err(), "{bad}");
    }
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
        when_set: false,
    };
    // The row-hash fingerprint is made of this text: as it always was, or
    // every existing nightly would resend every row once after an upgrade.
    assert_eq!(
        format!("{v:?}"),
        r#"SubscriptionValues { subscribed: ["yes", "1"], unsubscribed: ["no"], undecided: [] }"#
    );
    assert_eq!(n(&NativeKind::EmailMarketing(v.clone()), "YES").unwrap(), "\"subscribed\"");
    assert_eq!(n(&NativeKind::SmsMarketing(v.clone()), "no").unwrap(), "\"unsubscribed\"");
    assert!(n(&NativeKind::EmailMarketing(v), "maybe").unwrap_err().contains("maybe"));
}

/// `when_set = "subscribed"`: an opt-in date is an opt-in; a cell that says
/// no (or nothing) sends nothing, never an opt-out.
#[test]
fn an_opt_in_date_column() {
    let v = SubscriptionValues { when_set: true, ..Default::default() };
    for cell in ["2023-04-19", "2023-04-19 10:00:00", "yes", "x"] {
        assert_eq!(super::natives::subscription_of(&v, cell).unwrap(), Some("subscribed"), "{cell}");
    }
    for cell in ["no", "false", "0", "FALSE"] {
        assert_eq!(super::natives::subscription_of(&v, cell).unwrap(), None, "{cell}");
    }
}
