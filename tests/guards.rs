//! Guards (issue 28): a nightly whose dump is truncated, empty, mostly
//! rejects, all "changed" or wiping attributes is refused before its first
//! request; a person can accept it once; `validate` judges as `run` does;
//! `status --history` shows it.

use crate::common::{bin, json, run_in, write};
use crate::run::{emulator, run};
use batchport_emulator::Faults;
use std::path::Path;

/// `n` profiles `u0..`: an email, a plan, a city (blank for the ids in `blank_city`).
fn users(n: u32, plan: &str, bad_email: &[u32], blank_city: &[u32]) -> String {
    let mut f = String::from("id,email,plan,city\n");
    for i in 0..n {
        let email = if bad_email.contains(&i) { "not-an-email".to_string() } else { format!("u{i}@example.com") };
        let city = if blank_city.contains(&i) { "" } else { "Paris" };
        f.push_str(&format!("u{i},{email},{plan},{city}\n"));
    }
    f
}

fn job(dir: &Path, url: &str, mapping: &str, extra: &str) {
    write(
        dir,
        "job.toml",
        format!(
            "[job]\nname = \"nightly\"\nkind = \"profiles\"\n[api]\nbase_url = \"{url}\"\nbatch_size = 200\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\non_bad_value = \"reject_row\"\n{mapping}[mapping.native]\nemail_address = \"email\"\n[mapping.attributes]\nplan = \"plan\"\ncity = \"city\"\n{extra}"
        ),
    );
}

fn guard<'a>(s: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    s["guards"].as_array().unwrap().iter().find(|g| g["name"] == name).unwrap_or_else(|| panic!("{name} in {s}"))
}

/// A new dump file (another modification time: not "already imported").
fn dump(dir: &Path, text: &str) {
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(dir, "users.csv", text);
}

#[test]
fn a_truncated_dump_is_refused_before_any_request_and_accepted_once_by_override() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    job(dir.path(), &emu.base_url(), "", "");
    dump(dir.path(), &users(1_000, "free", &[], &[]));
    let out = run(dir.path(), &[]);
    let s = json(&out);
    assert_eq!((out.status.code(), s["status"].as_str()), (Some(0), Some("done")), "{s}");
    // A first run has nothing to compare with: the shares are skipped, and say so.
    assert_eq!(guard(&s, "min_rows_share")["verdict"], "skipped", "{s}");
    assert_eq!(guard(&s, "refuse_empty")["verdict"], "passed", "{s}");

    // Tonight's dump was cut off mid-write: 300 rows and half a line.
    let full = users(1_000, "premium", &[], &[]);
    let cut = full.match_indices('\n').nth(300).unwrap().0 + 8;
    dump(dir.path(), &full[..cut]);
    let before = emu.stats().requests;
    let out = run(dir.path(), &[]);
    let s = json(&out);
    assert_eq!((out.status.code(), s["status"].as_str()), (Some(3), Some("refused")), "{s}");
    assert_eq!(emu.stats().requests, before, "nothing is sent");
    assert_eq!(s["rows_sent"], 0);
    let g = guard(&s, "min_rows_share");
    assert_eq!((g["verdict"].as_str(), g["limit"].as_f64()), (Some("tripped"), Some(0.5)), "{s}");
    assert!((g["measured"].as_f64().unwrap() - 0.301).abs() < 1e-9, "300 whole rows and the cut one: {g}");
    let error = s["error"].as_str().unwrap();
    assert!(error.contains("min_rows_share") && error.contains("--override-guard min_rows_share"), "{error}");
    assert_eq!(emu.profile("u0").unwrap()["attributes"]["plan"], "free", "Batch is left as it was");

    // The same dump again: refused again (the refused run is not "imported").
    let out = run(dir.path(), &[]);
    assert_eq!((out.status.code(), json(&out)["status"].as_str()), (Some(3), Some("refused")));
    assert_eq!(emu.stats().requests, before);

    // A person looked and accepts it once.
    let out = run(dir.path(), &["--override-guard", "min_rows_share"]);
    let s = json(&out);
    // The cut line is a reject, the whole rows are sent.
    assert_eq!((s["status"].as_str(), s["rows_sent"].as_u64()), (Some("done_with_rejects"), Some(300)), "{s}");
    assert_eq!(guard(&s, "min_rows_share")["verdict"], "overridden", "{s}");
    assert_eq!(emu.profile("u0").unwrap()["attributes"]["plan"], "premium");

    // The history says what happened, newest first.
    let out = run_in(dir.path(), &["status", "job.toml", "--history", "--json"]);
    let h = json(&out);
    let runs = h["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "the refused run was resumed by the accepted one: {h}");
    assert_eq!(runs[0]["status"], "done_with_rejects");
    assert_eq!(runs[0]["guards"][0]["name"], "min_rows_share");
    assert_eq!(runs[0]["guards"][0]["overridden"], true);
    assert_eq!(runs[1]["rows_sent"], 1_000);
    // A run under a second of sending claims no rate (null), as its summary.
    assert!(runs[1]["duration_s"].as_f64().unwrap() >= 0.0 && runs[1]["rate_achieved"].is_null(), "{h}");
    let out = run_in(dir.path(), &["status", "job.toml", "--history", "1"]);
    let table = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one run: {table}");
    assert!(lines[0].starts_with("started") && lines[0].contains("guard"), "{table}");
    assert!(lines[1].contains("done_with_rejects") && lines[1].contains("min_rows_share (overridden)"), "{table}");
}

#[test]
fn an_empty_dump_is_refused_even_on_a_first_run_unless_the_job_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    job(dir.path(), &emu.base_url(), "", "");
    dump(dir.path(), "id,email,plan,city\n");
    let out = run(dir.path(), &[]);
    let s = json(&out);
    assert_eq!((out.status.code(), s["status"].as_str()), (Some(3), Some("refused")), "{s}");
    assert_eq!(guard(&s, "refuse_empty")["measured"], 0.0);
    assert_eq!(emu.stats().requests, 0);
    // validate says the same, before anything runs.
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    let v = json(&out);
    assert_eq!((out.status.code(), v["status"].as_str()), (Some(3), Some("refused")), "{v}");
    assert!(v["note"].as_str().unwrap().contains("refuse_empty"), "{v}");

    job(dir.path(), &emu.base_url(), "", "[guard]\nrefuse_empty = false\n");
    let out = run(dir.path(), &[]);
    let s = json(&out);
    assert_eq!((out.status.code(), s["status"].as_str()), (Some(0), Some("done")), "{s}");
    assert!(s["guards"].as_array().unwrap().iter().all(|g| g["name"] != "refuse_empty"), "{s}");
}

#[test]
fn mostly_rejects_is_refused_and_validate_judges_it_as_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    job(dir.path(), &emu.base_url(), "", "");
    dump(dir.path(), &users(100, "free", &[], &[]));
    assert_eq!(json(&run(dir.path(), &[]))["status"], "done");

    // Upstream changed the email column's format: 60 of 100 rows reject.
    let bad: Vec<u32> = (0..60).collect();
    dump(dir.path(), &users(100, "premium", &bad, &[]));
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    let v = json(&out);
    assert_eq!((out.status.code(), v["status"].as_str()), (Some(3), Some("refused")), "{v}");
    let g = guard(&v, "max_rejects_share");
    assert_eq!((g["verdict"].as_str(), g["measured"].as_f64()), (Some("tripped"), Some(0.6)), "{v}");
    assert_eq!(guard(&v, "min_rows_share")["verdict"], "passed");

    let before = emu.stats().requests;
    let out = run(dir.path(), &[]);
    let s = json(&out);
    assert_eq!((out.status.code(), s["status"].as_str()), (Some(3), Some("refused")), "{s}");
    assert_eq!(guard(&s, "max_rejects_share")["measured"], 0.6);
    assert_eq!(emu.stats().requests, before);

    // A limit of the job's own lets it through.
    job(dir.path(), &emu.base_url(), "", "[guard]\nmax_rejects_share = 0.75\n");
    let s = json(&run(dir.path(), &[]));
    assert_eq!((s["status"].as_str(), s["rows_rejected"].as_u64()), (Some("done_with_rejects"), Some(60)), "{s}");
}

#[test]
fn a_changed_only_night_where_every_row_changed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    job(dir.path(), &emu.base_url(), "changed_only = true\n", "");
    dump(dir.path(), &users(1_000, "free", &[], &[]));
    assert_eq!(json(&run(dir.path(), &[]))["rows_sent"], 1_000);

    // 2% changed: sent.
    let mut night = users(1_000, "free", &[], &[]);
    for i in 0..20 {
        night = night.replace(&format!("u{i}@example.com,free"), &format!("u{i}@example.com,gold"));
    }
    dump(dir.path(), &night);
    let s = json(&run(dir.path(), &[]));
    assert_eq!((s["status"].as_str(), s["rows_sent"].as_u64()), (Some("done"), Some(20)), "{s}");
    // The night after a first import is not judged (IDs with several rows
    // are sent once more then); from the next one on it is.
    assert_eq!(guard(&s, "max_changed_share")["verdict"], "skipped", "{s}");
    dump(dir.path(), &night.replace("u20@example.com,free", "u20@example.com,gold"));
    let s = json(&run(dir.path(), &[]));
    assert_eq!((s["status"].as_str(), s["rows_sent"].as_u64()), (Some("done"), Some(1)), "{s}");
    assert!((guard(&s, "max_changed_share")["measured"].as_f64().unwrap() - 0.001).abs() < 1e-9, "{s}");

    // A format change upstream: every plan "changed".
    dump(dir.path(), &users(1_000, "FREE", &[], &[]));
    let before = emu.stats().requests;
    let out = run(dir.path(), &[]);
    let s = json(&out);
    assert_eq!((out.status.code(), s["status"].as_str()), (Some(3), Some("refused")), "{s}");
    assert_eq!(guard(&s, "max_changed_share")["measured"], 1.0, "{s}");
    assert_eq!(emu.stats().requests, before);
    assert_eq!(emu.profile("u500").unwrap()["attributes"]["plan"], "free");
}

#[test]
fn a_dump_whose_column_went_blank_does_not_wipe_it_under_blank_clear() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    job(dir.path(), &emu.base_url(), "blank = \"clear\"\n", "[guard]\nmax_clears_share = 0.2\n");
    dump(dir.path(), &users(100, "free", &[], &[1, 2, 3]));
    let s = json(&run(dir.path(), &[]));
    assert_eq!(s["status"], "done", "{s}");

    // Tonight plan and city are blank for everyone: 200 of the 300 values.
    let all: Vec<u32> = (0..100).collect();
    dump(dir.path(), &users(100, "", &[], &all));
    let out = run(dir.path(), &[]);
    let s = json(&out);
    assert_eq!(s["status"], "refused", "{s}");
    let g = guard(&s, "max_clears_share");
    assert!((g["measured"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9, "{g}");
    assert_eq!(emu.profile("u50").unwrap()["attributes"]["city"], "Paris", "nothing was cleared");
}

#[test]
fn a_run_already_imported_or_resumed_is_not_judged_again() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    job(dir.path(), &emu.base_url(), "", "");
    dump(dir.path(), &users(200, "free", &[], &[]));
    assert_eq!(json(&run(dir.path(), &[]))["status"], "done");
    // The same file again: nothing to do, nothing judged (nothing is sent).
    let s = json(&run(dir.path(), &[]));
    assert!(s["note"].as_str().unwrap().contains("already imported"), "{s}");
    assert_eq!(s["guards"], serde_json::json!([]), "{s}");
}

#[test]
fn guard_and_notify_tables_are_checked_like_the_rest_of_the_job_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[guard]\nmin_row_share = 0.5\n", "min_row_share"),
        ("[guard]\nmax_rejects_share = 1.5\n", "guard.max_rejects_share must be a share"),
        ("[guard]\nmin_rows = 0\n", "guard.min_rows must be a whole number"),
        ("[guard]\nmin_rows_share = \"half\"\n", "guard.min_rows_share"),
        ("[notify]\nurl = \"https://hooks.example.com/x\"\n", "unknown field `url`"),
        ("[notify]\nurl_env = \"BATCH_REST_KEY\"\n", "is the variable of an API key"),
        ("[notify]\nurl_env = \"https://hooks.example.com/x\"\n", "must be the name of an environment variable"),
        ("[notify]\nurl_env = \"HOOK\"\nevents = [\"failed\", \"sometimes\"]\n", "notify.events"),
        ("[notify]\nurl_env = \"HOOK\"\nformat = \"xml\"\n", "notify.format"),
    ];
    for (extra, expect) in cases {
        job(dir.path(), "emulator", "", extra);
        write(dir.path(), "users.csv", users(3, "free", &[], &[]));
        let out = run_in(dir.path(), &["validate", "job.toml"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra}: {err}");
        // The file, the line of the key (the table starts at line 16), the reason.
        assert!(err.contains("job.toml:1") && err.contains(expect), "{extra}: {err}");
    }
    // `--override-guard` takes a guard's name only.
    job(dir.path(), "emulator", "", "");
    let out = bin().args(["run", "job.toml", "--override-guard", "min_rowz"]).current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("min_rows_share"));
}

/// The README's fix-the-rejects workflow: a copy of the job (same name)
/// imports the fixed rejects file. It is small by nature: not refused, and
/// never the night the next one is compared with.
#[test]
fn a_fixed_rejects_file_is_a_fixup_not_a_night() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    job(dir.path(), &emu.base_url(), "", "");
    let bad: Vec<u32> = (0..20).collect();
    dump(dir.path(), &users(1_000, "free", &bad, &[]));
    let s = json(&run(dir.path(), &[]));
    assert_eq!((s["status"].as_str(), s["rows_rejected"].as_u64()), (Some("done_with_rejects"), Some(20)), "{s}");
    let rejects = std::fs::read_to_string(dir.path().join(s["rejects_file"].as_str().unwrap())).unwrap();
    let fixed: String = rejects
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                l.replacen("not-an-email", &format!("fixed{i}@example.com"), 1) + "\n"
            }
        })
        .collect();
    write(dir.path(), "fixed.csv", fixed);
    let main_job = std::fs::read_to_string(dir.path().join("job.toml")).unwrap();
    write(dir.path(), "job.toml", main_job.replace("path = \"users.csv\"", "path = \"fixed.csv\""));
    let s = json(&run(dir.path(), &[]));
    assert_eq!((s["status"].as_str(), s["rows_sent"].as_u64()), (Some("done"), Some(20)), "{s}");
    let g = guard(&s, "min_rows_share");
    assert_eq!(g["verdict"], "skipped", "{s}");
    assert!(g["detail"].as_str().unwrap().contains("rejects"), "{g}");

    // Tomorrow's dump is cut at 300 rows: compared with the 1,000-row night.
    write(dir.path(), "job.toml", main_job);
    dump(dir.path(), &users(300, "free", &[], &[]));
    let s = json(&run(dir.path(), &[]));
    assert_eq!(s["status"], "refused", "{s}");
    assert!(guard(&s, "min_rows_share")["detail"].as_str().unwrap().contains("read 1000 rows"), "{s}");
}

#[test]
fn min_rows_judges_a_first_run_before_it_sends() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    job(dir.path(), &emu.base_url(), "", "[guard]\nmin_rows = 500\n");
    dump(dir.path(), &users(499, "free", &[], &[]));
    let s = json(&run(dir.path(), &[]));
    assert_eq!(s["status"], "refused", "{s}");
    let g = guard(&s, "min_rows");
    assert_eq!((g["measured"].as_f64(), g["limit"].as_f64()), (Some(499.0), Some(500.0)), "{g}");
    assert_eq!(emu.stats().requests, 0);
    dump(dir.path(), &users(500, "free", &[], &[]));
    let s = json(&run(dir.path(), &[]));
    assert_eq!((s["status"].as_str(), s["rows_sent"].as_u64()), (Some("done"), Some(500)), "{s}");
    assert_eq!(guard(&s, "min_rows")["verdict"], "passed", "{s}");
}
