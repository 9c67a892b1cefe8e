//! `batchport init` as a user runs it: for each preset, an export shaped like the
//! tool's (tests/data/init/) → `init` → job.toml next to the CSV → `validate
//! --json` exits 0 with no rejects; plus the mapping each preset is meant to make,
//! inference, the limits, and the errors.

use crate::common::{json, run_in, write};
use std::path::Path;

/// Copy `data/init/<file>` (or write `content`) into a temp dir, run `init`, save
/// the job next to the CSV, validate it; returns the job text, parsed too.
fn init_and_validate(file: &str, content: Option<&str>, preset: &str) -> (String, toml::Value) {
    let dir = tempfile::tempdir().unwrap();
    let body = match content {
        Some(c) => c.to_string(),
        None => {
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/init").join(file)).unwrap()
        }
    };
    write(dir.path(), file, &body);
    let out = run_in(dir.path(), &["init", "--preset", preset, file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "init failed: {stderr}");
    assert!(stderr.contains("accepts all"), "the sample check passes: {stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    write(dir.path(), "job.toml", &text);
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "validate: {}\n{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let s = json(&out);
    assert_eq!(s["rows_rejected"], 0);
    let rows = body.lines().count() as u64 - 1;
    assert_eq!(s["rows_read"].as_u64(), Some(rows), "every row is read (no multi-line cells in the fixtures)");
    let value: toml::Value = toml::from_str(&text).unwrap();
    (text, value)
}

/// The Custom ID columns, whatever the form (`"c"`, `{ column }`, a list).
fn ids(job: &toml::Value) -> Vec<(String, bool)> {
    let one = |v: &toml::Value| match v {
        toml::Value::String(s) => (s.clone(), false),
        t => (t["column"].as_str().unwrap().to_string(), t.get("lowercase").and_then(|l| l.as_bool()).unwrap_or(false)),
    };
    match &job["mapping"]["custom_id"] {
        toml::Value::Array(a) => a.iter().map(one).collect(),
        v => vec![one(v)],
    }
}

fn id(job: &toml::Value) -> String {
    ids(job)[0].0.clone()
}

/// A native mapped from a column, in either form.
fn native_col<'a>(job: &'a toml::Value, key: &str) -> Option<&'a str> {
    native(job, key).and_then(|v| v.as_str().or_else(|| v.get("column").and_then(|c| c.as_str())))
}

fn native<'a>(job: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    job["mapping"].get("native").and_then(|n| n.get(key))
}

fn attr<'a>(job: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    job["mapping"].get("attributes").and_then(|n| n.get(key))
}

/// `key`'s `field` in `[mapping.attributes]` (`type`, `format`...).
fn attr_field<'a>(job: &'a toml::Value, key: &str, field: &str) -> Option<&'a str> {
    attr(job, key).and_then(|a| a.get(field)).and_then(|v| v.as_str())
}

#[test]
fn mailchimp_subscribed_export() {
    let (text, job) = init_and_validate("mailchimp_subscribed.csv", None, "mailchimp");
    assert_eq!(job["job"]["name"].as_str(), Some("mailchimp_subscribed"));
    assert_eq!(job["source"]["path"].as_str(), Some("mailchimp_subscribed.csv"));
    assert_eq!(ids(&job), [("Email Address".to_string(), true)], "the email, lowercased");
    assert!(text.contains("changes email becomes a new profile"), "{text}");
    assert_eq!(native(&job, "email_address").and_then(|v| v.as_str()), Some("Email Address"));
    assert_eq!(native(&job, "region").and_then(|v| v.as_str()), Some("CC"));
    assert_eq!(native(&job, "timezone").and_then(|v| v.as_str()), Some("TIMEZONE"));
    // `(217) 555-0100` is national: read in the row's country (CC).
    let phone = native(&job, "phone_number").unwrap();
    assert_eq!((phone["column"].as_str(), phone["region_column"].as_str()), (Some("Phone Number"), Some("CC")));
    // The subscribed file: every row is subscribed, said by the file itself.
    assert_eq!(native(&job, "email_marketing").unwrap()["value"].as_str(), Some("subscribed"));
    assert_eq!(attr_field(&job, "member_rating", "type"), Some("int"));
    assert_eq!(attr_field(&job, "optin_time", "format"), Some("%Y-%m-%d %H:%M:%S"));
    assert_eq!(attr_field(&job, "latitude", "type"), Some("float"));
    assert_eq!(attr(&job, "birthday").and_then(|v| v.as_str()), Some("Birthday"), "MM/DD has no year");
    assert_eq!(attr(&job, "state").and_then(|v| v.as_str()), Some("REGION"));
    assert_eq!(attr(&job, "mailchimp_leid").and_then(|v| v.as_str()), Some("LEID"));
    assert_eq!(attr(&job, "company").and_then(|v| v.as_str()), Some("Company"), "a merge field, inferred");
    // Quoted tags are a JSON list: "Black Friday, 2022" stays one tag.
    assert_eq!(attr_field(&job, "tags", "format"), Some("json"));
    assert!(text.contains("it is the *subscribed* export"));
}

#[test]
fn mailchimp_unsubscribed_export() {
    let (text, job) = init_and_validate("mailchimp_unsubscribed.csv", None, "mailchimp");
    assert!(text.contains("it is the *unsubscribed* export"), "{text}");
    let consent = native(&job, "email_marketing").unwrap();
    assert_eq!(consent["value"].as_str(), Some("unsubscribed"), "{text}");
    assert_eq!(attr_field(&job, "unsub_time", "type"), Some("date"));
    assert_eq!(attr(&job, "unsub_reason").and_then(|v| v.as_str()), Some("UNSUB_REASON"));
    // An empty TAGS column has nothing to disagree with: mapped as the documented array.
    assert_eq!(attr_field(&job, "tags", "type"), Some("array"));
}

#[test]
fn klaviyo_export() {
    let (text, job) = init_and_validate("klaviyo.csv", None, "klaviyo");
    assert_eq!(id(&job), "External ID");
    assert!(!text.contains("changes email"), "a stable id, no email warning");
    let consent = native(&job, "email_marketing").unwrap();
    assert_eq!(consent["column"].as_str(), Some("Email Marketing Consent"));
    let unsub: Vec<&str> = consent["unsubscribed"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(unsub.contains(&"unsubscribed"), "{unsub:?}");
    // Never asked is no opt-out (issue 34): it sends nothing.
    let undecided: Vec<&str> = consent["undecided"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(undecided, ["never_subscribed"]);
    assert_eq!(native(&job, "sms_marketing").unwrap()["column"].as_str(), Some("SMS Consent"));
    assert_eq!(native_col(&job, "phone_number"), Some("Phone Number"));
    // "United States" is a country name: read as US.
    assert_eq!(native(&job, "region").and_then(|v| v.as_str()), Some("Country"));
    // Region holds states (Illinois, SP): never $region.
    assert_eq!(attr(&job, "state").and_then(|v| v.as_str()), Some("Region"));
    assert_eq!(attr(&job, "klaviyo_id").and_then(|v| v.as_str()), Some("Klaviyo ID"));
    assert_eq!(attr(&job, "zip_code").and_then(|v| v.as_str()), Some("Zip Code"));
    assert_eq!(attr_field(&job, "predicted_clv", "type"), Some("float"));
    assert_eq!(attr_field(&job, "churn_risk", "type"), Some("float"));
    assert_eq!(attr_field(&job, "created_at", "format"), Some("%Y-%m-%d %H:%M:%S"));
    assert_eq!(attr_field(&job, "shoe_size", "type"), Some("int"), "a custom property, inferred");
}

#[test]
fn klaviyo_without_external_ids_uses_email() {
    let body = "Email,First Name,External ID\na@example.com,A,\nb@example.com,B,\nc@example.com,C,u3\n";
    let (text, job) = init_and_validate("profiles.csv", Some(body), "klaviyo");
    assert_eq!(ids(&job)[0], ("Email".to_string(), true));
    assert!(text.contains("`External ID` is blank in 2 of 3 sampled rows"), "{text}");
    assert!(text.contains("changes email becomes a new profile"));
}

#[test]
fn braze_export() {
    let (text, job) = init_and_validate("braze.csv", None, "braze");
    assert_eq!(id(&job), "external_id");
    let sub = native(&job, "email_marketing").unwrap();
    let yes: Vec<&str> = sub["subscribed"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(yes, ["opted_in", "subscribed"]);
    for (key, col) in
        [("language", "language"), ("region", "country"), ("timezone", "time_zone"), ("phone_number", "phone")]
    {
        assert_eq!(native_col(&job, key), Some(col), "{key}");
    }
    assert_eq!(attr_field(&job, "birthdate", "format"), Some("%Y-%m-%d"));
    assert_eq!(attr_field(&job, "created_at", "type"), Some("date"));
    assert_eq!(attr(&job, "push_subscribe").and_then(|v| v.as_str()), Some("push_subscribe"));
    assert_eq!(attr(&job, "braze_id").and_then(|v| v.as_str()), Some("braze_id"));
    assert_eq!(attr_field(&job, "random_bucket", "type"), Some("int"));
    assert!(attr(&job, "external_id").is_none(), "the Custom ID is not repeated as an attribute");
    assert!(text.contains("push opt-in"), "{text}");
}

#[test]
fn onesignal_export() {
    let (text, job) = init_and_validate("onesignal.csv", None, "onesignal");
    assert_eq!(id(&job), "external_id");
    assert!(text.contains("1 sampled rows repeat a Custom ID"), "{text}");
    // Offsets in seconds are not IANA zones.
    assert!(native(&job, "timezone").is_none());
    assert_eq!(attr_field(&job, "timezone_offset", "type"), Some("int"));
    // Unix seconds, read by chrono's %s.
    assert_eq!(attr_field(&job, "last_active", "format"), Some("%s"));
    assert_eq!(attr_field(&job, "created_at", "format"), Some("%s"));
    assert_eq!(native(&job, "language").and_then(|v| v.as_str()), Some("language"));
    assert_eq!(attr(&job, "tags").and_then(|v| v.as_str()), Some("tags"));
    assert_eq!(attr_field(&job, "push_subscribed", "type"), Some("bool"));
    // identifier is an email on device_type 11 rows, a phone on 14 rows.
    let email = native(&job, "email_address").unwrap();
    assert_eq!((email["column"].as_str(), email["when"].as_str()), (Some("identifier"), Some("device_type")));
    assert_eq!(native(&job, "phone_number").unwrap()["is"][0].as_str(), Some("14"));
    assert!(text.contains("# - `ad_id`: not sent"));
}

#[test]
fn onesignal_without_external_ids_uses_the_device_id() {
    let body = "id,external_id,language\nd1,,en\nd2,,fr\nd3,,de\n";
    let (text, job) = init_and_validate("devices.csv", Some(body), "onesignal");
    assert_eq!(id(&job), "id");
    assert!(text.contains("one per device"), "{text}");
}

#[test]
fn customerio_export() {
    let (text, job) = init_and_validate("customerio.csv", None, "customerio");
    assert_eq!(id(&job), "id");
    let sub = native(&job, "email_marketing").unwrap();
    assert_eq!(sub["column"].as_str(), Some("unsubscribed"));
    assert_eq!(sub["subscribed"].as_array().unwrap()[0].as_str(), Some("false"), "the flag is inverted");
    assert_eq!(attr_field(&job, "created_at", "format"), Some("%s"));
    assert_eq!(attr(&job, "cio_id").and_then(|v| v.as_str()), Some("cio_id"));
    assert_eq!(attr_field(&job, "company_size", "type"), Some("int"));
    assert!(text.contains("inverted"));
}

#[test]
fn plain_infers_types_with_evidence() {
    let (text, job) = init_and_validate("plain.csv", None, "plain");
    assert_eq!(id(&job), "user_id");
    for (key, col) in [
        ("email_address", "mail"),
        ("phone_number", "mobile"),
        ("language", "lang"),
        ("region", "country"),
        ("timezone", "tz"),
    ] {
        assert_eq!(native_col(&job, key), Some(col), "{key}\n{text}");
    }
    assert_eq!(attr_field(&job, "signup_date", "format"), Some("%d/%m/%Y"));
    assert_eq!(attr_field(&job, "last_seen", "type"), Some("date"));
    assert_eq!(attr_field(&job, "orders", "type"), Some("int"));
    assert_eq!(attr_field(&job, "lifetime_value", "type"), Some("float"));
    assert_eq!(attr_field(&job, "vip", "type"), Some("bool"));
    assert_eq!(attr_field(&job, "is_beta", "type"), Some("bool"));
    assert_eq!(attr_field(&job, "website", "type"), Some("url"));
    assert_eq!(attr_field(&job, "interests", "separator"), Some("|"));
    assert_eq!(attr(&job, "zip").and_then(|v| v.as_str()), Some("zip"), "leading zeros: text");
    assert_eq!(attr(&job, "prenom").and_then(|v| v.as_str()), Some("Prénom"));
    assert!(text.contains("# 3/3 sampled values are whole numbers\norders ="), "{text}");
    assert!(text.contains("Custom ID: column `user_id`"));
}

#[test]
fn a_preset_on_a_file_without_its_columns_falls_back_to_inference() {
    let (_, job) = init_and_validate("plain.csv", None, "braze");
    assert_eq!(id(&job), "user_id", "Braze's CSV export names the external id user_id");
    assert_eq!(attr_field(&job, "orders", "type"), Some("int"));
}

#[test]
fn names_are_made_valid_and_unique() {
    let body = "id,First Name,first_name,FIRST-NAME,x,x,Ünïcode Name,😀\n1,a,b,c,d,e,f,g\n";
    let (text, job) = init_and_validate("names.csv", Some(body), "plain");
    assert_eq!(attr(&job, "first_name").and_then(|v| v.as_str()), Some("First Name"));
    assert_eq!(attr(&job, "first_name_2").and_then(|v| v.as_str()), Some("first_name"));
    assert_eq!(attr(&job, "first_name_3").and_then(|v| v.as_str()), Some("FIRST-NAME"));
    assert_eq!(attr(&job, "unicode_name").and_then(|v| v.as_str()), Some("Ünïcode Name"));
    assert_eq!(attr(&job, "column_8").and_then(|v| v.as_str()), Some("😀"));
    assert!(text.contains("# - `x`: appears 2 times in the header"), "{text}");
}

#[test]
fn columns_beyond_fifty_and_long_values_are_listed_not_dropped() {
    let headers: Vec<String> = (1..=60).map(|i| format!("c{i}")).collect();
    let mut body = format!("id,{}\n", headers.join(","));
    body.push_str(&format!("u1,{}\n", (1..=60).map(|i| i.to_string()).collect::<Vec<_>>().join(",")));
    body = body.replacen("id,c1,", "id,bio,", 1).replacen("u1,1,", &format!("u1,{},", "x".repeat(400)), 1);
    let (text, job) = init_and_validate("wide.csv", Some(&body), "plain");
    let attrs = job["mapping"]["attributes"].as_table().unwrap();
    assert_eq!(attrs.len(), 50);
    assert!(text.contains("# - `bio`: not sent: 1 sampled values are longer than the 300 characters"), "{text}");
    for i in 52..=60 {
        assert!(text.contains(&format!("# - `c{i}`: over Batch's limit of 50")), "c{i}\n{text}");
        assert!(text.contains(&format!("# c{i} = {{ column = \"c{i}\", type = \"int\" }}")), "c{i}");
    }
}

#[test]
fn a_header_only_file_still_makes_a_valid_job() {
    let (text, job) = init_and_validate("empty_rows.csv", Some("user_id,email,name\n"), "plain");
    assert_eq!(id(&job), "user_id");
    assert!(text.contains("no rows"), "{text}");
}

#[test]
fn errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["init", "missing.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.csv: file not found"));
    assert!(out.stdout.is_empty(), "nothing half-written on stdout");

    write(dir.path(), "empty.csv", "");
    let out = run_in(dir.path(), &["init", "--preset", "klaviyo", "empty.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the file is empty"));

    write(dir.path(), "ids.csv", "id\n1\n2\n");
    let out = run_in(dir.path(), &["init", "ids.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column besides the Custom ID"));

    let out = run_in(dir.path(), &["init", "--preset", "intercom", "ids.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_in(dir.path(), &["init", "ids.csv", "--json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn large_files_are_sampled_and_say_so() {
    let mut body = String::from("user_id,visits\n");
    for i in 0..1500 {
        body.push_str(&format!("u{i},{i}\n"));
    }
    let (text, job) = init_and_validate("big.csv", Some(&body), "plain");
    assert!(text.contains("checked against the first 1000 rows"), "{text}");
    assert_eq!(attr_field(&job, "visits", "type"), Some("int"));
}

/// Issue 33: IDs with spaces around them get `custom_id_trim = true` (every
/// row accepted, not 2 of 4 rejected), and a spreadsheet's `TRUE`/`FALSE`
/// beside `1`/`0` is a bool.
#[test]
fn padded_ids_are_trimmed_and_spreadsheet_booleans_are_bools() {
    let csv = "user_id,name,active\n u1,A,TRUE\nu2 ,B,0\nu3,C,1\nu4,D,FALSE\n";
    let (text, job) = init_and_validate("sheet.csv", Some(csv), "plain");
    assert_eq!(job["mapping"]["custom_id_trim"].as_bool(), Some(true), "{text}");
    assert_eq!(attr_field(&job, "active", "type"), Some("bool"), "{text}");
}

/// A date column in two formats (a file stitched from two systems) is a date
/// with both formats, each counted in the job file, not text (issue 33).
#[test]
fn a_date_column_in_two_formats_keeps_both() {
    let mut csv = String::from("user_id,signup\n");
    for i in 0..12 {
        csv.push_str(&format!("u{i},{}\n", if i % 3 == 0 { "2019-04-19 22:20" } else { "23/04/2023" }));
    }
    let (text, job) = init_and_validate("two.csv", Some(&csv), "plain");
    let format = job["mapping"]["attributes"]["signup"]["format"].as_array().unwrap();
    assert_eq!(format.iter().map(|f| f.as_str().unwrap()).collect::<Vec<_>>(), ["%d/%m/%Y", "%Y-%m-%d %H:%M"]);
    assert!(text.contains("8 in `%d/%m/%Y`, 4 in `%Y-%m-%d %H:%M`"), "{text}");
}

/// An events file (`user_id,event,timestamp,...`) gets an events job: its
/// name column in snake case, its time with the format found, the other
/// columns as typed event attributes; `--kind profiles` still writes a
/// profiles job, and `--kind events` on a file without an event column is a
/// usage error (issue 33).
#[test]
fn an_events_file_gets_an_events_job() {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now() - chrono::Duration::hours(1);
    let mut csv = String::from("user_id,event,timestamp,product,amount\n");
    for i in 0..20 {
        let name = ["Viewed Product", "Added To Cart", "purchase"][i % 3];
        let at = (now - chrono::Duration::minutes(i as i64)).format("%Y-%m-%d %H:%M:%S");
        csv.push_str(&format!("u{},{name},{at},P{},{}.5\n", i % 7, i % 4, i));
    }
    write(dir.path(), "events.csv", &csv);
    let out = run_in(dir.path(), &["init", "events.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let job: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(job["job"]["kind"].as_str(), Some("events"), "{text}");
    let m = &job["mapping"];
    assert_eq!((m["event"].as_str(), m["event_case"].as_str()), (Some("event"), Some("snake")), "{text}");
    assert_eq!(m["time"]["format"].as_str(), Some("%Y-%m-%d %H:%M:%S"), "{text}");
    assert_eq!(m["event_attributes"]["amount"]["type"].as_str(), Some("float"), "{text}");
    write(dir.path(), "job.toml", &text);
    let s = json(&run_in(dir.path(), &["validate", "job.toml", "--json"]));
    assert_eq!((s["rows_valid"].as_u64(), s["rows_rejected"].as_u64()), (Some(20), Some(0)), "{s}\n{text}");

    let out = run_in(dir.path(), &["init", "--kind", "profiles", "events.csv"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("kind = \"profiles\""), "{text}");
    write(dir.path(), "people.csv", "user_id,name\nu1,A\n");
    let out = run_in(dir.path(), &["init", "--kind", "events", "people.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column names the event"), "{out:?}");
}
