//! The run's waits end on a signal, and a dead server is said at once: the
//! binary against tiny local servers that throttle for a day or are not there.

use crate::common::{bin, json, write};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use batchport_testdata as testdata;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A server whose `/profiles/update` answers 429 with a day-long `Retry-After`;
/// its base URL and how many calls it got.
fn throttling_server() -> (String, Arc<AtomicU64>, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    let app = Router::new().route(
        "/2.11/profiles/update",
        post(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            async { (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "86400")], "{}") }
        }),
    );
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls, rt)
}

/// The job (and, the first time, its input) talking to `base_url`.
fn job(dir: &Path, base_url: &str) {
    if !dir.join("users.csv").exists() {
        let mut csv = Vec::new();
        testdata::write_profiles(&mut csv, 50, 3, 0).unwrap();
        write(dir, "users.csv", csv);
    }
    let api = format!("base_url = \"{base_url}\"\nendpoint = \"update\"\nbatch_size = 10\nconcurrency = 2");
    write(dir, "job.toml", testdata::profiles_job("waits", "users.csv", &api));
}

fn command(dir: &Path) -> Command {
    let mut c = bin();
    c.args(["run", "job.toml", "--json", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "k")
        .env("BATCH_PROJECT_KEY", "p");
    c
}

#[cfg(unix)]
#[test]
fn sigterm_during_a_day_long_retry_after_exits_130_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (url, calls, _rt) = throttling_server();
    job(dir.path(), &url);
    let child = command(dir.path()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the importer never called");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Now waiting: Retry-After (capped), the limiter's pause, the backoff.
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    // SAFETY: kill only sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let took = signalled.elapsed();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    // "At once" next to a day-long Retry-After: a loaded machine may take
    // seconds to schedule the exit, never hours.
    assert!(took < Duration::from_secs(20), "exited {took:?} after SIGTERM");
    let s = json(&out);
    assert_eq!(s["status"], "interrupted", "{s}");
    assert_eq!(s["rows_sent"], 0);
    assert!(s["http_429"].as_u64().unwrap() >= 1, "{s}");

    // Nothing was lost: the run resumes (and is still throttled).
    let status = bin()
        .args(["status", "job.toml", "--json", "--state"])
        .arg(dir.path().join("state"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(runs[0]["runs"][0]["status"], "interrupted", "{runs}");
}

#[test]
fn a_server_that_is_not_there_fails_at_once_and_the_run_stays_resumable() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there, and nothing can while the guard lives.
    let closed = crate::common::ClosedPort::new();
    let port = closed.port;
    job(dir.path(), &format!("http://127.0.0.1:{port}"));
    let started = Instant::now();
    let out = command(dir.path()).output().unwrap();
    // No backoff (`retries` is 0 below); the bound only catches a retry loop.
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1));
    let s = json(&out);
    assert_eq!(s["status"], "failed");
    let error = s["error"].as_str().unwrap();
    assert!(error.contains("cannot reach the API") && error.contains("resumed"), "{error}");
    assert_eq!(s["retries"], 0, "no backoff before saying so");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the API"));

    // Once the server is up, the same command imports everything. The base
    // URL is part of the destination: the run at the unreachable one is
    // abandoned (with a note), a new one starts for the new destination.
    let first = s["run_id"].as_str().unwrap().to_string();
    let emu = batchport_emulator::Emulator::start_background(batchport_emulator::EmulatorConfig::default()).unwrap();
    job(dir.path(), &emu.base_url());
    // The job file changed, not the input: the same run is resumed.
    let out = command(dir.path())
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .output()
        .unwrap();
    let s = json(&out);
    assert_eq!(s["status"].as_str(), Some("done"), "{s}");
    assert_ne!(s["run_id"].as_str(), Some(first.as_str()), "{s}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("another destination"));
    assert_eq!(s["rows_sent"], 50);
}

/// Events are held when their outcome is unknown; batches that never reached a
/// dead server are not: after it comes back, every event is sent, none held.
#[test]
fn events_that_never_left_are_sent_on_resume_not_held() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut csv = String::from("id,event,when\n");
    for i in 0..120 {
        // Recent times: events older than 24 h are rejects (the event window).
        let at = chrono::Utc::now() - chrono::Duration::minutes(90) + chrono::Duration::seconds(i as i64);
        csv.push_str(&format!("c{},visit,{}\n", i % 40, at.to_rfc3339()));
    }
    write(d, "events.csv", csv);
    let events_job = |url: &str| {
        format!(
            "[job]\nname = \"ev\"\nkind = \"events\"\n[api]\nbase_url = \"{url}\"\nendpoint = \"update\"\nbatch_size = 10\nconcurrency = 4\n[source]\npath = \"events.csv\"\n[mapping]\ncustom_id = \"id\"\nevent = \"event\"\ntime = {{ column = \"when\" }}\n"
        )
    };
    let closed = crate::common::ClosedPort::new();
    let port = closed.port;
    write(d, "job.toml", events_job(&format!("http://127.0.0.1:{port}")));
    let out = command(d).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));

    let emu = batchport::Emulator::start_background(batchport::EmulatorConfig::default()).unwrap();
    write(d, "job.toml", events_job(&emu.base_url()));
    let out = command(d)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .output()
        .unwrap();
    let s = json(&out);
    assert_eq!((s["status"].as_str(), s["rows_uncertain"].as_u64()), (Some("done"), Some(0)), "{s}");
    assert_eq!(s["rows_sent"], 120);
    let events: usize =
        (0..40).map(|i| emu.profile(&format!("c{i}")).unwrap()["events"].as_array().unwrap().len()).sum();
    assert_eq!(events, 120, "every event once");
}
