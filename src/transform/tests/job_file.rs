//! Job files: every mistake exits 2 with the key and its line.

use batchport_transform::job::{self, ArrayMode, BaseUrl, JobError, Kind, Mapping, NativeKind, ValueType};
use std::path::Path;

fn parse(text: &str) -> Result<job::Job, JobError> {
    job::parse(text, Path::new("jobs/test.toml"))
}

fn err_line(text: &str) -> (usize, String) {
    match parse(text).expect_err("job file should be refused") {
        JobError::At { line, message, .. } => (line, message),
        other => panic!("expected an error with a line, got {other}"),
    }
}

const FULL: &str = r#"
[job]
name = "nightly-profiles"
kind = "profiles"
schedule = "0 2 * * *"
rejects = "rejects/"

[api]
base_url = "https://api.batch.com"
version = "2.11"
endpoint = "mass-update"

[source]
path = "exports/users-*.csv"
delimiter = ";"
encoding = "auto"

[mapping]
custom_id = "custom_id"
blank = "clear"
changed_only = true

[mapping.native]
email_address = "email"
email_marketing = { column = "email_optin", subscribed = ["yes", "1", "true"], unsubscribed = ["no", "0", "false"] }
phone_number = "phone"
language = "language"
region = "region"
timezone = "timezone"

[mapping.attributes]
first_name = "first_name"
birthdate = { column = "birthdate", type = "date", format = "%Y-%m-%d" }
is_premium = { column = "is_premium", type = "bool" }
lifetime_value = { column = "lifetime_value", type = "float" }
orders = { column = "orders", type = "int" }
interests = { column = "interests", type = "array", separator = "|" }
website = { column = "website", type = "url" }
tags = { column = "tags", type = "array", separator = ",", mode = "add" }
"#;

#[test]
fn the_jobs_md_example_resolves() {
    let job = parse(FULL).unwrap();
    assert_eq!(job.name, "nightly-profiles");
    assert_eq!(job.kind, Kind::Profiles);
    assert_eq!(job.api.batch_size, 5_000, "half of the 10,000/s bucket, which has no burst");
    assert_eq!(job.api.base_url, BaseUrl::Url("https://api.batch.com".into()));
    assert_eq!(job.rejects_dir.as_deref(), Some(Path::new("jobs/rejects/")));
    let Mapping::Profiles(p) = &job.mapping else { panic!("profiles mapping") };
    assert!(p.changed_only);
    assert_eq!(p.native.len(), 6);
    assert!(matches!(&p.native[5].kind, NativeKind::EmailMarketing(v) if v.subscribed == ["yes", "1", "true"]));
    let names: Vec<&str> = p.attributes.iter().map(|a| a.wire_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "first_name",
            "date(birthdate)",
            "is_premium",
            "lifetime_value",
            "orders",
            "interests",
            "url(website)",
            "tags"
        ]
    );
    assert_eq!(p.attributes[7].ty, ValueType::Array { separator: ",".into(), mode: ArrayMode::Add, json: false });
    assert_eq!(p.attributes[1].column.line, 33);
}

#[test]
fn defaults_follow_the_endpoint_and_version() {
    let job = parse(
        "[job]\nname='a'\nkind='profiles'\n[api]\nendpoint='update'\nversion='2.3'\n[source]\npath='x.csv'\n[mapping]\ncustom_id='id'\n[mapping.attributes]\nx='x'\n",
    )
    .unwrap();
    assert_eq!(job.api.batch_size, 10_000, "2.3 allowed 10,000 ops on update");
    let job = parse("[job]\nname='a'\nkind='profiles'\n[api]\nendpoint='update'\n[source]\npath='x.csv'\n[mapping]\ncustom_id='id'\n[mapping.attributes]\nx='x'\n").unwrap();
    assert_eq!(job.api.batch_size, 200);
}

#[test]
fn a_typo_names_the_key_and_line() {
    let (line, msg) =
        err_line("[job]\nname = 'a'\nkind = 'profiles'\n[source]\npath = 'x.csv'\n[mapping]\ncustom_idd = 'id'\n");
    assert_eq!(line, 7);
    assert!(msg.contains("custom_idd"), "{msg}");
}

#[test]
fn a_wrong_type_names_the_line() {
    let (line, msg) = err_line("[job]\nname = 'a'\nkind = 'profiles'\n[api]\nconcurrency = 'four'\n");
    assert_eq!(line, 5);
    assert!(msg.contains("invalid type"), "{msg}");
}

#[test]
fn bad_attribute_names_are_refused() {
    let base = "[job]\nname = 'a'\nkind = 'profiles'\n[source]\npath = 'x.csv'\n[mapping]\ncustom_id = 'id'\n[mapping.attributes]\n";
    for bad in ["FirstName", "first-name", "a_name_that_is_longer_than_thirty"] {
        let (line, msg) = err_line(&format!("{base}{bad} = 'col'\n"));
        assert_eq!(line, 9, "{bad}");
        assert!(msg.contains(bad) && msg.contains("a-z"), "{msg}");
    }
    let (line, msg) = err_line(&format!("{base}x = {{ column = 'c', type = 'datetime' }}\n"));
    assert_eq!(line, 9);
    assert!(msg.contains("datetime"), "{msg}");
    let (line, msg) = err_line(&format!("{base}x = {{ column = 'c', typ = 'date' }}\n"));
    assert_eq!(line, 9);
    assert!(msg.contains("typ"), "{msg}");
}

#[test]
fn more_than_fifty_attributes_are_refused() {
    let mut text = "[job]\nname = 'a'\nkind = 'profiles'\n[source]\npath = 'x.csv'\n[mapping]\ncustom_id = 'id'\n[mapping.attributes]\n".to_string();
    for i in 0..51 {
        text.push_str(&format!("a{i} = 'c{i}'\n"));
    }
    let (_, msg) = err_line(&text);
    assert!(msg.contains("51") && msg.contains("50"), "{msg}");
}

#[test]
fn limits_are_never_planned_past() {
    let base = "[job]\nname = 'a'\nkind = 'profiles'\n[source]\npath = 'x.csv'\n[mapping]\ncustom_id = 'id'\n[mapping.attributes]\nx='x'\n[api]\n";
    let (line, msg) = err_line(&format!("{base}endpoint = 'update'\nbatch_size = 201\n"));
    assert_eq!(line, 12);
    assert!(msg.contains("200"), "{msg}");
    let (_, msg) = err_line(&format!("{base}rate = 20000\n"));
    assert!(msg.contains("10000"), "{msg}");
    let (_, msg) = err_line(&format!("{base}rate = 0\n"));
    assert!(msg.contains("loopback"), "{msg}");
    assert!(parse(&format!("{base}rate = 0\nbase_url = 'emulator'\n")).is_ok());
    // Above the table (loopback only) or below it, calls still fit Batch's
    // bucket: half of it where it has no burst.
    for rate in [20_000, 1_000] {
        let job = parse(&format!("{base}rate = {rate}\nbase_url = 'emulator'\n")).unwrap();
        assert_eq!((job.api.rate, job.api.batch_size), (Some(rate), 5_000));
    }
    let (_, msg) = err_line(&format!("{base}base_url = 'http://api.batch.com'\n"));
    assert!(msg.contains("https"), "{msg}");
    assert!(parse(&format!("{base}base_url = 'http://127.0.0.1:8080'\n")).is_ok());
    let (_, msg) = err_line(&format!("{base}version = '2.3'\n"));
    assert!(msg.contains("2.4"), "{msg}");
}

#[test]
fn keys_of_other_kinds_and_bad_values_are_refused() {
    let (line, msg) = err_line(
        "[job]\nname = 'a'\nkind = 'profiles'\n[source]\npath = 'x.csv'\n[mapping]\ncustom_id = 'id'\nitem_id = 'sku'\n",
    );
    assert_eq!(line, 8);
    assert!(msg.contains("catalog"), "{msg}");
    let (line, msg) = err_line("[job]\nname = 'a'\nkind = 'profile'\n");
    assert_eq!(line, 3);
    assert!(msg.contains("profiles"), "{msg}");
    let (line, msg) = err_line("[job]\nname = 'a'\nkind = 'profiles'\nschedule = 'every night'\n");
    assert_eq!(line, 4);
    assert!(msg.contains("cron"), "{msg}");
    let (line, _) = err_line("[job]\nname = 'a b'\nkind = 'profiles'\n");
    assert_eq!(line, 2);
}

#[test]
fn other_kinds_resolve() {
    let events = parse(
        "[job]\nname='e'\nkind='events'\n[source]\npath='e.csv'\n[mapping]\ncustom_id='id'\nevent='event'\ntime={ column = 'time' }\n[mapping.event_attributes]\n'$label'='label'\namount={ column='amount', type='float' }\n'$tags'={ column='tags', type='array', separator='|' }\n",
    )
    .unwrap();
    assert_eq!(events.on_uncertain, job::OnUncertain::Hold);
    let audience = parse(
        "[job]\nname='v'\nkind='audience'\n[audience]\nname='vip_customers'\ncreate=true\nmode='replace'\n[source]\npath='a.csv'\n[mapping]\ncustom_id='id'\n[mapping.attributes]\ntier='tier'\n",
    )
    .unwrap();
    assert_eq!(audience.api.batch_size, 10_000);
    let catalog = parse("[job]\nname='c'\nkind='catalog'\n[catalog]\nname='products'\n[source]\npath='c.csv'\n[mapping]\nitem_id='sku'\n[mapping.attributes]\nprice={ column='price', type='float' }\n").unwrap();
    assert_eq!(catalog.api.batch_size, 200);
    let export = parse("[job]\nname='x'\nkind='export'\n[export]\ntype='attributes'\nattributes=['$email_address']\nidentifiers=['custom_id']\noutput='out/p.csv'\n").unwrap();
    assert!(export.source.is_none());
}

const MIGRATION: &str = r#"
[job]
name = "m"
kind = "profiles"
[source]
path = "x.csv"
[mapping]
custom_id = ["id", { column = "email", lowercase = true }]
[mapping.native]
email_address = { column = "identifier", when = "device_type", is = ["11"] }
phone_number = { column = "phone", region_column = "country" }
email_marketing = { column = "consent", subscribed = ["yes"], unsubscribed = ["no"], undecided = ["pending"], suppressed_by = ["bounced"] }
sms_marketing = { value = "unsubscribed" }
[mapping.attributes]
source = { value = "mailchimp" }
tags = { column = "TAGS", type = "array", format = "json" }
"#;

#[test]
fn migration_forms_resolve() {
    let j = parse(MIGRATION).unwrap();
    let Mapping::Profiles(p) = &j.mapping else { panic!() };
    assert_eq!(p.id_columns.len(), 2);
    assert!(!p.id_columns[0].lowercase && p.id_columns[1].lowercase);
    assert_eq!(p.custom_id.name, "id");
    let email = &p.native[0];
    assert_eq!(
        email.rule.when.as_ref().map(|(c, v)| (c.name.as_str(), v.clone())),
        Some(("device_type", vec!["11".into()]))
    );
    assert_eq!(p.native[1].rule.region_column.as_ref().map(|c| c.name.as_str()), Some("country"));
    let NativeKind::EmailMarketing(v) = &p.native[2].kind else { panic!() };
    assert_eq!(v.undecided, ["pending"]);
    assert_eq!(p.native[2].rule.suppressed_by[0].name, "bounced");
    assert_eq!(p.native[3].rule.constant.as_deref(), Some("unsubscribed"));
    assert_eq!(p.attributes[0].constant.as_deref(), Some("mailchimp"));
    assert_eq!(p.attributes[1].ty, ValueType::Array { separator: ",".into(), mode: ArrayMode::Replace, json: true });
}

#[test]
fn migration_form_mistakes_name_their_line() {
    let bad = |from: &str, to: &str| err_line(&MIGRATION.replace(from, to));
    let (line, m) = bad(r#"sms_marketing = { value = "unsubscribed" }"#, r#"sms_marketing = { value = "maybe" }"#);
    assert_eq!(line, 13);
    assert!(m.contains("not \"subscribed\" or \"unsubscribed\""), "{m}");
    let (_, m) = bad(r#"source = { value = "mailchimp" }"#, r#"source = { value = "x", column = "y" }"#);
    assert!(m.contains("not both"), "{m}");
    let (_, m) = bad(r#", when = "device_type", is = ["11"]"#, r#", when = "device_type""#);
    assert!(m.contains("go together"), "{m}");
    let (_, m) = bad(r#"region_column = "country""#, r#"region = "ZZZ""#);
    assert!(m.contains("two-letter"), "{m}");
    let (_, m) = bad(r#"undecided = ["pending"]"#, r#"undecided = ["no"]"#);
    assert!(m.contains("both"), "{m}");
    let (_, m) = bad(r#"custom_id = ["id", { column = "email", lowercase = true }]"#, "custom_id = []");
    assert!(m.contains("empty"), "{m}");
    let (_, m) =
        bad(r#"phone_number = { column = "phone", region_column = "country" }"#, r#"phone_number = { value = "12" }"#);
    assert!(m.contains("value"), "{m}");
}

/// `format` of a date may list several patterns; each is checked, and an
/// empty list is refused with its line.
#[test]
fn a_date_format_may_be_a_list() {
    let job = |format: &str| {
        format!(
            "[job]\nname = \"d\"\nkind = \"profiles\"\n[source]\npath = \"u.csv\"\n[mapping]\ncustom_id = \"id\"\n\
             [mapping.attributes]\nsignup = {{ column = \"s\", type = \"date\", format = {format} }}\n"
        )
    };
    let j = parse(&job(r#"["%d/%m/%Y", "%Y-%m-%d %H:%M"]"#)).unwrap();
    let Mapping::Profiles(p) = &j.mapping else { panic!() };
    let ValueType::Date { format: Some(f) } = &p.attributes[0].ty else { panic!("{:?}", p.attributes[0].ty) };
    assert_eq!(
        f.split(batchport_transform::value::FORMAT_SEPARATOR).collect::<Vec<_>>(),
        ["%d/%m/%Y", "%Y-%m-%d %H:%M"]
    );
    let (line, message) = err_line(&job("[]"));
    assert_eq!(line, 9, "{message}");
    assert!(message.contains("lists no format"), "{message}");
    let (_, message) = err_line(&job(r#"["%d/%m/%Y", "%Q"]"#));
    assert!(message.contains("format `%Q`"), "{message}");
}
