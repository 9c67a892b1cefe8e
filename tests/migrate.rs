//! Migrations end to end, one per preset: an export written from the tool's
//! documented format (tests/data/migrate/) → `init` → `run` against the
//! emulator → the stored profiles. Above all: nobody who opted out or is
//! suppressed is stored as subscribed; then the Custom ID, the natives and
//! the rejects.

use crate::common::{bin, json, run_in, write};
use batchport::{Emulator, EmulatorConfig};
use serde_json::Value;
use std::path::Path;

struct Migrated {
    /// The job's folder (its state and rejects files).
    dir: tempfile::TempDir,
    emu: Emulator,
    job: String,
    summary: Value,
}

impl Migrated {
    fn attrs(&self, id: &str) -> Value {
        let p = self.emu.profile(id).unwrap_or_else(|| panic!("profile `{id}` stored\n{}", self.job));
        p["attributes"].clone()
    }

    fn consent(&self, id: &str, key: &str) -> Option<String> {
        self.attrs(id).get(key).and_then(|v| v.as_str()).map(str::to_string)
    }
}

/// `init --preset` on the fixture, then `run` into a fresh emulator.
fn migrate(file: &str, preset: &str) -> Migrated {
    let dir = tempfile::tempdir().unwrap();
    let body = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/migrate").join(file)).unwrap();
    write(dir.path(), file, body);
    migrate_in(dir, file, preset)
}

/// `init --preset` on `file` in `dir`, then `run` into a fresh emulator.
fn migrate_in(tmp: tempfile::TempDir, file: &str, preset: &str) -> Migrated {
    let dir = tmp.path();
    let out = run_in(dir, &["init", "--preset", preset, file]);
    assert_eq!(out.status.code(), Some(0), "init: {}", String::from_utf8_lossy(&out.stderr));
    let emu = Emulator::start_background(EmulatorConfig::default()).expect("emulator starts");
    let job = String::from_utf8(out.stdout).unwrap();
    let job = job.replacen("[api]\n", &format!("[api]\nbase_url = \"{}\"\n", emu.base_url()), 1);
    write(dir, "job.toml", &job);
    let out = bin()
        .args(["run", "job.toml", "--json", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .output()
        .unwrap();
    let summary = json(&out);
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "run: {}\n{}\n{job}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Migrated { dir: tmp, emu, job, summary }
}

fn rejected(m: &Migrated) -> u64 {
    m.summary["rows_rejected"].as_u64().unwrap()
}

#[test]
fn mailchimp_subscribed_file() {
    let m = migrate("mailchimp_subscribed_members_export.csv", "mailchimp");
    assert_eq!(rejected(&m), 0, "{}", m.job);
    let jane = m.attrs("jane@example.com");
    assert_eq!(jane["$email_marketing"], "subscribed");
    assert_eq!(jane["$region"], "US");
    assert_eq!(jane["$phone_number"], "+12175550100", "a national number read in its row's country");
    assert_eq!(jane["tags"], serde_json::json!(["Customer", "VIP"]));
    let marie = m.attrs("marie@example.fr");
    assert_eq!(marie["$email_address"], "Marie@Example.FR", "the id is lowercased, the address kept");
    assert_eq!(marie["$phone_number"], "+33639981337", "the (0) trunk prefix dropped");
    assert_eq!(marie["tags"], serde_json::json!(["Black Friday, 2022", "VIP"]), "a comma inside a tag");
}

#[test]
fn mailchimp_unsubscribed_and_cleaned_files_are_opt_outs() {
    for (file, ids) in [
        ("mailchimp_unsubscribed_members_export.csv", ["old@example.com", "gone@example.com"]),
        ("mailchimp_cleaned_members_export.csv", ["bounced@example.com", "dead@example.org"]),
    ] {
        let m = migrate(file, "mailchimp");
        assert_eq!(rejected(&m), 0, "{}", m.job);
        for id in ids {
            assert_eq!(m.consent(id, "$email_marketing").as_deref(), Some("unsubscribed"), "{file} {id}\n{}", m.job);
        }
    }
}

#[test]
fn klaviyo_suppressions_win_and_states_are_not_countries() {
    let m = migrate("klaviyo_profiles.csv", "klaviyo");
    // A phone with an extension: Batch stores a number only. The phone is left
    // out, the rest of the row (consent first) is sent, the line reported.
    assert_eq!(rejected(&m), 0, "{}", m.job);
    assert_eq!(m.summary["values_dropped"], 1, "{}", m.summary);
    assert!(m.attrs("u-1006").get("$phone_number").is_none());
    assert_eq!(m.consent("u-1006", "$email_marketing").as_deref(), Some("subscribed"));
    let rejects = std::fs::read_to_string(m.dir.path().join(m.summary["rejects_file"].as_str().unwrap())).unwrap();
    assert!(rejects.contains("ext@example.com") && rejects.contains("extension"), "{rejects}");
    assert_eq!(m.consent("u-1001", "$email_marketing").as_deref(), Some("subscribed"));
    assert_eq!(m.consent("u-1002", "$email_marketing").as_deref(), Some("unsubscribed"));
    assert_eq!(m.consent("u-1003", "$email_marketing"), None, "never subscribed: no opt-out, nothing sent");
    for suppressed in ["u-1004", "u-1005"] {
        assert_eq!(m.consent(suppressed, "$email_marketing").as_deref(), Some("unsubscribed"), "{suppressed}");
    }
    let bob = m.attrs("u-1004");
    assert_eq!(bob["$region"], "US", "CA is California: the country comes from Country");
    assert_eq!(bob["state"], "CA");
    assert_eq!(m.attrs("u-1005")["$region"], "US", "IN is Indiana, not India");
    assert_eq!(m.attrs("u-1002")["$region"], "GB", "a country name becomes its code");
    assert_eq!(m.consent("u-1003", "$sms_marketing").as_deref(), Some("subscribed"));
}

/// Issue 34: two columns speak of email consent. Klaviyo's documented
/// state decides the opt-ins; `Accepts Marketing = FALSE` is an opt-out too;
/// nobody is subscribed to SMS without a phone.
#[test]
fn klaviyo_with_accepts_marketing_keeps_every_opt_out_and_every_opt_in() {
    let m = migrate("klaviyo_profiles_accepts_marketing.csv", "klaviyo");
    let email = |id: &str| m.consent(id, "$email_marketing");
    assert_eq!(email("u-1001").as_deref(), Some("subscribed"), "{}", m.job);
    assert_eq!(email("u-1002").as_deref(), Some("unsubscribed"));
    assert_eq!(email("u-1003").as_deref(), Some("unsubscribed"), "Accepts Marketing = FALSE");
    assert_eq!(email("u-1004").as_deref(), Some("unsubscribed"), "a hard bounce");
    assert_eq!(email("u-1005").as_deref(), Some("unsubscribed"), "a spam complaint");
    assert_eq!(email("u-1007").as_deref(), Some("unsubscribed"), "subscribed, but declined marketing");
    assert_eq!(email("u-1008"), None, "never subscribed: nothing claimed");
    assert_eq!(email("u-1009").as_deref(), Some("subscribed"));
    assert_eq!(m.consent("u-1003", "$sms_marketing").as_deref(), Some("subscribed"), "with a phone");
    assert_eq!(m.consent("u-1009", "$sms_marketing"), None, "SUBSCRIBED to SMS without a phone: not sent");
}

/// Issue 34: Brevo's blacklist flags are opt-outs, never opt-ins; `OPT_IN`
/// says who opted in; no SMS subscription without a number.
#[test]
fn brevo_blacklists_are_opt_outs_and_opt_in_decides_the_rest() {
    let m = migrate("brevo_contacts_opt_in.csv", "brevo");
    assert_eq!(rejected(&m), 0, "{}", m.job);
    let consent = |id: &str, k: &str| m.consent(id, k);
    assert_eq!(consent("jane@example.com", "$email_marketing").as_deref(), Some("subscribed"), "{}", m.job);
    assert_eq!(consent("joe@example.org", "$email_marketing").as_deref(), Some("unsubscribed"), "blacklisted");
    assert_eq!(consent("ana@example.net", "$email_marketing").as_deref(), Some("unsubscribed"), "OPT_IN = No");
    assert_eq!(consent("sam@example.com", "$email_marketing").as_deref(), Some("subscribed"));
    assert_eq!(consent("ana@example.net", "$sms_marketing").as_deref(), Some("unsubscribed"), "SMS blacklisted");
    for id in ["jane@example.com", "joe@example.org", "sam@example.com"] {
        assert_ne!(consent(id, "$sms_marketing").as_deref(), Some("subscribed"), "{id}: not blacklisted is no opt-in");
    }
}

#[test]
fn braze_segment_csv() {
    let m = migrate("braze_segment_export.csv", "braze");
    assert_eq!(rejected(&m), 0, "{}", m.job);
    // user_id is the external id: two people sharing an email stay two profiles.
    assert!(m.emu.profile("u-2").is_some() && m.emu.profile("u-3").is_some());
    assert!(m.emu.profile("shared@example.com").is_none());
    assert_eq!(m.consent("u-2", "$email_marketing").as_deref(), Some("unsubscribed"), "unsubscribed_from_emails_at");
    assert_eq!(m.consent("u-1", "$email_marketing"), None, "no opt-in column: nothing claimed");
    let jane = m.attrs("u-1");
    assert_eq!(jane["$phone_number"], "+14155552671", "the apostrophe Braze adds is dropped");
    assert_eq!(jane["$timezone"], "America/Los_Angeles", "a Rails zone name");
    assert_eq!(jane["date(created_at)"], "2020-07-10T15:00:00Z");
    assert_eq!(m.attrs("u-4")["$timezone"], "America/New_York");
}

#[test]
fn onesignal_channels_by_device_type() {
    let m = migrate("onesignal_subscriptions.csv", "onesignal");
    assert_eq!(rejected(&m), 0, "{}", m.job);
    let u1 = m.attrs("u-1");
    assert_eq!(u1["$email_address"], "jane@example.com");
    assert_eq!(u1["$email_marketing"], "subscribed");
    assert_eq!(u1["$phone_number"], "+33639981337");
    assert_eq!(u1["$sms_marketing"], "unsubscribed", "-2 on the SMS row");
    let u2 = m.attrs("u-2");
    assert_eq!(u2["$email_marketing"], "unsubscribed");
    assert_eq!(u2["$sms_marketing"], "subscribed");
    assert!(!u1.as_object().unwrap().values().any(|v| v == "fcm-token-aaa"), "push tokens are not sent");
    // u-3 opted out on one email and one phone, then opted in on others: the
    // opt-outs win, and the last address of each channel is kept.
    let u3 = m.attrs("u-3");
    assert_eq!(u3["$email_marketing"], "unsubscribed", "a later opt-in row does not undo an opt-out\n{}", m.job);
    assert_eq!(u3["$sms_marketing"], "unsubscribed");
    assert_eq!(u3["$email_address"], "ana@example.net");
    assert_eq!(u3["$phone_number"], "+5511987654321");
}

/// The same people, their rows in the reverse order: the result does not
/// depend on which row comes last.
#[test]
fn onesignal_opt_outs_win_in_any_row_order() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/migrate/onesignal_subscriptions.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1..].reverse();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("onesignal_reversed.csv"), lines.join("\n") + "\n").unwrap();
    let m = migrate_in(dir, "onesignal_reversed.csv", "onesignal");
    let u3 = m.attrs("u-3");
    assert_eq!((&u3["$email_marketing"], &u3["$sms_marketing"]), (&"unsubscribed".into(), &"unsubscribed".into()));
    assert_eq!(m.attrs("u-2")["$sms_marketing"], "subscribed", "nobody else is held");
    assert_eq!(m.attrs("u-1")["$email_marketing"], "subscribed");
}

#[test]
fn customerio_falls_back_to_the_email() {
    let m = migrate("customerio_people.csv", "customerio");
    assert_eq!(rejected(&m), 0, "{}", m.job);
    assert_eq!(m.consent("1001", "$email_marketing").as_deref(), Some("subscribed"));
    assert_eq!(m.consent("1002", "$email_marketing").as_deref(), Some("unsubscribed"));
    assert_eq!(m.consent("mia@example.com", "$email_marketing").as_deref(), Some("unsubscribed"));
    assert!(m.emu.profile("leo@example.com").is_some());
}

#[test]
fn hubspot_opt_outs_only() {
    let m = migrate("hubspot_contacts.csv", "hubspot");
    assert_eq!(rejected(&m), 0, "{}", m.job);
    assert_eq!(m.consent("joe@example.org", "$email_marketing").as_deref(), Some("unsubscribed"));
    assert_eq!(m.consent("ana@example.net", "$email_marketing").as_deref(), Some("unsubscribed"));
    assert_eq!(m.consent("jane@example.com", "$email_marketing"), None, "HubSpot has no opt-in column");
    assert_eq!(m.attrs("jane@example.com")["$region"], "US");
    assert_eq!(m.attrs("ana@example.net")["$phone_number"], "+5511912345678");
    assert_eq!(m.consent("bo@example.com", "$email_marketing").as_deref(), Some("unsubscribed"), "a hard bounce");
    assert_eq!(m.attrs("jane@example.com")["address"], "1 Main St");
}

#[test]
fn brevo_blacklist_is_the_opt_out() {
    let m = migrate("brevo_contacts.csv", "brevo");
    assert_eq!(rejected(&m), 0, "{}", m.job);
    // Not being blacklisted is not consent (issue 34): nothing is claimed.
    assert_eq!(m.consent("jane@example.com", "$email_marketing"), None);
    assert_eq!(m.consent("joe@example.org", "$email_marketing").as_deref(), Some("unsubscribed"));
    assert_eq!(m.consent("ana@example.net", "$sms_marketing").as_deref(), Some("unsubscribed"));
    assert_eq!(m.consent("ana@example.net", "$email_marketing"), None);
    assert_eq!(m.consent("jane@example.com", "$sms_marketing"), None);
    // Yes/No flags and day-first times, as public code reading Brevo exports shows them.
    assert_eq!(m.attrs("joe@example.org")["date(added_at)"], "2023-02-25T10:00:00Z");
}

#[test]
fn shopify_customers() {
    let m = migrate("shopify_customers_export.csv", "shopify");
    assert_eq!(rejected(&m), 0, "{}", m.job);
    let jane = m.attrs("jane@example.com");
    assert_eq!(jane["$email_marketing"], "subscribed");
    assert_eq!(jane["$sms_marketing"], "unsubscribed");
    assert_eq!(jane["total_spent"], 1000.5, "1,000.50 is a thousand, not 1");
    assert_eq!(jane["$phone_number"], "+13125550100");
    assert_eq!(jane["shopify_customer_id"], 7012345678901_u64, "Shopify's apostrophe before the id is dropped");
    assert_eq!(jane["accepts_whatsapp_marketing"], false);
    assert!(
        jane.get("$sms_marketing").is_some()
            && m.consent("ana@example.net", "$sms_marketing").as_deref() == Some("subscribed")
    );
    assert_eq!(m.consent("joe@example.org", "$email_marketing").as_deref(), Some("unsubscribed"));
    assert_eq!(m.attrs("ana@example.net")["$region"], "BR");
}

#[test]
fn airship_channels() {
    let m = migrate("airship_channels.ndjson", "airship");
    assert!(m.job.contains("format = \"ndjson\""), "{}", m.job);
    assert_eq!(rejected(&m), 0, "{}", m.job);
    let u1 = m.attrs("u-1");
    assert_eq!(u1["$email_address"], "jane@example.com", "an email channel's email_address");
    assert_eq!(u1["$phone_number"], "+33639981337");
    assert_eq!(u1["$sms_marketing"], "unsubscribed", "commercial_opted_out on the SMS channel");
    assert!(u1.get("$email_marketing").is_none(), "the SMS opt-out does not touch email");
    assert_eq!(u1["$timezone"], "Europe/Paris", "device_attributes.ua_local_tz");
    assert!(!u1.as_object().unwrap().values().any(|v| v.as_str().is_some_and(|s| s.starts_with("28A979"))));
    assert_eq!(m.consent("u-2", "$email_marketing").as_deref(), Some("unsubscribed"));
    assert_eq!(m.attrs("u-2")["$email_address"], "joe@example.org");
    assert_eq!(m.consent("u-3", "$email_marketing"), None, "an opt-in date alone is not sent as a consent");
}

#[test]
fn clevertap_profiles() {
    let m = migrate("clevertap_profiles.csv", "clevertap");
    assert_eq!(rejected(&m), 0, "{}", m.job);
    assert_eq!(m.consent("u-1", "$email_marketing").as_deref(), Some("subscribed"));
    assert_eq!(m.consent("u-1", "$sms_marketing").as_deref(), Some("unsubscribed"));
    assert_eq!(m.consent("u-2", "$email_marketing").as_deref(), Some("unsubscribed"));
    assert_eq!(m.attrs("u-2")["$region"], "GB");
}

#[test]
fn braze_json_lines_export() {
    let m = migrate("braze_users.ndjson", "braze");
    assert!(m.job.contains("format = \"ndjson\""), "{}", m.job);
    assert_eq!(rejected(&m), 0, "{}", m.job);
    let jane = m.attrs("u-1");
    assert_eq!(jane["$email_marketing"], "subscribed");
    assert_eq!(jane["plan"], "pro", "a nested field, read by its dotted path");
    assert_eq!(jane["favourite_colours"], serde_json::json!(["blue", "green"]));
    assert!(m.attrs("u-3").get("favourite_colours").is_none(), "an empty list sends nothing");
    assert_eq!(m.consent("u-2", "$email_marketing").as_deref(), Some("unsubscribed"), "email_unsubscribed_at wins");
    assert_eq!(m.attrs("u-2")["$timezone"], "Europe/London", "a Rails zone name");
    assert_eq!(m.consent("u-3", "$email_marketing").as_deref(), Some("unsubscribed"));
}

#[test]
fn json_lines_rejects_name_their_json_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "dump.jsonl",
        "{\"id\":\"u1\",\"profile\":{\"age\":30}}\n\n{\"id\":\"u2\",\"profile\":{\"age\":\"old\"}}\n{\"id\":null}\n",
    );
    let job = "[job]\nname = \"d\"\nkind = \"profiles\"\nrejects = \"out\"\n[source]\npath = \"dump.jsonl\"\n\
               [mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nage = { column = \"profile.age\", type = \"int\" }\n";
    write(dir.path(), "job.toml", job);
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    let s = json(&out);
    // A bad age is left out of u2's row (sent without it); a blank ID rejects its row.
    assert_eq!((s["rows_read"].as_u64(), s["rows_rejected"].as_u64()), (Some(3), Some(1)), "{s}");
    assert_eq!(s["values_dropped"], 1, "{s}");
    let line = |k: &str| s["forecast"][k][0]["first_lines"][0].as_u64().unwrap();
    assert_eq!((line("values_dropped"), line("rejects")), (3, 4), "JSON line numbers, the blank line counted");
    // A line that is not JSON is a reject with its line and reason; the next lines go on.
    write(dir.path(), "dump.jsonl", "{\"id\":\"u1\"}\nnot json\n[1,2]\n{\"id\":\"u4\",\"profile\":{\"age\":4}}\n");
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    let s = json(&out);
    assert_eq!((s["rows_read"].as_u64(), s["rows_rejected"].as_u64()), (Some(4), Some(2)), "{s}");
    let groups = s["forecast"]["rejects"].as_array().unwrap();
    let text = serde_json::to_string(groups).unwrap();
    assert!(text.contains("not valid JSON") && text.contains("not an object"), "{text}");
    let lines: Vec<u64> =
        groups.iter().flat_map(|g| g["first_lines"].as_array().unwrap().clone()).map(|l| l.as_u64().unwrap()).collect();
    assert!(lines.contains(&2) && lines.contains(&3), "{text}");
}

/// Keys first seen deep in the file are columns: the file is read ahead for
/// its key set, so a job may name them and their rows are read.
#[test]
fn json_lines_keys_seen_late_are_columns() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::new();
    for i in 0..2500 {
        body.push_str(&format!("{{\"id\":\"u{i}\"}}\n"));
    }
    body.push_str("{\"id\":\"late\",\"profile\":{\"plan\":\"pro\"}}\n");
    write(dir.path(), "dump.ndjson", &body);
    let job = "[job]\nname = \"d\"\nkind = \"profiles\"\n[source]\npath = \"dump.ndjson\"\n\
               [mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nplan = \"profile.plan\"\n";
    write(dir.path(), "job.toml", job);
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    let s = json(&out);
    assert_eq!(out.status.code(), Some(0), "{s}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((s["rows_read"].as_u64(), s["rows_rejected"].as_u64()), (Some(2501), Some(0)), "{s}");
    let out = run_in(dir.path(), &["init", "dump.ndjson"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("profile.plan"), "init sees the late key");
}

/// Issue 26, point 7: the subscribed export's job says "subscribed" for every
/// row; the unsubscribed (or cleaned) export dropped at the same path next
/// week is refused before anything is sent, never imported as subscribed.
#[test]
fn a_mailchimp_subscribed_job_refuses_the_unsubscribed_export_at_its_path() {
    let m = migrate("mailchimp_subscribed_members_export.csv", "mailchimp");
    assert!(m.job.contains("unless_columns = [\"UNSUB_TIME\", \"CLEAN_TIME\"]"), "{}", m.job);
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/migrate");
    for other in ["mailchimp_unsubscribed_members_export.csv", "mailchimp_cleaned_members_export.csv"] {
        let requests = m.emu.stats().requests;
        let body = std::fs::read(data.join(other)).unwrap();
        let path = write(m.dir.path(), "mailchimp_subscribed_members_export.csv", body);
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .unwrap()
            .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            .unwrap();
        for command in ["run", "validate"] {
            let out = bin()
                .args([command, "job.toml", "--state"])
                .arg(m.dir.path().join("state"))
                .current_dir(m.dir.path())
                .env("BATCH_REST_KEY", "emulator_rest_key")
                .env("BATCH_PROJECT_KEY", "project_emulator")
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {other}: {err}");
            assert!(err.contains("email_marketing") && err.contains("another export"), "{err}");
        }
        assert_eq!(m.emu.stats().requests, requests, "nothing sent");
    }
}

/// Issue 25, point 1: a Mailchimp unsubscribed export whose `Phone Number`
/// holds national numbers with no country in the row. The phone is left out,
/// the opt-out arrives, the line is reported with its column and reason.
#[test]
fn an_unreadable_phone_never_costs_an_opt_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("Email Address,First Name,Phone Number,UNSUB_TIME\n");
    for i in 0..12 {
        text.push_str(&format!("p{i}@example.com,P,+3363998134{},2022-03-03 03:03:03\n", i % 10));
    }
    text.push_str("b@example.com,B,880.621.5931,2022-03-03 03:03:03\n");
    write(dir.path(), "unsubscribed_members.csv", text);
    let m = migrate_in(dir, "unsubscribed_members.csv", "mailchimp");
    assert_eq!(rejected(&m), 0, "{}\n{}", m.summary, m.job);
    for id in (0..12).map(|i| format!("p{i}@example.com")).chain(["b@example.com".to_string()]) {
        assert_eq!(m.consent(&id, "$email_marketing").as_deref(), Some("unsubscribed"), "{id}\n{}", m.job);
    }
    assert_eq!(m.attrs("p1@example.com")["$phone_number"], "+33639981341", "{}", m.job);
    assert!(m.attrs("b@example.com").get("$phone_number").is_none());
    assert_eq!(m.summary["values_dropped"], 1, "{}", m.summary);
    let rejects = crate::common::csv_rows(&m.dir.path().join(m.summary["rejects_file"].as_str().unwrap()));
    assert_eq!(rejects.len(), 2, "one line per row with a value left out: {rejects:?}");
    assert!(rejects[1].iter().any(|c| c == "Phone Number") && rejects[1].iter().any(|c| c.contains("left out")));
}
