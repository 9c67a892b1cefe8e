//! Row → operation: values round-trip, and no input makes the transform panic.

use batchport_source::{Position, RawRow};
use batchport_transform::Transformer;
use batchport_transform::job;
use proptest::prelude::*;
use std::path::Path;

const JOB: &str = r#"
[job]
name = "t"
kind = "profiles"
[source]
path = "x.csv"
[mapping]
custom_id = "id"
blank = "clear"
[mapping.native]
email_address = "email"
language = "lang"
[mapping.attributes]
s = "s"
i = { column = "i", type = "int" }
f = { column = "f", type = "float" }
b = { column = "b", type = "bool" }
d = { column = "d", type = "date" }
a = { column = "a", type = "array", separator = "|" }
"#;

const HEADER: [&str; 9] = ["id", "email", "lang", "s", "i", "f", "b", "d", "a"];

fn transformer() -> Transformer {
    let job = job::parse(JOB, Path::new("t.toml")).unwrap();
    let headers: Vec<String> = HEADER.iter().map(|s| s.to_string()).collect();
    Transformer::bind(&job, &headers, Path::new("x.csv")).unwrap()
}

fn row(fields: &[&[u8]]) -> RawRow {
    let mut record = csv::ByteRecord::new();
    for f in fields {
        record.push_field(f);
    }
    RawRow::new(Position { line: 2, byte: 0, record: 0 }, record)
}

#[test]
fn blank_clear_sends_null_and_order_is_kept() {
    let t = transformer();
    let rows: Vec<RawRow> = (0..2000)
        .map(|i| {
            let id = format!("u{i}");
            row(&[id.as_bytes(), b"", b"EN", b"x", b"1", b"1.5", b"yes", b"2020-01-01", b""])
        })
        .collect();
    let out = t.map_chunk(rows);
    assert_eq!(out.len(), 2000);
    for (i, r) in out.iter().enumerate() {
        let op = r.as_ref().unwrap();
        assert_eq!(op.key, format!("u{i}"));
        let v: serde_json::Value = serde_json::from_slice(&op.attrs).unwrap();
        assert_eq!(v["$email_address"], serde_json::Value::Null);
        assert!(v.as_object().unwrap().contains_key("$email_address"));
        assert_eq!(v["$language"], "en");
        assert_eq!(v["date(d)"], "2020-01-01T00:00:00Z");
        assert_eq!(v["a"], serde_json::Value::Null);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any valid row's operation carries exactly the values it came from.
    #[test]
    fn valid_rows_round_trip(
        id in "[A-Za-z0-9_-]{1,40}",
        s in "[^\\s|][^\\x00-\\x1f]{0,120}[^\\s|]",
        i in any::<i64>(),
        f in -1e12f64..1e12,
        b in any::<bool>(),
        (y, m, d) in (1900i32..2100, 1u32..13, 1u32..29),
        items in proptest::collection::vec("[a-z0-9 ]{0,8}[a-z0-9]", 1..5),
    ) {
        let t = transformer();
        let (is, fs, date, arr) = (i.to_string(), f.to_string(), format!("{y:04}-{m:02}-{d:02}"), items.join("|"));
        let bs = if b { "TRUE" } else { "no" };
        let r = row(&[id.as_bytes(), b"jane@example.com", b"fr", s.as_bytes(), is.as_bytes(), fs.as_bytes(), bs.as_bytes(), date.as_bytes(), arr.as_bytes()]);
        let op = t.map_row(r).expect("valid row");
        prop_assert_eq!(&op.key, &id);
        let v: serde_json::Value = serde_json::from_slice(&op.attrs).unwrap();
        prop_assert_eq!(v["s"].as_str().unwrap(), s.trim());
        prop_assert_eq!(v["i"].as_i64().unwrap(), i);
        prop_assert_eq!(v["f"].as_f64().unwrap(), f);
        prop_assert_eq!(v["b"].as_bool().unwrap(), b);
        prop_assert_eq!(v["date(d)"].as_str().unwrap(), format!("{date}T00:00:00Z"));
        let got: Vec<String> = v["a"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
        let want: Vec<String> = items.iter().map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
        prop_assert_eq!(got, want);
    }

    /// Whatever the bytes, a row becomes an operation or a reject, never a panic,
    /// and a reject always names a reason.
    #[test]
    fn any_bytes_give_an_op_or_a_reject(fields in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..12)) {
        let t = transformer();
        let refs: Vec<&[u8]> = fields.iter().map(|f| f.as_slice()).collect();
        match t.map_row(row(&refs)) {
            Ok(op) => { serde_json::from_slice::<serde_json::Value>(&op.attrs).expect("valid JSON"); }
            Err(rej) => prop_assert!(!rej.reason.is_empty()),
        }
    }
}

/// Map rows of `header` with `job` (a [mapping] block for a profiles job).
fn map_with(mapping: &str, header: &[&str], rows: &[&[&str]]) -> Vec<Result<serde_json::Value, String>> {
    let text = format!("[job]\nname = \"t\"\nkind = \"profiles\"\n[source]\npath = \"x.csv\"\n{mapping}");
    let job = job::parse(&text, Path::new("job.toml")).unwrap();
    let headers: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let t = Transformer::bind(&job, &headers, Path::new("x.csv")).unwrap();
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let row = RawRow {
                pos: Position { line: i as u64 + 2, byte: 0, record: i as u64 },
                record: csv::ByteRecord::from(r.to_vec()),
                flaw: None,
            };
            t.map_row(row)
                .map(|op| {
                    let mut v: serde_json::Value = serde_json::from_slice(&op.attrs).unwrap();
                    v["_id"] = op.key.into();
                    v
                })
                .map_err(|r| format!("{}: {}", r.column, r.reason))
        })
        .collect()
}

#[test]
fn per_row_rules_of_a_migration() {
    let mapping = r#"
[mapping]
custom_id = ["id", { column = "email", lowercase = true }]
[mapping.native]
email_address = { column = "identifier", when = "type", is = ["11"] }
phone_number = { column = "identifier", when = "type", is = ["14"] }
email_marketing = { column = "optin", subscribed = ["yes"], unsubscribed = ["no"], undecided = ["pending"], suppressed_by = ["bounced"] }
[mapping.attributes]
source = { value = "legacy" }
tags = { column = "tags", type = "array", separator = "|" }
"#;
    let header = ["id", "email", "identifier", "type", "optin", "bounced", "tags"];
    let got = map_with(
        mapping,
        &header,
        &[
            &["u1", "", "a@x.co", "11", "yes", "", "x|y"],
            &["", "Bo@X.co", "+33639981337", "14", "yes", "2024-01-01", "|||"],
            &["u3", "", "tok", "1", "pending", "false", ""],
            &["", "", "", "", "", "", ""],
        ],
    );
    let a = got[0].as_ref().unwrap();
    assert_eq!((a["_id"].as_str(), a["$email_address"].as_str()), (Some("u1"), Some("a@x.co")));
    assert_eq!(a["$email_marketing"], "subscribed");
    assert_eq!(a["source"], "legacy");
    let b = got[1].as_ref().unwrap();
    assert_eq!(b["_id"], "bo@x.co", "the email fallback, lowercased");
    assert_eq!(b["$phone_number"], "+33639981337");
    assert!(b.get("$email_address").is_none());
    assert_eq!(b["$email_marketing"], "unsubscribed", "a suppression wins over yes");
    assert!(b.get("tags").is_none(), "`|||` sends nothing with blank = ignore");
    let c = got[2].as_ref().unwrap();
    assert!(c.get("$email_marketing").is_none(), "undecided sends nothing");
    assert!(c.get("$email_address").is_none() && c.get("$phone_number").is_none(), "a push row");
    assert!(got[3].as_ref().unwrap_err().contains("blank in every id column (id, email)"), "{:?}", got[3]);
}

/// Issue 34: no subscription without its channel's address (where the job
/// maps the address); an opt-out always goes; `suppressed_by` entries with
/// values are opt-outs beside the column that decides.
#[test]
fn consent_needs_an_address_and_every_opt_out_counts() {
    let mapping = r#"
[mapping]
custom_id = "id"
[mapping.native]
email_address = "email"
phone_number = "phone"
email_marketing = { column = "news", subscribed = ["yes"], unsubscribed = ["no"], suppressed_by = [{ column = "accepts", not = ["true"] }] }
sms_marketing = { column = "sms", subscribed = ["yes"], unsubscribed = ["no"] }
"#;
    let header = ["id", "email", "phone", "news", "accepts", "sms"];
    let got = map_with(
        mapping,
        &header,
        &[
            &["u1", "a@x.co", "+33639981337", "yes", "true", "yes"],
            &["u2", "", "", "yes", "true", "yes"],
            &["u3", "", "", "no", "", "no"],
            &["c@x.co", "", "", "yes", "", ""],
            &["u5", "e@x.co", "", "yes", "FALSE", ""],
        ],
    );
    let v = |i: usize, k: &str| got[i].as_ref().unwrap().get(k).and_then(|v| v.as_str()).map(str::to_string);
    assert_eq!(
        (v(0, "$email_marketing").as_deref(), v(0, "$sms_marketing").as_deref()),
        (Some("subscribed"), Some("subscribed"))
    );
    assert_eq!((v(1, "$email_marketing"), v(1, "$sms_marketing")), (None, None), "no address: no subscription");
    assert_eq!(
        (v(2, "$email_marketing").as_deref(), v(2, "$sms_marketing").as_deref()),
        (Some("unsubscribed"), Some("unsubscribed")),
        "an opt-out needs no address"
    );
    assert_eq!(v(3, "$email_marketing").as_deref(), Some("subscribed"), "the Custom ID is the email");
    assert_eq!(v(4, "$email_marketing").as_deref(), Some("unsubscribed"), "accepts = FALSE is an opt-out");

    // The job says otherwise: the addresses are already in Batch.
    let lax = mapping.replace("custom_id = \"id\"", "custom_id = \"id\"\nsubscribed_needs_address = false");
    let got = map_with(&lax, &header, &[&["u2", "", "", "yes", "true", "yes"]]);
    let row = got[0].as_ref().unwrap();
    assert_eq!(
        (row["$email_marketing"].as_str(), row["$sms_marketing"].as_str()),
        (Some("subscribed"), Some("subscribed"))
    );
}
