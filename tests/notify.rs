//! `[notify]` (issue 28): a real webhook receiver on 127.0.0.1 records what
//! each run tells it; one that fails, and one that is not there, cost the
//! run seconds at most and never its status.

use crate::common::{ClosedPort, bin, json, write};
use crate::run::emulator;
use batchport_emulator::Faults;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An HTTP/1.1 server on 127.0.0.1 answering every request with `status`
/// and keeping each request's body. Lives as long as the test process.
pub(crate) struct Receiver {
    pub(crate) url: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    pub(crate) fn start(status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/T000/secret-token", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut len = 0usize;
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                kept.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
                let reason = if status == 200 { "OK" } else { "Internal Server Error" };
                let answer = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = reader.get_mut().write_all(answer.as_bytes());
            }
        });
        Receiver { url, bodies }
    }

    pub(crate) fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().iter().map(|b| serde_json::from_str(b).expect("a JSON body")).collect()
    }
}

fn job(dir: &Path, url: &str, notify: &str) {
    write(
        dir,
        "job.toml",
        format!(
            "[job]\nname = \"nightly\"\nkind = \"profiles\"\n[api]\nbase_url = \"{url}\"\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\non_bad_value = \"reject_row\"\n[mapping.native]\nemail_address = \"email\"\n[notify]\nurl_env = \"BATCHPORT_TEST_WEBHOOK\"\n{notify}"
        ),
    );
}

fn users(n: u32, bad: u32) -> String {
    let mut f = String::from("id,email\n");
    for i in 0..n {
        let email = if i < bad { "nope".to_string() } else { format!("u{i}@example.com") };
        f.push_str(&format!("u{i},{email}\n"));
    }
    f
}

fn run(dir: &Path, hook: &str, extra: &[&str]) -> std::process::Output {
    bin()
        .args(["run", "job.toml", "--json", "--state"])
        .arg(dir.join("state"))
        .args(extra)
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .env("BATCHPORT_TEST_WEBHOOK", hook)
        .output()
        .unwrap()
}

#[test]
fn a_refused_night_then_its_recovery_are_told_in_json_without_any_key() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    let hook = Receiver::start(200);
    job(dir.path(), &emu.base_url(), "");
    write(dir.path(), "users.csv", users(100, 0));
    let s = json(&run(dir.path(), &hook.url, &[]));
    assert_eq!(s["status"], "done");
    assert!(s.get("notifications").is_none(), "a clean night tells nothing: {s}");
    assert!(hook.bodies().is_empty());

    std::thread::sleep(Duration::from_millis(20));
    write(dir.path(), "users.csv", users(10, 0));
    let s = json(&run(dir.path(), &hook.url, &[]));
    assert_eq!(s["status"], "refused");
    assert_eq!(s["notifications"][0]["delivered"], true, "{s}");
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1);
    let b = &bodies[0];
    assert_eq!(b["events"], serde_json::json!(["refused"]));
    let message = b["message"].as_str().unwrap();
    assert!(message.starts_with("batchport: nightly [") && message.contains("min_rows_share"), "{message}");
    assert_eq!(b["summary"]["status"], "refused");
    assert_eq!(b["summary"]["guards"][1]["name"], "min_rows_share", "{b}");
    let raw = hook.bodies.lock().unwrap()[0].clone();
    assert!(!raw.contains("emulator_rest_key") && !raw.contains("project_emulator"), "{raw}");
    assert!(!raw.contains("secret-token"), "the webhook URL is not in what it is sent");

    // Accepted: the first success after the refusal is `recovered`.
    let s = json(&run(dir.path(), &hook.url, &["--override-guard", "min_rows_share"]));
    assert_eq!(s["status"], "done", "{s}");
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1]["events"], serde_json::json!(["recovered"]));
    assert_eq!(bodies[1]["summary"]["rows_sent"], 10);
}

#[test]
fn slack_format_and_only_the_events_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    let hook = Receiver::start(200);
    job(dir.path(), &emu.base_url(), "format = \"slack\"\nevents = [\"rejects\"]\n");
    write(dir.path(), "users.csv", users(10, 2));
    let s = json(&run(dir.path(), &hook.url, &[]));
    assert_eq!(s["status"], "done_with_rejects");
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let obj = bodies[0].as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["text"], "Slack's body: {obj:?}");
    let text = obj["text"].as_str().unwrap();
    assert!(text.contains("done_with_rejects (rejects)") && text.contains("rejected 2"), "{text}");

    // Not an event the job asked for: an empty dump is refused, untold.
    std::thread::sleep(Duration::from_millis(20));
    write(dir.path(), "users.csv", "id,email\n");
    assert_eq!(json(&run(dir.path(), &hook.url, &[]))["status"], "refused");
    assert_eq!(hook.bodies().len(), 1);
}

#[test]
fn a_webhook_that_fails_or_is_not_there_never_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    let failing = Receiver::start(500);
    job(dir.path(), &emu.base_url(), "");
    write(dir.path(), "users.csv", users(10, 1));
    let started = Instant::now();
    let out = run(dir.path(), &failing.url, &[]);
    let s = json(&out);
    assert_eq!((out.status.code(), s["status"].as_str()), (Some(3), Some("done_with_rejects")), "{s}");
    let n = &s["notifications"][0];
    assert_eq!((n["delivered"].as_bool(), n["attempts"].as_u64()), (Some(false), Some(3)), "{s}");
    assert!(n["error"].as_str().unwrap().contains("500"), "{n}");
    assert_eq!(failing.bodies().len(), 3, "retried by the driver");
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    assert!(!s.to_string().contains("secret-token"), "{s}");

    // Nothing listens: one attempt, said at once.
    let closed = ClosedPort::new();
    std::thread::sleep(Duration::from_millis(20));
    write(dir.path(), "users.csv", users(12, 1));
    let url = format!("http://127.0.0.1:{}/hooks/secret-token", closed.port);
    let started = Instant::now();
    let s = json(&run(dir.path(), &url, &[]));
    assert_eq!(s["status"], "done_with_rejects");
    let n = &s["notifications"][0];
    assert_eq!((n["delivered"].as_bool(), n["attempts"].as_u64()), (Some(false), Some(1)), "{s}");
    assert!(!n["error"].as_str().unwrap().contains("secret-token"), "{n}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());

    // The variable unset: said in the summary, the run unharmed.
    std::thread::sleep(Duration::from_millis(20));
    write(dir.path(), "users.csv", users(14, 1));
    let s = json(&run(dir.path(), "", &[]));
    assert_eq!(s["status"], "done_with_rejects");
    assert!(s["notifications"][0]["error"].as_str().unwrap().contains("BATCHPORT_TEST_WEBHOOK is not set"), "{s}");
}
