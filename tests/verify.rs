//! `batchport verify` against the emulator's silent-loss fault: a run that
//! ends `done` while Batch dropped some accepted operations; verify finds
//! exactly those IDs (and the attributes someone changed since), `--repair`
//! sends them again, a second verify exits 0; `--rebuild-index` after a lost
//! state folder makes the next `changed_only` run send nothing unchanged;
//! globs, gzip and NDJSON are read as `run` reads them; `--sample`.

use crate::common::{bin, csv_rows, emulator_process, json, write};
use batchport_emulator::{Emulator, EmulatorConfig, Faults};
use batchport_engine::export::POLL_ENV;
use batchport_testdata as testdata;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn lossy(faults: Faults) -> Emulator {
    Emulator::start_background(EmulatorConfig {
        faults,
        export_duration: Duration::from_millis(150),
        export_part_size: 170,
        ..EmulatorConfig::default()
    })
    .unwrap()
}

fn batchport(dir: &Path, args: &[&str]) -> Output {
    let mut c = bin();
    c.args(args)
        .arg("--json")
        .arg("--state")
        .arg(dir.join("state"))
        .current_dir(dir)
        .env(POLL_ENV, "30")
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator");
    c.output().unwrap()
}

/// `batchport ARGS --json`: its exit code and summary.
fn call(dir: &Path, args: &[&str]) -> (i32, Value) {
    let out = batchport(dir, args);
    let code = out.status.code().unwrap_or(-1);
    let v = json(&out);
    (code, v)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn profiles(dir: &Path, rows: u64, url: &str, extra_mapping: &str) {
    let mut csv = Vec::new();
    testdata::write_profiles(&mut csv, rows, 4, 0).unwrap();
    write(dir, "users.csv", csv);
    let job = testdata::profiles_job("nightly", "users.csv", &format!("base_url = \"{url}\""))
        .replace("[mapping]\n", &format!("[mapping]\n{extra_mapping}"));
    write(dir, "job.toml", job);
}

/// The differences file's (custom_id, attribute) pairs.
fn differences(report: &Value) -> BTreeSet<(String, String)> {
    let path = report["differences_file"].as_str().expect("a differences file");
    let rows = csv_rows(Path::new(path));
    assert_eq!(rows[0], ["file", "line", "custom_id", "attribute", "expected", "found"]);
    rows[1..].iter().map(|r| (r[2].clone(), r[3].clone())).collect()
}

#[test]
fn silent_losses_are_found_exactly_repaired_and_verified() {
    let emu = lossy(Faults { drop_rate: 0.04, seed: 11, ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    profiles(d, 800, &emu.base_url(), "");
    let (code, run) = call(d, &["run", "job.toml"]);
    assert_eq!((code, run["status"].as_str()), (0, Some("done")), "{run}");
    assert_eq!(run["rows_sent"], 800);
    let dropped: BTreeSet<String> = emu.dropped_ids().into_iter().collect();
    assert!((10..70).contains(&dropped.len()), "{}", dropped.len());
    assert_eq!(emu.stats().silently_dropped, dropped.len() as u64);

    // Someone changes two profiles in Batch since: a name, and a consent.
    let (u1, u2) = ["u1", "u2", "u3", "u4", "u5", "u6"]
        .iter()
        .filter(|u| !dropped.contains(**u))
        .map(|u| u.to_string())
        .collect::<Vec<_>>()
        .split_first()
        .map(|(a, rest)| (a.clone(), rest[0].clone()))
        .unwrap();
    let optin = emu.profile(&u2).unwrap()["attributes"]["$email_marketing"].as_str().unwrap().to_string();
    let flipped = if optin == "subscribed" { "no" } else { "yes" };
    write(d, "edit.csv", format!("custom_id,first_name,email_optin\n{u1},Zed,\n{u2},,{flipped}\n"));
    write(
        d,
        "edit.toml",
        format!(
            "[job]\nname = \"edit\"\nkind = \"profiles\"\n[api]\nbase_url = \"{}\"\nendpoint = \"update\"\n[source]\npath = \"edit.csv\"\n[mapping]\ncustom_id = \"custom_id\"\n[mapping.native]\nemail_marketing = {{ column = \"email_optin\", subscribed = [\"yes\"], unsubscribed = [\"no\"] }}\n[mapping.attributes]\nfirst_name = \"first_name\"\n",
            emu.base_url()
        ),
    );
    let out = batchport(d, &["run", "edit.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let (code, report) = call(d, &["verify", "job.toml"]);
    assert_eq!(code, 3, "{report}");
    assert_eq!(report["status"], "differ");
    assert_eq!(report["profiles_checked"], 800);
    assert_eq!(report["profiles_missing"], dropped.len() as u64);
    assert_eq!(report["profiles_differing"], 2);
    assert_eq!(report["profiles_matching"], 800 - 2 - dropped.len() as u64);
    assert_eq!(report["differing_by_attribute"], serde_json::json!({"first_name": 1}));
    assert_eq!(report["consent_differing"], serde_json::json!({"$email_marketing": 1}));
    assert_eq!(report["profiles_consent_differing"], 1);
    let mut want: BTreeSet<(String, String)> = dropped.iter().map(|id| (id.clone(), "(profile)".to_string())).collect();
    want.insert((u1.clone(), "first_name".into()));
    want.insert((u2.clone(), "$email_marketing".into()));
    assert_eq!(differences(&report), want);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(report["differences_file"].as_str().unwrap()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The line of a missing profile is its row's: u{i} is on line i + 2.
    let rows = csv_rows(Path::new(report["differences_file"].as_str().unwrap()));
    for r in &rows[1..] {
        let i: u64 = r[2][1..].parse().unwrap();
        assert_eq!(r[1], (i + 2).to_string(), "{r:?}");
        assert!(r[0].ends_with("users.csv"), "{r:?}");
    }

    let (code, repaired) = call(d, &["verify", "job.toml", "--repair"]);
    assert_eq!(code, 3, "it found differences: {repaired}");
    assert_eq!(repaired["profiles_repaired"], dropped.len() as u64 + 2);
    assert_eq!(repaired["repair"]["status"], "done", "{repaired}");
    assert_eq!(repaired["repair"]["rows_sent"], dropped.len() as u64 + 2);
    assert_eq!(emu.received(&u1), 3, "run, edit, repair");
    for id in &dropped {
        assert!(emu.profile(id).is_some(), "{id} repaired");
    }

    let (code, again) = call(d, &["verify", "job.toml"]);
    assert_eq!(code, 0, "{again}");
    assert_eq!(again["status"], "match");
    assert_eq!(again["profiles_matching"], 800);
    assert!(again["differences_file"].is_null());
}

#[test]
fn an_index_rebuilt_after_a_lost_state_folder_sends_only_what_changed() {
    let emu = lossy(Faults { drop_ids: vec!["u7".into()], ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    profiles(d, 500, &emu.base_url(), "changed_only = true\n");
    assert_eq!(call(d, &["run", "job.toml"]).1["rows_sent"], 500);
    std::fs::remove_dir_all(d.join("state")).unwrap();

    // u7 was lost: not recorded until the repair run has sent it.
    let (code, report) = call(d, &["verify", "job.toml", "--rebuild-index", "--repair"]);
    assert_eq!(code, 3, "{report}");
    assert_eq!((report["profiles_missing"].as_u64(), report["repair"]["rows_sent"].as_u64()), (Some(1), Some(1)));
    assert_eq!(report["index_rebuilt"], 500);
    let (code, run) = call(d, &["run", "job.toml"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!((run["rows_sent"].as_u64(), run["rows_unchanged"].as_u64()), (Some(0), Some(500)), "{run}");

    // Three rows edited: only they are sent.
    let text = std::fs::read_to_string(d.join("users.csv")).unwrap();
    let edited: Vec<String> = text
        .lines()
        .enumerate()
        .map(
            |(i, l)| {
                if [5, 77, 300].contains(&i) { l.replacen("@example.com", "@example.org", 1) } else { l.to_string() }
            },
        )
        .collect();
    let edited = edited.join("\n") + "\n";
    assert_ne!(edited, text);
    let changed = text.lines().zip(edited.lines()).filter(|(a, b)| a != b).count() as u64;
    assert_eq!(changed, 3);
    write(d, "users.csv", edited);
    let (code, run) = call(d, &["run", "job.toml"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["rows_sent"].as_u64(), Some(changed), "{run}");

    // Without changed_only there is no index to rebuild.
    let plain = std::fs::read_to_string(d.join("job.toml")).unwrap().replace("changed_only = true\n", "");
    write(d, "plain.toml", plain);
    assert_eq!(call(d, &["verify", "plain.toml", "--rebuild-index"]).0, 2);
}

#[test]
fn globs_gzip_and_ndjson_are_verified_as_run_reads_them() {
    // The CLI flags of the fault, in the emulator's own process.
    let emu = emulator_process(&["--silent-drop-id", "u3", "--silent-drop-id", "u250", "--export-secs", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut csv = Vec::new();
    testdata::write_profiles(&mut csv, 400, 6, 0).unwrap();
    let text = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    write(d, "in/p1.csv", lines[..201].join("\n") + "\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all((lines[0].to_string() + "\n" + &lines[201..].join("\n") + "\n").as_bytes()).unwrap();
    write(d, "in/p2.csv.gz", gz.finish().unwrap());
    write(d, "job.toml", testdata::profiles_job("glob", "in/p*", &format!("base_url = \"{}\"", emu.url)));
    assert_eq!(call(d, &["run", "job.toml"]).1["rows_sent"], 400);
    let (code, report) = call(d, &["verify", "job.toml"]);
    assert_eq!(code, 3, "{report}");
    assert_eq!(report["profiles_missing"], 2);
    let rows = csv_rows(Path::new(report["differences_file"].as_str().unwrap()));
    let mut found: Vec<(String, String, String)> = rows[1..]
        .iter()
        .map(|r| (Path::new(&r[0]).file_name().unwrap().to_string_lossy().into_owned(), r[1].clone(), r[2].clone()))
        .collect();
    found.sort();
    // u250 is the 51st data row of the second file: line 52.
    assert_eq!(
        found,
        [("p1.csv".to_string(), "5".to_string(), "u3".to_string()), ("p2.csv.gz".into(), "52".into(), "u250".into())]
    );
    // A relative state folder, as a user types it.
    let out = bin()
        .args(["verify", "job.toml", "--repair", "--json", "--state", "state"])
        .current_dir(d)
        .env(POLL_ENV, "30")
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .output()
        .unwrap();
    let fixed = json(&out);
    assert_eq!((out.status.code(), &fixed["repair"]["rows_sent"]), (Some(3), &Value::from(2)), "{fixed}");
    assert_eq!(call(d, &["verify", "job.toml"]).0, 0);

    // NDJSON, nested fields by dotted path; one profile lost.
    let emu = lossy(Faults { drop_ids: vec!["n2".into()], ..Faults::default() });
    write(
        d,
        "people.ndjson",
        "{\"id\":\"n1\",\"profile\":{\"name\":\"Ann\",\"tags\":\"a|b\"}}\n{\"id\":\"n2\",\"profile\":{\"name\":\"Bo\"}}\n{\"id\":\"n3\",\"profile\":{\"name\":\"Cy\",\"tags\":\"c\"}}\n",
    );
    write(
        d,
        "nd.toml",
        format!(
            "[job]\nname = \"nd\"\nkind = \"profiles\"\n[api]\nbase_url = \"{}\"\n[source]\npath = \"people.ndjson\"\n[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nname = \"profile.name\"\ntags = {{ column = \"profile.tags\", type = \"array\", separator = \"|\", mode = \"add\" }}\n",
            emu.base_url()
        ),
    );
    assert_eq!(call(d, &["run", "nd.toml"]).1["rows_sent"], 3);
    let (code, report) = call(d, &["verify", "nd.toml"]);
    assert_eq!(
        (code, &report["profiles_missing"], &report["profiles_matching"]),
        (3, &Value::from(1), &Value::from(2))
    );
    let (code, fixed) = call(d, &["verify", "nd.toml", "--repair"]);
    assert_eq!((code, &fixed["repair"]["rows_sent"]), (3, &Value::from(1)), "{fixed}");
    assert_eq!(emu.profile("n2").unwrap()["attributes"]["name"], "Bo");
    assert_eq!(call(d, &["verify", "nd.toml"]).0, 0);
}

#[test]
fn a_sample_checks_n_profiles_and_a_seed_repeats_it() {
    let emu = lossy(Faults { drop_rate: 0.2, seed: 5, ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    profiles(d, 400, &emu.base_url(), "");
    assert_eq!(call(d, &["run", "job.toml"]).0, 0);
    let (code, a) = call(d, &["verify", "job.toml", "--sample", "60", "--seed", "7"]);
    assert_eq!(code, 3, "{a}");
    assert_eq!(
        (a["profiles_checked"].as_u64(), a["sample"].as_u64(), a["sample_seed"].as_u64()),
        (Some(60), Some(60), Some(7))
    );
    let missing = a["profiles_missing"].as_u64().unwrap();
    assert!((2..30).contains(&missing), "{missing} of 60 at a 20% loss");
    let ids = differences(&a);
    let (_, b) = call(d, &["verify", "job.toml", "--sample", "60", "--seed", "7"]);
    assert_eq!(differences(&b), ids, "the same seed, the same sample");
    let (_, c) = call(d, &["verify", "job.toml", "--sample", "60", "--seed", "8"]);
    assert_ne!(differences(&c), ids);
    let (_, all) = call(d, &["verify", "job.toml", "--sample", "100000"]);
    assert_eq!(all["profiles_checked"], 400);
    assert_eq!(all["profiles_missing"].as_u64(), Some(emu.dropped_ids().len() as u64));
}

#[test]
fn verify_refuses_what_it_cannot_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "ev.csv", "custom_id,event\nu1,login\n");
    write(
        d,
        "ev.toml",
        "[job]\nname = \"ev\"\nkind = \"events\"\n[api]\nbase_url = \"http://127.0.0.1:9\"\n[source]\npath = \"ev.csv\"\n[mapping]\ncustom_id = \"custom_id\"\nevent = \"event\"\n",
    );
    let (code, v) = call(d, &["verify", "ev.toml"]);
    assert_eq!((code, v["status"].as_str()), (2, Some("failed")), "{v}");
    assert!(v["error"].as_str().unwrap().contains("profiles jobs"), "{v}");
    profiles(d, 3, "http://127.0.0.1:9", "");
    let (code, v) = call(d, &["verify", "job.toml", "--sample", "2", "--repair"]);
    assert_eq!(code, 2, "{v}");
    profiles(d, 3, "emulator", "");
    let (code, v) = call(d, &["verify", "job.toml"]);
    assert_eq!(code, 2, "{v}");
    assert!(v["error"].as_str().unwrap().contains("nothing to verify"), "{v}");
}

#[test]
fn a_profile_of_several_rows_is_expected_merged_and_repaired_whole() {
    let emu = lossy(Faults { drop_ids: vec!["m1".into()], ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let job = |name: &str, file: &str, endpoint: &str, mode: &str| {
        format!(
            "[job]\nname = \"{name}\"\nkind = \"profiles\"\n[api]\nbase_url = \"{}\"\nendpoint = \"{endpoint}\"\n[source]\npath = \"{file}\"\n[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nfirst_name = \"first_name\"\ncity = \"city\"\ntags = {{ column = \"tags\", type = \"array\", separator = \"|\"{mode} }}\n",
            emu.base_url()
        )
    };
    // Batch already holds a tag for m3 that the input never names.
    write(d, "before.csv", "id,first_name,city,tags\nm3,,,old\n");
    write(d, "before.toml", job("before", "before.csv", "update", ""));
    assert_eq!(call(d, &["run", "before.toml"]).0, 0);
    // m1's first row (Ann, Paris, tag a) is lost; its second (a blank name) lands.
    write(d, "in.csv", "id,first_name,city,tags\nm1,Ann,Paris,a\nm1,,Lyon,b\nm2,Bo,,c|d\nm3,Cy,Nice,z\n");
    write(d, "job.toml", job("multi", "in.csv", "mass-update", ", mode = \"add\""));
    let (code, run) = call(d, &["run", "job.toml"]);
    assert_eq!((code, &run["rows_sent"]), (0, &Value::from(4)), "{run}");
    assert_eq!(emu.dropped_ids(), ["m1"]);

    let (code, report) = call(d, &["verify", "job.toml"]);
    assert_eq!(code, 3, "{report}");
    assert_eq!((report["profiles_checked"].as_u64(), report["profiles_differing"].as_u64()), (Some(3), Some(1)));
    assert_eq!(report["differing_by_attribute"], serde_json::json!({"first_name": 1, "tags": 1}));
    let rows = csv_rows(Path::new(report["differences_file"].as_str().unwrap()));
    let mut got: Vec<Vec<String>> = rows[1..].iter().map(|r| r[1..].to_vec()).collect();
    got.sort();
    assert_eq!(
        got,
        [
            ["2", "m1", "first_name", "Ann", "(no value)"].map(String::from).to_vec(),
            ["3", "m1", "tags", "has a|b", "[\"b\"]"].map(String::from).to_vec(),
        ]
    );
    let (code, fixed) = call(d, &["verify", "job.toml", "--repair"]);
    assert_eq!(
        (code, &fixed["repair"]["rows_sent"], &fixed["profiles_repaired"]),
        (3, &Value::from(2), &Value::from(1))
    );
    let m1 = emu.profile("m1").unwrap();
    assert_eq!(
        (&m1["attributes"]["first_name"], &m1["attributes"]["city"]),
        (&Value::from("Ann"), &Value::from("Lyon"))
    );
    assert_eq!(call(d, &["verify", "job.toml"]).0, 0);
    assert_eq!(emu.profile("m3").unwrap()["attributes"]["tags"], serde_json::json!(["old", "z"]));
}

#[test]
fn an_export_batch_reports_as_error_fails_the_verify() {
    let emu = Emulator::start_background(EmulatorConfig {
        export_duration: Duration::from_millis(100),
        export_fail: true,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    profiles(d, 20, &emu.base_url(), "");
    assert_eq!(call(d, &["run", "job.toml"]).0, 0);
    let (code, v) = call(d, &["verify", "job.toml"]);
    assert_eq!((code, v["status"].as_str()), (1, Some("failed")), "{v}");
    assert!(v["error"].as_str().unwrap().contains("ERROR"), "{v}");
    assert!(v["differences_file"].is_null());
    // The work files went with it.
    let left: Vec<_> = std::fs::read_dir(d.join("state/verify/nightly")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_verify_beside_an_unfinished_run_says_its_unsent_rows_show_as_missing() {
    let emu = Emulator::start_background(EmulatorConfig {
        mass_update_rate: Some((400, 400)),
        export_duration: Duration::from_millis(100),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    profiles(d, 4_000, &emu.base_url(), "");
    let job = std::fs::read_to_string(d.join("job.toml")).unwrap().replace("[source]", "batch_size = 200\n\n[source]");
    write(d, "job.toml", job);
    let mut child = bin()
        .args(["run", "job.toml", "--state"])
        .arg(d.join("state"))
        .current_dir(d)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let landed =
        testdata::harness::kill_after_requests(&mut child, || emu.stats().requests, 0, 3, Duration::from_secs(60));
    assert!(landed, "killed while it sent");
    let (code, v) = call(d, &["verify", "job.toml"]);
    assert_eq!(code, 3, "{v}");
    assert!(v["note"].as_str().unwrap().contains("is unfinished"), "{v}");
    assert!(v["profiles_missing"].as_u64().unwrap() > 0, "{v}");
}
