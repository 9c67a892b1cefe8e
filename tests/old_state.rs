//! State folders written by an earlier batchport (`tests/data/state_v1/`,
//! made by its `make.sh`; what they hold and why they are made so: its
//! README.md). The binary under test, with a fresh emulator, must resume the
//! killed run where its ledger says it stopped, and diff tomorrow's file
//! against the finished nightly's change index: a new batchport reads the
//! state an older one left, or users resend everything after an upgrade.
//!
//! Two things tie these folders to the machine, on purpose and documented in
//! the README: a run and its change index are kept per destination, whose
//! text holds the base URL with its port, so the emulator listens on the port
//! the fixture's job file names (waiting while another process holds it); and
//! a run resumes only over the very input it recorded (absolute path, size,
//! mtime to the nanosecond, head), so the interrupted input is put back at
//! its recorded path with its recorded mtime.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use batchport::{Emulator, EmulatorConfig};

use crate::common::{bin, csv_rows, json};

/// Every fixture input's mtime (`touch -d @1767225600` in `make.sh`).
const INPUT_MTIME: u64 = 1_767_225_600;
/// Where the interrupted run read its input, as its run record keeps it.
const INTERRUPTED_INPUT: &str = "/tmp/batchport-state-v1/interrupted/users.csv";
/// The interrupted job's `batch_size` and `concurrency` (checked in its job file).
const BATCH: u64 = 100;
const CONCURRENCY: u64 = 2;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/state_v1").join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// A copy of fixture `name` in a temp dir: its job file and its state folder
/// (made private, as batchport makes its own).
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture(name).join("job.toml"), dir.path().join("job.toml")).unwrap();
    copy_dir(&fixture(name).join("state"), &dir.path().join("state"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path().join("state"), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

/// Write `from`'s bytes at `to` with the fixtures' mtime, atomically (a
/// rename), so another test process reading the same path sees either copy,
/// never half of one: both are the same bytes and times.
fn place_input(from: &Path, to: &Path) {
    let parent = to.parent().unwrap();
    std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let tmp = parent.join(format!(".{}.{}-{nanos}", to.file_name().unwrap().to_string_lossy(), std::process::id()));
    std::fs::copy(from, &tmp).unwrap();
    let f = std::fs::File::options().write(true).open(&tmp).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(INPUT_MTIME)).unwrap();
    drop(f);
    std::fs::rename(&tmp, to).unwrap();
    assert_eq!(
        std::fs::canonicalize(to).unwrap(),
        to,
        "the run record names {} by its canonical path: a symlink on the way (/tmp on macOS) changes it",
        to.display()
    );
}

/// The port of the job file's `base_url = "http://127.0.0.1:PORT"`.
fn job_port(job: &Path) -> u16 {
    let text = std::fs::read_to_string(job).unwrap();
    let line = text.lines().find(|l| l.trim_start().starts_with("base_url")).expect("the job names its base_url");
    let url = line.split('"').nth(1).unwrap();
    url.strip_prefix("http://127.0.0.1:").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{line}"))
}

/// The library emulator on a fixed port of 127.0.0.1 (the one the fixture's
/// state was recorded against), on a runtime of its own.
struct FixedEmulator {
    // Dropped first: stops the server before its runtime goes.
    emu: Emulator,
    _rt: tokio::runtime::Runtime,
}

impl FixedEmulator {
    /// Wait (up to two minutes) while another process holds the port: the
    /// same fixture tested from another checkout at the same time.
    fn start(port: u16) -> FixedEmulator {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let t0 = Instant::now();
        loop {
            match rt.block_on(Emulator::start(EmulatorConfig::default(), ([127, 0, 0, 1], port).into())) {
                Ok(emu) => return FixedEmulator { emu, _rt: rt },
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && t0.elapsed() < Duration::from_secs(120) => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!(
                    "cannot listen on 127.0.0.1:{port}, the port the fixture's state is keyed to \
                     (its destination holds the base URL): {e}"
                ),
            }
        }
    }
}

fn importer(dir: &Path) -> Output {
    bin()
        .args(["run", "job.toml", "--json", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .output()
        .unwrap()
}

/// `batchport status job.toml --json`: the job's runs, newest first.
fn status_runs(dir: &Path) -> Vec<serde_json::Value> {
    let out = bin()
        .args(["status", "job.toml", "--json", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "status: {}", String::from_utf8_lossy(&out.stderr));
    let all = json(&out);
    assert_eq!(all.as_array().map(Vec::len), Some(1), "one job: {all}");
    all[0]["runs"].as_array().cloned().unwrap_or_default()
}

fn n(s: &serde_json::Value, k: &str) -> u64 {
    s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The data rows of a fixture CSV by Custom ID (first column), in file order.
fn rows_by_id(path: &Path) -> Vec<(String, Vec<String>)> {
    csv_rows(path).into_iter().skip(1).map(|r| (r[0].clone(), r)).collect()
}

/// Killed (SIGKILL) half way, with batches the emulator applied but never
/// acknowledged to it: the binary under test resumes that run, sends the
/// rest once, resends at most the batches in flight, and none the old ledger
/// acknowledged.
#[test]
fn a_killed_run_of_an_older_batchport_resumes_where_its_ledger_stopped() {
    let fx = fixture("interrupted");
    let job = std::fs::read_to_string(fx.join("job.toml")).unwrap();
    assert!(
        job.contains(&format!("batch_size = {BATCH}\n")) && job.contains(&format!("concurrency = {CONCURRENCY}\n"))
    );
    assert!(job.contains(&format!("path = \"{INTERRUPTED_INPUT}\"")), "{job}");
    let dir = copy_fixture("interrupted");
    place_input(&fx.join("users.csv"), Path::new(INTERRUPTED_INPUT));
    let rows = rows_by_id(&fx.join("users.csv"));
    let total = rows.len() as u64;
    let ids: HashSet<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
    let stored_text = std::fs::read_to_string(fx.join("stored_at_kill.txt")).unwrap();
    let stored: HashSet<&str> = stored_text.lines().filter(|l| !l.is_empty()).collect();
    assert!(stored.iter().all(|id| ids.contains(id)));
    assert!(!stored.is_empty() && (stored.len() as u64) < total, "the fixture was killed half way");

    let emu = FixedEmulator::start(job_port(&dir.path().join("job.toml")));

    // `status` reads the old run: killed, its ledger's acknowledged rows.
    let runs = status_runs(dir.path());
    assert_eq!(runs.len(), 1, "{runs:?}");
    let old = &runs[0];
    assert_eq!(old["status"], "interrupted", "{old}");
    let old_id = old["id"].as_str().unwrap().to_string();
    let acked = n(&old["counters"], "rows_sent");
    assert!(acked > 0 && acked <= stored.len() as u64, "the ledger says {acked} sent, Batch had {}", stored.len());

    // The same command again: the old run is resumed and finishes.
    let out = importer(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = json(&out);
    assert_eq!(s["status"], "done", "{s}");
    assert_eq!(s["run_id"], old_id.as_str(), "the old run is resumed, not abandoned: {s}");
    // And says so (issue 33), with what its ledger had acknowledged.
    let said = format!("resuming run {old_id}: {acked} rows already acknowledged");
    assert!(stderr(&out).contains(&said), "{}", stderr(&out));
    assert_eq!(n(&s, "rows_read"), total, "{s}");
    assert_eq!(n(&s, "rows_sent") + n(&s, "rows_rejected") + n(&s, "rows_unchanged") + n(&s, "rows_uncertain"), total);
    assert_eq!(n(&s, "rows_sent"), total, "{s}");

    let got = emu.emu.received_all();
    assert!(got.keys().all(|id| ids.contains(id.as_str())), "only the file's ids are sent");
    // Every row Batch did not have at the kill arrives, once.
    for id in ids.iter().filter(|id| !stored.contains(*id)) {
        assert_eq!(got.get(*id).copied(), Some(1), "{id}: not stored at the kill");
    }
    // Of those it had, at most the batches in flight at the kill come again.
    let resent = got.keys().filter(|id| stored.contains(id.as_str())).count() as u64;
    assert!(resent <= CONCURRENCY * BATCH, "{resent} rows resent (at most {CONCURRENCY} batches of {BATCH})");
    // And none the old ledger had acknowledged: what is sent is the rest.
    assert_eq!(got.values().sum::<u64>(), total - acked, "{resent} resent");
    // Each at its own row: the old ledger's file positions still point at it.
    for (id, row) in rows.iter().filter(|(id, _)| got.contains_key(id)) {
        let p = emu.emu.profile(id).unwrap();
        assert_eq!(p["attributes"]["$email_address"], row[1].as_str(), "{p}");
        assert_eq!(p["attributes"]["first_name"], row[8].as_str(), "{p}");
    }

    let runs = status_runs(dir.path());
    assert_eq!((runs[0]["id"].as_str(), runs[0]["status"].as_str()), (Some(old_id.as_str()), Some("done")));
}

/// A finished `changed_only` run over v1: tomorrow's file (v2) sends exactly
/// the rows changed or added since, against the older batchport's change
/// index, and the index it leaves knows them all.
#[test]
fn a_nightly_over_an_older_change_index_sends_only_what_changed() {
    let fx = fixture("nightly");
    let dir = copy_fixture("nightly");
    let v1: HashMap<String, Vec<String>> = rows_by_id(&fx.join("users_v1.csv")).into_iter().collect();
    let v2 = rows_by_id(&fx.join("users_v2.csv"));
    let changed: HashSet<&str> =
        v2.iter().filter(|(id, r)| v1.get(id).is_some_and(|old| old != r)).map(|(id, _)| id.as_str()).collect();
    let added: HashSet<&str> = v2.iter().filter(|(id, _)| !v1.contains_key(id)).map(|(id, _)| id.as_str()).collect();
    let unchanged = v2.len() - changed.len() - added.len();
    assert_eq!((changed.len(), added.len(), unchanged), (12, 10, 988), "the fixture's v2 (make.sh)");
    let input = dir.path().join("users.csv");
    std::fs::copy(fx.join("users_v2.csv"), &input).unwrap();

    let emu = FixedEmulator::start(job_port(&dir.path().join("job.toml")));

    let runs = status_runs(dir.path());
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "done", "{}", runs[0]);
    assert_eq!(n(&runs[0]["counters"], "rows_sent"), v1.len() as u64, "{}", runs[0]);

    let out = importer(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = json(&out);
    assert_eq!(s["status"], "done", "{s}");
    assert_ne!(s["run_id"], runs[0]["id"], "a new run");
    assert_eq!(n(&s, "rows_read"), v2.len() as u64, "{s}");
    assert_eq!(n(&s, "rows_sent"), (changed.len() + added.len()) as u64, "{s}");
    assert_eq!(n(&s, "rows_unchanged"), unchanged as u64, "{s}");
    assert_eq!(n(&s, "rows_sent") + n(&s, "rows_rejected") + n(&s, "rows_unchanged") + n(&s, "rows_uncertain"), 1_010);

    // Exactly the changed and added ids reached the emulator, once each.
    let got = emu.emu.received_all();
    let mut sent: Vec<&str> = got.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = changed.union(&added).copied().collect();
    sent.sort_unstable();
    want.sort_unstable();
    assert_eq!(sent, want);
    assert!(got.values().all(|&c| c == 1), "{got:?}");
    assert_eq!(emu.emu.stats().operations, want.len() as u64);
    // With v2's values.
    for (id, row) in v2.iter().filter(|(id, _)| got.contains_key(id)) {
        let p = emu.emu.profile(id).unwrap();
        assert_eq!(p["attributes"]["first_name"], row[8].as_str(), "{p}");
        assert_eq!(p["attributes"]["orders"], row[13].parse::<u64>().unwrap(), "{p}");
    }

    // The index now holds v1's rows and tonight's: the same rows in a new
    // file (the next dump) send nothing.
    std::fs::copy(fx.join("users_v2.csv"), &input).unwrap();
    let f = std::fs::File::options().write(true).open(&input).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(INPUT_MTIME + 86_400)).unwrap();
    drop(f);
    let out = importer(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = json(&out);
    assert_eq!((n(&s, "rows_sent"), n(&s, "rows_unchanged")), (0, 1_010), "{s}");
    assert_eq!(emu.emu.stats().operations, want.len() as u64);
}

/// An event index written before time-less events were known by their place
/// (no "placed" mark): the same events again, from another file, are all
/// taken for the ones it sent, also in a chunk that holds a rejected row.
#[test]
fn an_older_event_index_still_knows_its_time_less_events() {
    let dir = copy_fixture("events_legacy");
    std::fs::copy(fixture("events_legacy").join("events.csv"), dir.path().join("events.csv")).unwrap();
    let emu = FixedEmulator::start(job_port(&dir.path().join("job.toml")));
    let out = importer(dir.path());
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let s = json(&out);
    assert_eq!((n(&s, "rows_duplicate"), n(&s, "rows_rejected"), n(&s, "rows_sent")), (3, 1, 0), "{s}");
    assert!(emu.emu.received_all().is_empty(), "no event sent twice: {:?}", emu.emu.received_all());
}
