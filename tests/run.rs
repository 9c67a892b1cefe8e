//! `batchport run` against the emulator, as a user runs it: every row arrives
//! exactly once, faults and 429s are absorbed, refused rows land in the rejects
//! file with their lines, bad keys fail fast.

use crate::common::{bin, csv_rows, json, write};
use batchport_emulator::{Emulator, EmulatorConfig, Faults};
use batchport_testdata as testdata;
use std::path::Path;
use std::process::Output;

pub fn emulator(faults: Faults) -> Emulator {
    Emulator::start_background(EmulatorConfig { faults, ..EmulatorConfig::default() }).expect("emulator starts")
}

/// Write a 15-column profile file of `rows` rows and a job that sends it to `emu`.
pub fn setup(dir: &Path, emu: &Emulator, rows: u64, api: &str) {
    let mut csv = Vec::new();
    testdata::write_profiles(&mut csv, rows, 11, 0).unwrap();
    write(dir, "users.csv", csv);
    let api = format!("base_url = \"{}\"\n{api}", emu.base_url());
    write(dir, "job.toml", testdata::profiles_job("it", "users.csv", &api));
}

pub fn run(dir: &Path, extra: &[&str]) -> Output {
    let mut c = bin();
    c.args(["run", "job.toml", "--json", "--state"])
        .arg(dir.join("state"))
        .args(extra)
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator");
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_row_arrives_exactly_once_with_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    setup(dir.path(), &emu, 3_000, "batch_size = 500\nconcurrency = 4");
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = json(&out);
    assert_eq!((s["rows_read"].as_u64(), s["rows_sent"].as_u64()), (Some(3_000), Some(3_000)));
    assert_eq!(s["rows_rejected"], 0);
    assert_eq!(s["requests"], 6);
    let got = emu.received_all();
    assert_eq!(got.len(), 3_000);
    assert!(got.values().all(|&n| n == 1), "no id twice");
    assert!(emu.stats().max_ops_in_call <= 500);
    let p = emu.profile("u42").expect("u42 arrived");
    let a = &p["attributes"];
    assert_eq!(a["$email_address"], "user42@example.com");
    assert!(a["date(birthdate)"].as_str().unwrap().ends_with("T00:00:00Z"));
    assert!(a["interests"].is_array());
    assert!(matches!(a["$email_marketing"].as_str(), Some("subscribed" | "unsubscribed")));
}

#[test]
fn faults_and_a_429_storm_are_absorbed() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults { error_rate: 0.05, seed: 7, ..Faults::default() };
    let emu = emulator(faults);
    setup(dir.path(), &emu, 4_000, "batch_size = 200\nconcurrency = 4");
    // Started now, not with the emulator: on a loaded machine writing the
    // file and starting the process can outlast a storm begun earlier.
    emu.trigger_storm(std::time::Duration::from_millis(1_200));
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = json(&out);
    assert_eq!(s["rows_sent"], 4_000);
    assert!(s["http_429"].as_u64().unwrap() >= 1, "the storm was seen: {s}");
    assert!(s["retries"].as_u64().unwrap() >= s["http_429"].as_u64().unwrap());
    let got = emu.received_all();
    assert_eq!(got.len(), 4_000);
    // 5xx answers are not applied, so a retry never doubles a row.
    assert!(got.values().all(|&n| n == 1));
}

fn marked_file(dir: &Path, emu: &Emulator, endpoint: &str) {
    let mut f = String::from("id,email\n");
    for i in 0..300 {
        let id = if [17, 150, 299].contains(&i) { format!("uBAD{i}") } else { format!("u{i}") };
        f.push_str(&format!("{id},user{i}@example.com\n"));
    }
    write(dir, "users.csv", f);
    write(
        dir,
        "job.toml",
        format!(
            "[job]\nname = \"marked\"\nkind = \"profiles\"\n[api]\nbase_url = \"{}\"\nendpoint = \"{endpoint}\"\nbatch_size = 100\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\n[mapping.native]\nemail_address = \"email\"\n",
            emu.base_url()
        ),
    );
}

fn rejected_lines(dir: &Path, s: &serde_json::Value) -> Vec<(String, String)> {
    let path = dir.join(s["rejects_file"].as_str().expect("a rejects file"));
    let path = if path.exists() { path } else { s["rejects_file"].as_str().unwrap().into() };
    csv_rows(&path)[1..].iter().map(|r| (r[2].clone(), r[4].clone())).collect()
}

#[test]
fn partial_errors_and_split_400s_reject_exactly_the_bad_lines() {
    for endpoint in ["update", "mass-update"] {
        let dir = tempfile::tempdir().unwrap();
        let emu = emulator(Faults { refuse_marker: Some("BAD".into()), ..Faults::default() });
        marked_file(dir.path(), &emu, endpoint);
        let out = run(dir.path(), &[]);
        assert_eq!(out.status.code(), Some(3), "{endpoint}: {}", stderr(&out));
        let s = json(&out);
        assert_eq!((s["rows_sent"].as_u64(), s["rows_rejected"].as_u64()), (Some(297), Some(3)), "{endpoint}");
        let lines = rejected_lines(dir.path(), &s);
        // Batches settle in the order their answers come back: sort by line.
        let mut got: Vec<u64> = lines.iter().map(|(l, _)| l.parse().unwrap()).collect();
        got.sort();
        assert_eq!(got, [19, 152, 301], "{endpoint}");
        assert!(lines.iter().all(|(_, reason)| reason.contains("refuse")), "{endpoint}: {lines:?}");
        let received = emu.received_all();
        assert_eq!(received.len(), 297, "{endpoint}");
        assert!(received.keys().all(|k| !k.contains("BAD")));
    }
}

#[test]
fn a_wrong_key_fails_fast_and_a_missing_key_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    setup(dir.path(), &emu, 100, "");
    let mut c = bin();
    c.args(["run", "job.toml", "--state"]).arg(dir.path().join("state")).current_dir(dir.path());
    let out = c.env("BATCH_REST_KEY", "wrong").env("BATCH_PROJECT_KEY", "project_emulator").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("401") && !err.contains("wrong"), "names the problem, never the key: {err}");
    assert_eq!(emu.stats().requests, 1, "no retry of a 401");

    write(dir.path(), "job.toml", testdata::profiles_job("it", "missing.csv", ""));
    let out = crate::common::bin()
        .args(["run", "job.toml", "--state"])
        .arg(dir.path().join("state"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("BATCH_REST_KEY") && err.contains("BATCH_PROJECT_KEY"), "{err}");
}

#[test]
fn a_finished_unchanged_input_is_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    setup(dir.path(), &emu, 500, "");
    assert_eq!(run(dir.path(), &[]).status.code(), Some(0));
    let requests = emu.stats().requests;
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(json(&out)["note"].as_str().unwrap().contains("already imported"));
    assert_eq!(emu.stats().requests, requests);
}

#[test]
fn the_achieved_rate_and_the_429s_are_in_the_summary_and_in_status() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    // 12 calls of 500 at 2,000/s (planned 1,990): half the bucket (1,000) at
    // once, then one call every 0.25 s: about 2.5 s for 6,000 updates. The
    // bucket refills while the first rows are read, up to 2,000: 2 s at least.
    setup(dir.path(), &emu, 6_000, "batch_size = 500\nrate = 2000");
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = json(&out);
    let rate = s["rate_achieved"].as_f64().expect("a rate");
    assert!((2_000.0..=3_000.0).contains(&rate), "{s}");
    assert_eq!(s["http_429"], 0);

    let mut c = bin();
    c.args(["status", "job.toml", "--json", "--state"]).arg(dir.path().join("state")).current_dir(dir.path());
    let out = c.output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let counters = &status[0]["runs"][0]["counters"];
    assert_eq!((counters["updates_accepted"].as_u64(), counters["http_429"].as_u64()), (Some(6_000), Some(0)));
    assert_eq!(counters["rate_achieved"].as_f64(), Some(rate), "{status}");
    let mut c = bin();
    c.args(["status", "job.toml", "--state"]).arg(dir.path().join("state")).current_dir(dir.path());
    let out = c.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(text.contains("429s 0, ") && text.contains(" updates/s achieved"), "{text}");
}
