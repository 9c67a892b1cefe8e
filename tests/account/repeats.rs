//! A Custom ID on several rows under `changed_only` (issue 26, point 1): for
//! each ID, its last row in the run's input decides, whatever night it is,
//! within one file, across the files of a glob, and for IDs lowercased.

use super::{drop_file, emulator, run, summary};
use crate::common::write;
use batchport::{Emulator, EmulatorConfig};
use std::path::Path;

fn nightly_job(dir: &Path, url: &str, path: &str, id: &str) {
    write(
        dir,
        "job.toml",
        format!(
            "[job]\nname = \"repeats\"\nkind = \"profiles\"\n[api]\nbase_url = \"{url}\"\nbatch_size = 2\n[source]\npath = \"{path}\"\n[mapping]\ncustom_id = {id}\nchanged_only = true\n[mapping.native]\nemail_marketing = {{ column = \"news\", subscribed = [\"yes\"], unsubscribed = [\"no\"] }}\n[mapping.attributes]\ntier = \"tier\"\n"
        ),
    );
}

/// What the emulator holds for `id`: (tier, email consent).
fn held(emu: &Emulator, id: &str) -> (String, String) {
    let p = emu.profile(id).unwrap_or_else(|| panic!("{id} stored"));
    let a = &p["attributes"];
    (a["tier"].as_str().unwrap_or("-").to_string(), a["$email_marketing"].as_str().unwrap_or("-").to_string())
}

#[test]
fn a_repeated_id_keeps_its_last_row_every_night() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    nightly_job(dir.path(), &emu.base_url(), "users.csv", "\"id\"");
    let text = "id,tier,news\nu1,gold,yes\nu2,bronze,yes\nu1,silver,no\n";
    for night in 0..4 {
        drop_file(dir.path(), "users.csv", text, night);
        let s = summary(&run(dir.path(), "job.toml"), 0);
        assert_eq!(held(&emu, "u1"), ("silver".into(), "unsubscribed".into()), "night {night}: {s}");
        assert_eq!(held(&emu, "u2"), ("bronze".into(), "subscribed".into()), "night {night}");
        // The first import records each row on its own; the first rerun
        // sends the repeated ID's rows once more, to record them as a group.
        if night > 1 {
            assert_eq!(s["rows_sent"], 0, "night {night}: nothing changed: {s}");
            assert_eq!(s["rows_unchanged"], 3, "night {night}: {s}");
        }
    }
    // The last row changes: u1 ends with it.
    drop_file(dir.path(), "users.csv", "id,tier,news\nu1,gold,yes\nu2,bronze,yes\nu1,platinum,yes\n", 5);
    summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(held(&emu, "u1"), ("platinum".into(), "subscribed".into()));
    // Only an earlier row changes: the ID's rows are sent again, in order.
    drop_file(dir.path(), "users.csv", "id,tier,news\nu1,iron,no\nu2,bronze,yes\nu1,platinum,yes\n", 6);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(held(&emu, "u1"), ("platinum".into(), "subscribed".into()));
    assert_eq!(s["rows_sent"], 2, "{s}");
    // An earlier row says what the last leaves blank: it arrives (found by account::promise).
    drop_file(dir.path(), "users.csv", "id,tier,news\nu1,iron,no\nu2,bronze,yes\nu1,platinum,\n", 7);
    summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(held(&emu, "u1"), ("platinum".into(), "unsubscribed".into()));
    drop_file(dir.path(), "users.csv", "id,tier,news\nu1,iron,no\nu2,bronze,yes\nu1,platinum,\n", 8);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!((s["rows_sent"].as_u64(), s["rows_unchanged"].as_u64()), (Some(0), Some(3)), "{s}");
}

#[test]
fn a_repeated_id_across_the_files_of_a_glob_keeps_the_last_file_s_row() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    nightly_job(dir.path(), &emu.base_url(), "drop/a-*.csv", "\"id\"");
    for night in 0..4 {
        drop_file(dir.path(), "drop/a-1.csv", "id,tier,news\np1,gold,no\np2,bronze,yes\n", night);
        drop_file(dir.path(), "drop/a-2.csv", "id,tier,news\np3,bronze,no\np1,silver,yes\n", night);
        let s = summary(&run(dir.path(), "job.toml"), 0);
        assert_eq!(held(&emu, "p1"), ("silver".into(), "subscribed".into()), "night {night}: {s}");
        assert_eq!(held(&emu, "p3"), ("bronze".into(), "unsubscribed".into()), "night {night}");
    }
}

#[test]
fn a_lowercased_id_is_one_person_in_the_change_index() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    nightly_job(dir.path(), &emu.base_url(), "users.csv", "{ column = \"id\", lowercase = true }");
    drop_file(dir.path(), "users.csv", "id,tier,news\nU1,gold,yes\nu1,silver,no\n", 0);
    summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(held(&emu, "u1"), ("silver".into(), "unsubscribed".into()));
    // The same two rows the other way round: the last one (gold) now decides.
    drop_file(dir.path(), "users.csv", "id,tier,news\nu1,silver,no\nU1,gold,yes\n", 1);
    summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(held(&emu, "u1"), ("gold".into(), "subscribed".into()));
}

/// Point 8: a rerun's scan spills to 512 files at once; under macOS's default
/// soft limit of 256 open files it still runs (the soft limit is raised).
#[cfg(unix)]
#[test]
fn a_rerun_scan_works_under_a_soft_limit_of_256_open_files() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    nightly_job(dir.path(), &emu.base_url(), "users.csv", "\"id\"");
    let job = std::fs::read_to_string(dir.path().join("job.toml")).unwrap();
    write(dir.path(), "job.toml", job.replace("batch_size = 2", "batch_size = 1000"));
    let mut text = String::from("id,tier,news\n");
    for i in 0..3_000 {
        text.push_str(&format!("u{i},gold,yes\n"));
    }
    drop_file(dir.path(), "users.csv", &text, 0);
    summary(&run(dir.path(), "job.toml"), 0);
    drop_file(dir.path(), "users.csv", &text.replace("u7,gold", "u7,silver"), 1);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -Sn 256 && exec \"$0\" run job.toml --json --state state")
        .arg(env!("CARGO_BIN_EXE_batchport"))
        .current_dir(dir.path())
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .env_remove("BATCHPORT_STATE")
        .output()
        .unwrap();
    let s = summary(&out, 0);
    assert_eq!((s["rows_sent"].as_u64(), s["rows_unchanged"].as_u64()), (Some(1), Some(2_999)), "{s}");
    assert_eq!(held(&emu, "u7").0, "silver");
}

/// A rerun killed after an ID's first row was sent and before its last: the
/// resumed attempt decides the ID with all its rows, those the killed attempt
/// settled included (it once scanned only past them, saw the last row alone
/// equal to the index, and skipped it: the ID ended on its first row).
#[test]
fn a_rerun_killed_between_an_id_s_rows_still_ends_on_its_last_row() {
    use std::process::Stdio;
    let emu = crate::common::emulator_process(&["--latency-ms", "20"]);
    let dir = tempfile::tempdir().unwrap();
    nightly_job(dir.path(), &emu.url, "users.csv", "\"id\"");
    let job = std::fs::read_to_string(dir.path().join("job.toml")).unwrap();
    write(dir.path(), "job.toml", job.replace("batch_size = 2", "batch_size = 100\nconcurrency = 1"));
    // Every ID twice, far apart: first `no`, then `yes` (the last row wins).
    let ids = 3_000;
    let mut text = String::from("id,tier,news\n");
    (0..ids).for_each(|i| text.push_str(&format!("u{i},gold,no\n")));
    (0..ids).for_each(|i| text.push_str(&format!("u{i},,yes\n")));
    drop_file(dir.path(), "users.csv", &text, 0);
    summary(&run(dir.path(), "job.toml"), 0);
    // The same file tomorrow, the run killed half way through the first rows.
    drop_file(dir.path(), "users.csv", &text, 1);
    let total = || emu.received().values().sum::<u64>();
    let before = total();
    let mut child = crate::common::bin()
        .args(["run", "job.toml", "--state", "state"])
        .current_dir(dir.path())
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while total() < before + 1_000 {
        assert!(t0.elapsed() < std::time::Duration::from_secs(60), "the rerun never sent");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    summary(&run(dir.path(), "job.toml"), 0);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let wrong: Vec<String> = (0..ids)
        .map(|i| format!("u{i}"))
        .filter(|id| {
            let p: serde_json::Value = rt.block_on(async {
                reqwest::get(format!("{}/_emulator/profiles/{id}", emu.url)).await.unwrap().json().await.unwrap()
            });
            p["attributes"]["$email_marketing"] != "subscribed"
        })
        .collect();
    assert!(wrong.is_empty(), "{} IDs ended on their first row: {:?}", wrong.len(), &wrong[..wrong.len().min(5)]);
}
