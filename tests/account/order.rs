//! The last value wins (per-ID order under retries and concurrency), and a
//! batch that never left is resent, not held.

use super::{emulator, events_job, labels, run, summary};
use crate::common::{bin, write};
use batchport::EmulatorConfig;
use std::process::Stdio;
use std::time::Duration;

/// Case 3: 4,000 Custom IDs twice (old value first, new value later), with
/// 5xx and lost answers, batch_size 1,000, concurrency 4: every profile ends
/// with the new value.
#[test]
fn the_later_row_of_an_id_wins_whatever_retries_and_concurrency_do() {
    let mut config = EmulatorConfig::default();
    config.faults.error_rate = 0.25;
    config.faults.lost_answer_rate = 0.1;
    config.faults.latency = Duration::from_millis(20);
    config.faults.seed = 13;
    config.unlimited = true;
    let emu = emulator(config);
    let dir = tempfile::tempdir().unwrap();
    let mut f = String::from("id,plan\n");
    for i in 0..4_000 {
        f.push_str(&format!("u{i},old\n"));
    }
    for i in 0..4_000 {
        f.push_str(&format!("u{i},new\n"));
    }
    write(dir.path(), "users.csv", f);
    write(
        dir.path(),
        "job.toml",
        format!(
            "[job]\nname = \"order\"\nkind = \"profiles\"\n[api]\nbase_url = \"{}\"\nbatch_size = 1000\nconcurrency = 4\nrate = 0\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nplan = \"plan\"\n",
            emu.base_url()
        ),
    );
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(s["rows_sent"], 8_000, "{s}");
    assert!(s["retries"].as_u64().unwrap() > 0, "the faults happened: {s}");
    let stale: Vec<String> = (0..4_000)
        .map(|i| format!("u{i}"))
        .filter(|id| emu.profile(id).unwrap()["attributes"]["plan"] != "new")
        .collect();
    assert!(stale.is_empty(), "{} profiles kept the old value, e.g. {:?}", stale.len(), &stale[..stale.len().min(5)]);
}

/// Case 8: events of a batch planned but still waiting for the limiter when
/// the run is killed are sent on resume, not held.
#[test]
fn events_that_never_left_are_resent_not_held() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..6).map(|i| format!("e{i},purchase,row{i}\n")).collect();
    write(dir.path(), "events.csv", format!("id,event,label\n{rows}"));
    // One event per batch, one batch per second: the second waits for the limiter.
    events_job(
        dir.path(),
        "job.toml",
        "wait",
        &emu.base_url(),
        "events.csv",
        "batch_size = 1\nconcurrency = 1\nrate = 1",
    );
    let mut child = bin()
        .args(["run", "job.toml", "--json", "--state"])
        .arg(dir.path().join("state"))
        .current_dir(dir.path())
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap(); // SIGKILL, while the second batch waits
    child.wait().unwrap();
    let before: u32 = labels(&emu, (0..6).map(|i| format!("e{i}"))).values().sum();
    assert!(before < 6, "killed mid-run: {before} events had arrived");

    events_job(dir.path(), "job.toml", "wait", &emu.base_url(), "events.csv", "batch_size = 1\nrate = 0");
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!((s["rows_sent"].as_u64(), s["rows_uncertain"].as_u64()), (Some(6), Some(0)), "{s}");
    let seen = labels(&emu, (0..6).map(|i| format!("e{i}")));
    assert_eq!(seen.len(), 6);
    assert!(seen.values().all(|&c| c == 1), "{seen:?}");
}
