//! No row lost, none doubled, the last value wins: the ordinary workflows
//! around a run (issue 13), each against an emulator outside the importer's
//! process: rehearse then go live, the fix-the-rejects workflow, a glob of
//! daily files, a file that grew, held rows and the exit status.

mod contact_lists;
mod disk_full;
mod edited;
mod events;
mod optouts;
mod order;
mod partial;
mod presets;
mod promise;
mod repeats;
mod reports;

use crate::common::{bin, csv_rows, json, write};
use batchport::{Emulator, EmulatorConfig};
use batchport_testdata::harness::EmulatorProcess;
use std::collections::HashMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// `batchport run JOB --json` with the emulator's keys (`project` for the project key).
pub fn run_with(dir: &Path, job: &str, project: &str) -> Output {
    bin()
        .args(["run", job, "--json", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", project)
        .env("BATCHPORT_POLL_MS", "20")
        .output()
        .unwrap()
}

pub fn run(dir: &Path, job: &str) -> Output {
    run_with(dir, job, "project_emulator")
}

/// The summary of a run that ended with exit `code`.
pub fn summary(out: &Output, code: i32) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    json(out)
}

/// Write `text` to `name` with a modification time `night` × 10 s ahead, so
/// that each night's file is a new input even within one second.
pub fn drop_file(dir: &Path, name: &str, text: &str, night: u64) {
    let path = write(dir, name, text);
    let f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(10 * night)).unwrap();
}

pub fn emulator(config: EmulatorConfig) -> Emulator {
    Emulator::start_background(config).unwrap()
}

/// An events job: `id,event,label` columns, the label as an event attribute.
pub fn events_job(dir: &Path, file: &str, name: &str, url: &str, path: &str, api: &str) {
    write(
        dir,
        file,
        format!(
            "[job]\nname = \"{name}\"\nkind = \"events\"\n[api]\nbase_url = \"{url}\"\n{api}\n[source]\npath = \"{path}\"\n[mapping]\ncustom_id = \"id\"\nevent = \"event\"\n[mapping.event_attributes]\n\"$label\" = \"label\"\n"
        ),
    );
}

/// How many times each `$label` reached the emulator, over `ids` profiles.
pub fn labels(emu: &Emulator, ids: impl Iterator<Item = String>) -> HashMap<String, u32> {
    let mut seen = HashMap::new();
    for id in ids {
        let Some(p) = emu.profile(&id) else { continue };
        for e in p["events"].as_array().into_iter().flatten() {
            *seen.entry(e["attributes"]["$label"].as_str().unwrap_or_default().to_string()).or_default() += 1;
        }
    }
    seen
}

/// `batchport emulator` on `port` (0: any) with `project_key`, in its own
/// process. A port just given up can be taken for a moment by another test's
/// connection (the OS hands out the same range): try again for a while
/// rather than fail.
fn emulator_on(port: u16, project_key: &str) -> EmulatorProcess {
    let port = port.to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(e) =
            EmulatorProcess::try_start(crate::common::BIN, &["--port", &port, "--project-key", project_key])
        {
            return e;
        }
        assert!(std::time::Instant::now() < deadline, "port {port} stayed taken");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn profiles_job(dir: &Path, url: &str) {
    write(
        dir,
        "job.toml",
        format!(
            "[job]\nname = \"golive\"\nkind = \"profiles\"\n[api]\nbase_url = \"{url}\"\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\nchanged_only = true\n[mapping.attributes]\nplan = \"plan\"\n"
        ),
    );
}

/// Case 1: a job rehearsed against one project, then pointed at another
/// project key or base URL, sends every row there.
#[test]
fn rehearse_then_go_live_sends_everything_to_the_new_destination() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..50).map(|i| format!("u{i},p{i}\n")).collect();
    write(dir.path(), "users.csv", format!("id,plan\n{rows}"));
    let staging = emulator_on(0, "project_staging");
    profiles_job(dir.path(), &staging.url);
    let s = summary(&run_with(dir.path(), "job.toml", "project_staging"), 0);
    assert_eq!(s["rows_sent"], 50, "{s}");
    let again = summary(&run_with(dir.path(), "job.toml", "project_staging"), 0);
    assert!(again["note"].as_str().unwrap().contains("already imported"), "{again}");

    // Same base URL, another project: a different history.
    let port = staging.port();
    drop(staging);
    let live = emulator_on(port, "project_live");
    let s = summary(&run_with(dir.path(), "job.toml", "project_live"), 0);
    assert_eq!((s["rows_sent"].as_u64(), s["rows_unchanged"].as_u64()), (Some(50), Some(0)), "{s}");
    assert_eq!(live.received().len(), 50);
    assert!(!s["destination"].as_str().unwrap().contains("project_live"), "the key never shows: {s}");

    // Same project key, another base URL.
    let other = emulator_on(0, "project_live");
    profiles_job(dir.path(), &other.url);
    let s = summary(&run_with(dir.path(), "job.toml", "project_live"), 0);
    assert_eq!(s["rows_sent"], 50, "{s}");
    assert_eq!(other.received().len(), 50);
    assert!(s["destination"].as_str().unwrap().starts_with(&other.url), "{s}");

    // `status` says where each run sent.
    let out = crate::common::run_in(dir.path(), &["status", "job.toml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("destination: http://127.0.0.1:").count(), 3, "{text}");
}

/// Case 2a: the README's fix-the-rejects workflow, then the original job again:
/// no event arrives twice.
#[test]
fn fixing_the_rejects_then_rerunning_the_job_never_doubles_an_event() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..100)
        .map(|i| format!("e{},{},row{i}\n", i % 20, if i % 10 == 3 { "Bad Name!" } else { "purchase" }))
        .collect();
    write(dir.path(), "events.csv", format!("id,event,label\n{rows}"));
    events_job(dir.path(), "job.toml", "ev", &emu.base_url(), "events.csv", "");
    let s = summary(&run(dir.path(), "job.toml"), 3);
    assert_eq!((s["rows_sent"].as_u64(), s["rows_rejected"].as_u64()), (Some(90), Some(10)), "{s}");

    // Fix the rejects file and import it with a copy of the job (same name).
    let rejects = csv_rows(&dir.path().join(s["rejects_file"].as_str().unwrap()));
    let mut fixed = csv::Writer::from_path(dir.path().join("fixed.csv")).unwrap();
    for r in &rejects {
        fixed.write_record(r.iter().map(|f| if f == "Bad Name!" { "purchase" } else { f.as_str() })).unwrap();
    }
    fixed.flush().unwrap();
    events_job(dir.path(), "fix.toml", "ev", &emu.base_url(), "fixed.csv", "");
    let s = summary(&run(dir.path(), "fix.toml"), 0);
    assert_eq!(s["rows_sent"], 10, "{s}");

    // Cron runs the original job again; then once more with the file touched.
    let s = summary(&run(dir.path(), "job.toml"), 3);
    assert_eq!(s["status"], "done_with_rejects", "already imported repeats the original status: {s}");
    let f = std::fs::OpenOptions::new().append(true).open(dir.path().join("events.csv")).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
    let s = summary(&run(dir.path(), "job.toml"), 3);
    assert_eq!((s["rows_sent"].as_u64(), s["rows_duplicate"].as_u64()), (Some(0), Some(90)), "{s}");

    let seen = labels(&emu, (0..20).map(|i| format!("e{i}")));
    assert_eq!(seen.len(), 100, "every event arrived");
    assert!(seen.values().all(|&c| c == 1), "an event arrived twice: {seen:?}");
}

/// Case 2b: a glob of daily files; a new file appears: only it is sent.
#[test]
fn a_new_daily_file_is_imported_alone() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let day = |d: u32| (0..50).map(|i| format!("e{},purchase,d{d}r{i}\n", i % 7)).collect::<String>();
    write(dir.path(), "in/day1.csv", format!("id,event,label\n{}", day(1)));
    write(dir.path(), "in/day2.csv", format!("id,event,label\n{}", day(2)));
    events_job(dir.path(), "job.toml", "daily", &emu.base_url(), "in/day*.csv", "");
    assert_eq!(summary(&run(dir.path(), "job.toml"), 0)["rows_sent"], 100);
    write(dir.path(), "in/day3.csv", format!("id,event,label\n{}", day(3)));
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!((s["rows_read"].as_u64(), s["rows_sent"].as_u64()), (Some(50), Some(50)), "{s}");
    let note = s["note"].as_str().unwrap();
    assert!(note.contains("2 file(s) already imported") && note.contains("day1.csv"), "{note}");
    let seen = labels(&emu, (0..7).map(|i| format!("e{i}")));
    assert_eq!(seen.len(), 150);
    assert!(seen.values().all(|&c| c == 1), "{seen:?}");
}

/// Case 2c: a file that grew: events already sent are not sent again; for
/// profiles with `changed_only`, only the new rows go.
#[test]
fn a_file_that_grew_sends_only_what_is_new() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let rows = |from: u32, to: u32| (from..to).map(|i| format!("e{},purchase,row{i}\n", i % 9)).collect::<String>();
    write(dir.path(), "events.csv", format!("id,event,label\n{}", rows(0, 60)));
    events_job(dir.path(), "job.toml", "grow", &emu.base_url(), "events.csv", "");
    assert_eq!(summary(&run(dir.path(), "job.toml"), 0)["rows_sent"], 60);
    write(dir.path(), "events.csv", format!("id,event,label\n{}", rows(0, 100)));
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!((s["rows_sent"].as_u64(), s["rows_duplicate"].as_u64()), (Some(40), Some(60)), "{s}");
    assert!(s["note"].as_str().unwrap().contains("changed since imported"), "{s}");
    let seen = labels(&emu, (0..9).map(|i| format!("e{i}")));
    assert_eq!(seen.len(), 100);
    assert!(seen.values().all(|&c| c == 1), "{seen:?}");

    write(dir.path(), "users.csv", "id,plan\nu1,a\nu2,b\n");
    profiles_job(dir.path(), &emu.base_url());
    assert_eq!(summary(&run(dir.path(), "job.toml"), 0)["rows_sent"], 2);
    write(dir.path(), "users.csv", "id,plan\nu1,a\nu2,b\nu3,c\n");
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!((s["rows_sent"].as_u64(), s["rows_unchanged"].as_u64()), (Some(1), Some(2)), "{s}");
}

/// Case 4: held rows are not exit 0, and "already imported" says so again.
#[test]
fn held_rows_end_done_with_uncertain_exit_4() {
    let mut config = EmulatorConfig::default();
    config.faults.lost_answer_rate = 0.3;
    config.faults.seed = 5;
    let emu = emulator(config);
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..400).map(|i| format!("e{},purchase,row{i}\n", i % 40)).collect();
    write(dir.path(), "events.csv", format!("id,event,label\n{rows}"));
    events_job(dir.path(), "job.toml", "held", &emu.base_url(), "events.csv", "batch_size = 10");
    let s = summary(&run(dir.path(), "job.toml"), 4);
    assert_eq!(s["status"], "done_with_uncertain", "{s}");
    assert!(s["rows_uncertain"].as_u64().unwrap() > 0, "{s}");
    let again = summary(&run(dir.path(), "job.toml"), 4);
    assert_eq!(again["status"], "done_with_uncertain", "{again}");
    assert!(again["note"].as_str().unwrap().contains("already imported"), "{again}");
}

/// A store written before destinations were kept: its finished run counts as
/// destination "unknown" (a rerun sends everything, never "already
/// imported"); its unfinished run is resumed where it is run again.
#[test]
fn runs_recorded_without_a_destination_keep_working() {
    use batchport_engine::run::open_store_blocking;
    use batchport_state::{RunStatus, fingerprint};
    use batchport_transform::job::Kind;
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "users.csv", "id,plan\nu1,a\nu2,b\n");
    profiles_job(dir.path(), &emu.base_url());
    let print = fingerprint(&dir.path().join("users.csv")).unwrap();
    let old_run = |status: RunStatus| {
        let store = open_store_blocking(&dir.path().join("state"), "golive").unwrap();
        let mut run = store.create_run("golive", Kind::Profiles, vec![print.clone()]).unwrap();
        assert_eq!(run.destination, None);
        run.status = status;
        store.finish_run(&run).unwrap();
        run.id
    };
    old_run(RunStatus::Done);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(s["rows_sent"], 2, "an old finished run never makes it 'already imported': {s}");
    assert_eq!(emu.received_all().len(), 2);

    let id = old_run(RunStatus::Interrupted);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(s["run_id"].as_str(), Some(id.as_str()), "an old unfinished run is resumed: {s}");
    let out = crate::common::run_in(dir.path(), &["status", "job.toml", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let resumed = runs[0]["runs"].as_array().unwrap().iter().find(|r| r["id"] == id.as_str()).unwrap().clone();
    assert!(resumed["destination"].as_str().unwrap().starts_with(&emu.base_url()), "{resumed}");
}
