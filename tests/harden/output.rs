//! What goes where: `--json` always one object on stdout; results on stdout,
//! progress and logs on stderr.

use super::process::{EMU_JOB, emulator_job};
use crate::common::{run_in, write};

/// stdout is exactly one JSON object, with `status` and `error`.
fn one_failure(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let mut objects = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
    let first = objects.next().expect("one JSON object on stdout").expect("valid JSON");
    assert!(objects.next().is_none(), "more than one object: {text}");
    assert_eq!(first["status"], "failed", "{first}");
    assert!(first["error"].as_str().is_some_and(|e| !e.is_empty()), "{first}");
    first
}

#[test]
fn json_is_always_one_object_with_status_and_error() {
    let dir = emulator_job(3);
    // Missing job file, missing input, empty glob.
    let out = run_in(dir.path(), &["run", "nope.toml", "--json"]);
    assert_eq!(one_failure(&out)["exit_code"], 2);
    std::fs::remove_file(dir.path().join("users.csv")).unwrap();
    let out = run_in(dir.path(), &["run", "job.toml", "--json"]);
    assert!(one_failure(&out)["error"].as_str().unwrap().contains("users.csv"));
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    one_failure(&out);
    write(dir.path(), "job.toml", EMU_JOB.replace("path = \"users.csv\"", "path = \"daily-*.csv\""));
    let out = run_in(dir.path(), &["run", "job.toml", "--json"]);
    assert!(one_failure(&out)["error"].as_str().unwrap().contains("no files match"));
    // The job's store held by another process (here: this one).
    write(dir.path(), "job.toml", EMU_JOB);
    write(dir.path(), "users.csv", "id,name\nu1,A\n");
    let store = batchport_engine::run::open_store_blocking(&dir.path().join("state"), "quick").unwrap();
    let out = run_in(dir.path(), &["run", "job.toml", "--json"]);
    assert!(one_failure(&out)["error"].as_str().unwrap().contains("in use"), "{out:?}");
    drop(store);
}

#[test]
fn summaries_and_status_go_to_stdout_logs_to_stderr() {
    let dir = emulator_job(3);
    let out = run_in(dir.path(), &["run", "job.toml"]);
    assert_eq!(out.status.code(), Some(0));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("read 3, sent 3"), "summary on stdout: {stdout}");
    assert!(!stderr.contains("read 3"), "not on stderr: {stderr}");
    let out = run_in(dir.path(), &["status", "job.toml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("quick") && stdout.contains("read 3"), "status on stdout: {stdout}");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run_in(dir.path(), &["reset", "job.toml", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("only the JSON object");
    assert_eq!(v["run_reset"], true);
}
