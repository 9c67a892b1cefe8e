//! One test per finding of the audit (issue 14), each failing before the fix:
//! rows the API would refuse are rejects at `validate` time, with the reason.

use super::{cmd, emulator, job, report_rows, summary};
use crate::common::write;
use batchport_emulator::{EmulatorConfig, Faults};
use serde_json::json;

const PROFILE_MAPPING: &str = "[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nname = \"name\"\n";

/// `(line, column, reason)` of each reject.
fn rejects(dir: &std::path::Path, s: &serde_json::Value) -> Vec<(String, String, String)> {
    report_rows(dir, s, "rejects_file")[1..]
        .iter()
        .map(|r| (r[r.len() - 4].clone(), r[r.len() - 3].clone(), r[r.len() - 2].clone()))
        .collect()
}

#[test]
fn custom_ids_are_limited_in_characters_not_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(EmulatorConfig::default());
    let (e257, a512, a1025) = ("é".repeat(257), "a".repeat(512), "a".repeat(1025));
    write(dir.path(), "u.csv", format!("id,name\n{e257},x\n{a512},x\n{a1025},x\nu1,x\n"));
    job(dir.path(), "j.toml", "profiles", &emu.base_url(), "endpoint = \"update\"", "u.csv", PROFILE_MAPPING);
    let s = summary(&cmd(dir.path(), "validate", "j.toml"), 3);
    assert_eq!((s["rows_valid"].as_u64(), s["rows_rejected"].as_u64()), (Some(2), Some(2)), "{s}");
    let r = rejects(dir.path(), &s);
    assert_eq!((r[0].0.as_str(), r[0].1.as_str()), ("3", "id"));
    assert!(r[0].2.contains("512 characters") && r[1].2.contains("1025 characters"), "{r:?}");
    let s = summary(&cmd(dir.path(), "run", "j.toml"), 3);
    assert_eq!(s["rows_sent"], 2);
    assert_eq!(emu.stats().partial_errors, 0, "the emulator refused nothing the client sent");
    assert!(emu.profile(&e257).is_some(), "257 x é is 257 characters: sent and kept as it is");
}

#[test]
fn custom_ids_are_not_trimmed_silently() {
    let dir = tempfile::tempdir().unwrap();
    // (A NUL byte makes the reader refuse the whole file as binary; the NUL
    // rule itself is `rules::check_custom_id`'s, unit-tested there.)
    write(dir.path(), "u.csv", "id,name\n\" u1\",x\n\"u2 \",x\nu\u{1}3,x\nu5,x\n");
    job(dir.path(), "j.toml", "profiles", "emulator", "", "u.csv", PROFILE_MAPPING);
    let s = summary(&cmd(dir.path(), "validate", "j.toml"), 3);
    let r = rejects(dir.path(), &s);
    let reasons: Vec<&str> = r.iter().map(|x| x.2.as_str()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("whitespace") && reasons[0].contains("custom_id_trim"), "{reasons:?}");
    assert!(reasons[1].contains("whitespace"));
    assert!(reasons[2].contains("control character"));
    // Opt-in: trimmed, then checked; control characters stay refused.
    let text = std::fs::read_to_string(dir.path().join("j.toml")).unwrap();
    write(dir.path(), "j.toml", text.replace("custom_id = \"id\"", "custom_id = \"id\"\ncustom_id_trim = true"));
    let s = summary(&cmd(dir.path(), "validate", "j.toml"), 3);
    assert_eq!((s["rows_valid"].as_u64(), s["rows_rejected"].as_u64()), (Some(3), Some(1)), "{s}");
}

#[test]
fn a_date_in_year_minus_one_is_a_reject() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "u.csv", "id,born\nu1,-0001-01-01\nu2,1989-07-20\n");
    let mapping = "[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nborn = { column = \"born\", type = \"date\", format = \"%Y-%m-%d\" }\n";
    job(dir.path(), "j.toml", "profiles", "emulator", "", "u.csv", mapping);
    let s = summary(&cmd(dir.path(), "validate", "j.toml"), 3);
    let r = rejects(dir.path(), &s);
    assert_eq!((r.len(), r[0].1.as_str()), (1, "born"));
    assert!(r[0].2.contains("0000 to 9999"), "{r:?}");
}

#[test]
fn fifty_one_event_attributes_are_a_job_file_error() {
    let dir = tempfile::tempdir().unwrap();
    let cols: Vec<String> = (0..51).map(|i| format!("a{i}")).collect();
    write(dir.path(), "e.csv", format!("id,event,{}\nu1,buy,{}\n", cols.join(","), vec!["1"; 51].join(",")));
    let attrs: String = cols.iter().map(|c| format!("{c} = \"{c}\"\n")).collect();
    let mapping = format!("[mapping]\ncustom_id = \"id\"\nevent = \"event\"\n[mapping.event_attributes]\n{attrs}");
    job(dir.path(), "j.toml", "events", "emulator", "", "e.csv", &mapping);
    let out = cmd(dir.path(), "validate", "j.toml");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most 50 per event"));
}

const EVENTS_MAPPING: &str = "[mapping]\ncustom_id = \"id\"\nevent = \"event\"\ntime = { column = \"time\" }\n[mapping.attributes]\ntier = \"tier\"\n[mapping.event_attributes]\n\"$label\" = \"label\"\n";

/// A year of daily events per user, plus one recent event each.
fn year_of_events(users: usize) -> (String, usize) {
    let now = chrono::Utc::now();
    let mut f = String::from("id,event,time,tier,label\n");
    let mut old = 0;
    for u in 0..users {
        for day in (1..=365).rev() {
            let t = now - chrono::Duration::days(day) - chrono::Duration::hours(1);
            f.push_str(&format!("u{u},visit,{},gold,day {day}\n", t.to_rfc3339()));
            old += 1;
        }
        let recent = now - chrono::Duration::minutes(30);
        f.push_str(&format!("u{u},visit,{},gold,today\n", recent.to_rfc3339()));
    }
    (f, old)
}

#[test]
fn a_year_of_events_is_reported_out_of_window_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(EmulatorConfig::default());
    let (csv, old) = year_of_events(3);
    write(dir.path(), "e.csv", csv);
    job(dir.path(), "j.toml", "events", &emu.base_url(), "endpoint = \"update\"", "e.csv", EVENTS_MAPPING);
    let s = summary(&cmd(dir.path(), "validate", "j.toml"), 3);
    assert_eq!((s["rows_rejected"].as_u64(), s["rows_valid"].as_u64()), (Some(old as u64), Some(3)), "{s}");
    assert_eq!(emu.stats().requests, 0, "validate sends nothing");
    let r = rejects(dir.path(), &s);
    assert!(
        r.iter().all(|x| x.1 == "time" && x.2.contains("older than 24 h") && x.2.contains("Bringing history")),
        "{r:?}"
    );
    let s = summary(&cmd(dir.path(), "run", "j.toml"), 3);
    assert_eq!(s["rows_sent"], 3);
    assert_eq!(emu.stats().partial_errors, 0);
    assert_eq!(emu.profile("u1").unwrap()["events"].as_array().unwrap().len(), 1);
}

#[test]
fn with_the_client_window_off_the_strict_emulator_refuses_old_events_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(EmulatorConfig::default());
    let (csv, old) = year_of_events(1);
    write(dir.path(), "e.csv", csv);
    let api = "endpoint = \"update\"\nevent_max_age = \"none\"";
    job(dir.path(), "j.toml", "events", &emu.base_url(), api, "e.csv", EVENTS_MAPPING);
    assert_eq!(summary(&cmd(dir.path(), "validate", "j.toml"), 0)["rows_rejected"], 0);
    let s = summary(&cmd(dir.path(), "run", "j.toml"), 3);
    // Each old event is refused alone: its row is a reject (nothing of it was
    // applied), the recent one arrives, the profile attribute too.
    assert_eq!((s["rows_rejected"].as_u64(), s["rows_sent"].as_u64()), (Some(old as u64), Some(1)), "{s}");
    let p = emu.profile("u0").unwrap();
    assert_eq!((p["events"].as_array().unwrap().len(), &p["attributes"]["tier"]), (1, &json!("gold")));
    assert!(rejects(dir.path(), &s).iter().all(|x| x.2.contains("events[")), "the refused event is named");
    // The lax emulator takes history as it is.
    let lax = emulator(EmulatorConfig { strict_event_time: false, ..EmulatorConfig::default() });
    job(dir.path(), "k.toml", "events", &lax.base_url(), api, "e.csv", EVENTS_MAPPING);
    assert_eq!(summary(&cmd(dir.path(), "run", "k.toml"), 0)["rows_sent"].as_u64(), Some(old as u64 + 1));
}

#[test]
fn partially_applied_rows_are_reported_apart_and_never_resent() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults { refuse_attribute: Some("tier".into()), ..Faults::default() };
    let emu = emulator(EmulatorConfig { faults, ..EmulatorConfig::default() });
    let now = chrono::Utc::now() - chrono::Duration::minutes(5);
    let mut f = String::from("id,event,time,tier,label\n");
    for i in 0..40 {
        f.push_str(&format!("u{},buy,{},gold,item {i}\n", i % 10, now.to_rfc3339()));
    }
    write(dir.path(), "e.csv", f);
    job(dir.path(), "j.toml", "events", &emu.base_url(), "endpoint = \"update\"", "e.csv", EVENTS_MAPPING);
    let s = summary(&cmd(dir.path(), "run", "j.toml"), 3);
    assert_eq!((s["rows_sent"].as_u64(), s["rows_partial"].as_u64()), (Some(40), Some(40)), "{s}");
    assert_eq!((s["rows_rejected"].as_u64(), &s["rejects_file"]), (Some(0), &json!(null)), "nothing to re-import");
    let partial = report_rows(dir.path(), &s, "partial_file");
    assert_eq!(partial.len(), 41);
    assert!(partial[1..].iter().all(|r| r[r.len() - 3] == "tier" && r[r.len() - 2].contains("tier")), "{partial:?}");
    let p = emu.profile("u3").unwrap();
    assert_eq!((p["events"].as_array().unwrap().len(), p["attributes"].get("tier")), (4, None));
    // Run again: the run is done, nothing is sent twice; "already imported"
    // repeats the status (and exit code) of the run that did it.
    let again = summary(&cmd(dir.path(), "run", "j.toml"), 3);
    assert!(again["note"].as_str().unwrap_or_default().contains("already imported"), "{again}");
    assert_eq!(emu.profile("u3").unwrap()["events"].as_array().unwrap().len(), 4);
}

#[test]
fn event_attributes_are_checked_and_take_objects() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(EmulatorConfig::default());
    let t = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let tags11 = (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>().join("|");
    let items = r#"[{""sku"":""a"",""n"":2},{""sku"":""b""}]"#;
    let long = "é".repeat(201);
    write(
        dir.path(),
        "e.csv",
        format!(
            "id,event,time,label,tags,pname,pprice,items\n\
             u1,buy,{t},ok,a|b,pumpkin,3.5,\"{items}\"\n\
             u2,buy,{t},{long},a,,,\n\
             u3,buy,{t},ok,{tags11},,,\n\
             u4,buy,{t},ok,a,,,\"{{\"\"Bad\"\":1}}\"\n"
        ),
    );
    let mapping = "[mapping]\ncustom_id = \"id\"\nevent = \"event\"\ntime = { column = \"time\" }\n[mapping.event_attributes]\n\"$label\" = \"label\"\n\"$tags\" = { column = \"tags\", type = \"array\", separator = \"|\" }\n\"product.name\" = \"pname\"\n\"product.price\" = { column = \"pprice\", type = \"float\" }\nitems = { column = \"items\", type = \"json\" }\n";
    job(dir.path(), "j.toml", "events", &emu.base_url(), "endpoint = \"update\"", "e.csv", mapping);
    let s = summary(&cmd(dir.path(), "validate", "j.toml"), 3);
    let r = rejects(dir.path(), &s);
    assert_eq!(r.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(), ["label", "tags", "items"], "{r:?}");
    assert!(r[0].2.contains("200") && r[1].2.contains("10 items"), "{r:?}");
    summary(&cmd(dir.path(), "run", "j.toml"), 3);
    let e = &emu.profile("u1").unwrap()["events"][0]["attributes"];
    assert_eq!(e["product"], json!({"name": "pumpkin", "price": 3.5}));
    assert_eq!(e["items"], json!([{"sku": "a", "n": 2}, {"sku": "b"}]));
    assert_eq!(emu.stats().partial_errors, 0, "the emulator accepted all the client sent");
}

#[test]
fn an_events_export_from_over_90_days_back_is_a_job_file_error() {
    let dir = tempfile::tempdir().unwrap();
    let from = (chrono::Utc::now() - chrono::Duration::days(120)).format("%Y-%m-%d");
    write(
        dir.path(),
        "x.toml",
        format!(
            "[job]\nname = \"x\"\nkind = \"export\"\n[api]\nbase_url = \"emulator\"\n[export]\ntype = \"events\"\nfrom = \"{from}\"\noutput = \"o.ndjson\"\n"
        ),
    );
    let out = cmd(dir.path(), "run", "x.toml");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("90 days"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn new_job_keys_are_checked_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "e.csv", "id,event\nu1,buy\n");
    let mapping = "[mapping]\ncustom_id = \"id\"\nevent = \"event\"\n";
    job(dir.path(), "a.toml", "events", "emulator", "event_max_age = \"soon\"", "e.csv", mapping);
    let out = cmd(dir.path(), "validate", "a.toml");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("api.event_max_age") && err.contains("a.toml:6:"), "{err}");
    let cols: Vec<String> = (0..26).map(|i| format!("f{i}")).collect();
    write(dir.path(), "c.csv", format!("sku,{}\n", cols.join(",")));
    let attrs: String = cols.iter().map(|c| format!("{c} = \"{c}\"\n")).collect();
    let rest =
        format!("[catalog]\nname = \"p\"\ncreate = true\n[mapping]\nitem_id = \"sku\"\n[mapping.attributes]\n{attrs}");
    job(dir.path(), "c.toml", "catalog", "emulator", "", "c.csv", &rest);
    let out = cmd(dir.path(), "validate", "c.toml");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most 25 fields"));
}
