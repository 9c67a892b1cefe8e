//! `batchport schedule DIR` as a user runs it, without waiting for a clock: the
//! hidden `--once --now T` starts what is due at T and exits. Due jobs run, the
//! others do not, a bad or failing job does not stop the rest, and SIGTERM stops
//! the scheduler cleanly, mid-run too, with the run resumed at the next start.

use crate::common::{bin, write};
use batchport_emulator::{Emulator, EmulatorConfig, Faults};
use batchport_testdata as testdata;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DUE: &str = "2026-11-27T02:00:00Z";

fn emulator(latency: Duration) -> Emulator {
    let faults = Faults { latency, ..Faults::default() };
    Emulator::start_background(EmulatorConfig { faults, ..EmulatorConfig::default() }).expect("emulator starts")
}

/// A profiles job `name` over `csv` (relative to the job file), on `schedule`.
fn job(dir: &Path, file: &str, name: &str, csv: &str, schedule: &str, api: &str) {
    let text = testdata::profiles_job(name, csv, api).replacen(
        "kind = \"profiles\"\n",
        &format!("kind = \"profiles\"\nschedule = \"{schedule}\"\n"),
        1,
    );
    write(dir, file, text);
}

fn users(dir: &Path, rows: u64) {
    let mut csv = Vec::new();
    testdata::write_profiles(&mut csv, rows, 7, 0).unwrap();
    write(dir, "jobs/users.csv", csv);
}

/// `batchport schedule jobs --json ARGS`, with cron read in UTC.
fn schedule(dir: &Path, args: &[&str]) -> Command {
    let mut c = bin();
    c.args(["schedule", "jobs", "--json", "--state"])
        .arg(dir.join("state"))
        .args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator");
    c
}

fn summaries(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("NDJSON line ({e}): {l}")))
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn due_jobs_run_once_and_a_bad_or_failing_job_does_not_stop_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let emu = emulator(Duration::ZERO);
    let api = format!("base_url = \"{}\"\nbatch_size = 100", emu.base_url());
    users(d, 300);
    job(d, "jobs/nightly.toml", "nightly", "users.csv", "0 2 * * *", &api);
    job(d, "jobs/later.toml", "later", "users.csv", "0 3 * * *", &api);
    // Sorted before `nightly` and due with it: it fails first, nightly still runs.
    job(d, "jobs/missing.toml", "missing", "nope-*.csv", "0 2 * * *", &api);
    write(
        d,
        "jobs/broken.toml",
        "[job]\nname = \"broken\"\nkind = \"profiles\"\nschedule = \"0 2 * * *\"\ncolour = 1\n",
    );
    write(d, "jobs/manual.toml", testdata::profiles_job("manual", "users.csv", &api));

    let out = schedule(d, &["--once", "--now", DUE]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let runs = summaries(&out);
    let jobs: Vec<&str> = runs.iter().map(|s| s["job"].as_str().unwrap()).collect();
    assert_eq!(jobs, ["missing", "nightly"], "due ones, in name order: {runs:?}");
    assert_eq!(runs[0]["status"], "failed");
    assert!(runs[0]["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", runs[0]);
    assert_eq!((runs[1]["status"].as_str(), runs[1]["rows_sent"].as_u64()), (Some("done"), Some(300)));
    let got = emu.received_all();
    assert_eq!(got.len(), 300);
    assert!(got.values().all(|&n| n == 1));
    let err = stderr(&out);
    assert!(err.contains("broken.toml:5:") && err.contains("colour"), "file, line and key: {err}");
    assert!(err.contains("manual.toml: no `schedule`"), "{err}");

    // Due again (say the next day) over the same unchanged file: nothing sent.
    let out = schedule(d, &["--once", "--now", "2026-11-28T02:00:00Z"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = summaries(&out);
    assert!(again[1]["note"].as_str().is_some_and(|n| n.contains("already imported")), "{again:?}");
    assert!(emu.received_all().values().all(|&n| n == 1));
}

#[test]
fn an_instant_when_nothing_is_due_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let emu = emulator(Duration::ZERO);
    users(d, 10);
    job(d, "jobs/nightly.toml", "nightly", "users.csv", "0 2 * * *", &format!("base_url = \"{}\"", emu.base_url()));
    let out = schedule(d, &["--once", "--now", "2026-11-27T02:01:00Z"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(emu.received_all().is_empty());
}

#[test]
fn a_missing_folder_is_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let out = schedule(dir.path(), &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("jobs"), "the message names the folder: {}", stderr(&out));
}

/// Lines of the child's stderr, as they come.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<String>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if line.contains(text) {
            return;
        }
    }
    panic!("the scheduler never said `{text}`");
}

fn terminate(child: &Child) {
    let ok = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(ok.success());
}

/// Wait for the child to exit, at most `limit`.
fn exit_within(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running {limit:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_stops_a_waiting_scheduler_at_once_with_0() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    users(d, 10);
    // Never due while the test runs (a closed port, should it ever be).
    job(d, "jobs/yearly.toml", "yearly", "users.csv", "0 0 1 1 *", "base_url = \"http://127.0.0.1:9\"");
    let mut child = schedule(d, &[]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let rx = stderr_lines(&mut child);
    wait_for(&rx, "job yearly on schedule `0 0 1 1 *`");
    let asked = Instant::now();
    terminate(&child);
    let status = exit_within(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(asked.elapsed() < Duration::from_secs(10), "prompt: {:?}", asked.elapsed());
    wait_for(&rx, "stopped");
}

#[test]
fn sigterm_mid_run_checkpoints_and_the_next_start_resumes_the_run() {
    // Cancellation is seen between chunks of rows: several chunks.
    const ROWS: u64 = 40_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 80 calls of 40 ms one after the other: time enough to stop it midway.
    let emu = emulator(Duration::from_millis(40));
    users(d, ROWS);
    let api = format!("base_url = \"{}\"\nbatch_size = 500\nconcurrency = 1", emu.base_url());
    job(d, "jobs/nightly.toml", "nightly", "users.csv", "0 2 * * *", &api);

    let mut child =
        schedule(d, &["--once", "--now", DUE]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let _rx = stderr_lines(&mut child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while emu.received_all().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    terminate(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    let first = summaries(&out);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["status"], "interrupted", "{}", first[0]);
    let sent = first[0]["rows_sent"].as_u64().unwrap();
    assert!(sent < ROWS, "stopped midway: {sent}");

    // Started again at an instant when nothing is due by the clock: the
    // unfinished run is resumed at once.
    let out = schedule(d, &["--once", "--now", "2026-11-27T09:30:00Z"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second = summaries(&out);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(second[0]["status"], "done", "{}", second[0]);
    assert_eq!(second[0]["run_id"], first[0]["run_id"], "the same run, resumed");
    assert_eq!(second[0]["rows_sent"], ROWS);
    let got = emu.received_all();
    assert_eq!(got.len() as u64, ROWS);
    // Settled before the stop: nothing was sent twice.
    assert!(got.values().all(|&n| n == 1));
}

/// `schedule` runs whatever `run` runs: an export job on a schedule exports.
#[test]
fn a_scheduled_export_job_exports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let emu = Emulator::start_background(EmulatorConfig {
        export_duration: Duration::from_millis(50),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let api = format!("base_url = \"{}\"", emu.base_url());
    users(d, 40);
    job(d, "jobs/seed.toml", "seed", "users.csv", "0 2 * * *", &api);
    write(
        d,
        "jobs/backup.toml",
        format!(
            "[job]\nname = \"zbackup\"\nkind = \"export\"\nschedule = \"0 2 * * *\"\n[api]\n{api}\n[export]\ntype = \"attributes\"\nidentifiers = [\"custom_id\"]\noutput = \"backup.csv\"\n"
        ),
    );
    let out = schedule(d, &["--once", "--now", DUE]).env("BATCHPORT_EXPORT_POLL_MS", "20").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let runs = summaries(&out);
    let got: Vec<(&str, &str)> =
        runs.iter().map(|s| (s["job"].as_str().unwrap(), s["status"].as_str().unwrap())).collect();
    assert_eq!(got, [("seed", "done"), ("zbackup", "done")], "{runs:?}");
    assert_eq!(runs[1]["rows_read"], 40, "{}", runs[1]);
    let backup = std::fs::read_to_string(d.join("jobs/backup.csv")).unwrap();
    assert_eq!(backup.lines().count(), 41, "a header and one line per profile");
}

/// `schedule --notify-url-env`: the webhook of every job without a
/// `[notify]` of its own (issue 28); a job's own wins.
#[test]
fn schedule_tells_a_default_webhook_for_jobs_without_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let emu = emulator(Duration::ZERO);
    let api = format!("base_url = \"{}\"", emu.base_url());
    // An empty dump (refused) for one job; the other tells its own hook.
    write(d, "jobs/empty.csv", format!("{}\n", testdata::PROFILE_HEADER));
    job(d, "jobs/a.toml", "a", "empty.csv", "0 2 * * *", &api);
    job(d, "jobs/b.toml", "b", "empty.csv", "0 2 * * *", &api);
    let own = crate::notify::Receiver::start(200);
    let b = std::fs::read_to_string(d.join("jobs/b.toml")).unwrap();
    write(d, "jobs/b.toml", format!("{b}\n[notify]\nurl_env = \"B_HOOK\"\n"));
    let default = crate::notify::Receiver::start(200);
    let out = schedule(d, &["--once", "--now", DUE, "--notify-url-env", "DEFAULT_HOOK", "--notify-format", "slack"])
        .env("DEFAULT_HOOK", &default.url)
        .env("B_HOOK", &own.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = summaries(&out);
    assert!(s.iter().all(|s| s["status"] == "refused"), "{s:?}");
    let told = default.bodies();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0]["text"].as_str().unwrap().starts_with("batchport: a ["), "{told:?}");
    let own = own.bodies();
    assert_eq!((own.len(), own[0]["events"][0].as_str()), (1, Some("refused")), "{own:?}");

    // A variable holding an API key is refused before anything runs.
    let out = schedule(d, &["--once", "--now", DUE, "--notify-url-env", "BATCH_REST_KEY"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("API key"), "{}", stderr(&out));
}

/// A slot missed while `schedule` was down runs once when it comes back
/// (systemd's `Persistent=true`), unless the job says `catch_up = false`
/// (issue 28).
#[test]
fn a_slot_missed_while_schedule_was_down_runs_once_when_it_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let emu = emulator(Duration::ZERO);
    users(d, 50);
    let api = format!("base_url = \"{}\"", emu.base_url());
    job(d, "jobs/nightly.toml", "nightly", "users.csv", "0 2 * * *", &api);
    job(d, "jobs/skip.toml", "skip", "users.csv", "0 2 * * *", &api);
    let skip = std::fs::read_to_string(d.join("jobs/skip.toml")).unwrap();
    write(d, "jobs/skip.toml", skip.replacen("[job]\n", "[job]\ncatch_up = false\n", 1));
    // Both ran last (by hand, now); schedule comes back two days later at 09:00.
    for j in ["jobs/nightly.toml", "jobs/skip.toml"] {
        let out = bin()
            .args(["run", j, "--state"])
            .arg(d.join("state"))
            .current_dir(d)
            .env("BATCH_REST_KEY", "emulator_rest_key")
            .env("BATCH_PROJECT_KEY", "project_emulator")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let later = (chrono::Utc::now() + chrono::Duration::days(2)).format("%Y-%m-%dT09:00:00Z").to_string();
    // A new dump since: the missed night has something to do.
    std::thread::sleep(Duration::from_millis(20));
    users(d, 60);
    let out = schedule(d, &["--once", "--now", &later]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = summaries(&out);
    assert_eq!(s.len(), 1, "{s:?}\n{}", stderr(&out));
    assert_eq!((s[0]["job"].as_str(), s[0]["rows_read"].as_u64()), (Some("nightly"), Some(60)), "{s:?}");
    let log = stderr(&out);
    assert!(log.contains("nightly: its run of") && log.contains("missed"), "{log}");
    assert!(log.contains("skip: its run of") && log.contains("catch_up = false"), "{log}");
}
