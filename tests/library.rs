//! The library facade as a program uses it: load a job, run it with keys passed
//! in, on a current-thread runtime, with events, typed summary and errors.

use crate::common::write;
use batchport::{Emulator, EmulatorConfig, Error, Event, Keys, RunOptions, Status};
use std::sync::{Arc, Mutex};

fn job(dir: &std::path::Path, base_url: &str, rows: u32) -> std::path::PathBuf {
    let mut csv = String::from("id,email,plan\n");
    for i in 0..rows {
        let email = if i == 7 { "not-an-email".to_string() } else { format!("user{i}@example.com") };
        csv.push_str(&format!("u{i},{email},{}\n", if i % 2 == 0 { "pro" } else { "free" }));
    }
    write(dir, "users.csv", csv);
    write(
        dir,
        "job.toml",
        format!(
            "[job]\nname = \"lib\"\nkind = \"profiles\"\n[api]\nbase_url = \"{base_url}\"\nrest_key_env = \"BATCH_LIB_TEST_UNSET_REST\"\nproject_key_env = \"BATCH_LIB_TEST_UNSET_PROJECT\"\nbatch_size = 50\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\non_bad_value = \"reject_row\"\n[mapping.native]\nemail_address = \"email\"\n[mapping.attributes]\nplan = \"plan\"\n"
        ),
    )
}

#[test]
fn an_import_runs_through_the_facade_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start_background(EmulatorConfig::default()).unwrap();
    let path = job(dir.path(), &emu.base_url(), 300);
    let job = batchport::load_job(&path).unwrap();
    assert_eq!((job.name(), job.kind()), ("lib", "profiles"));

    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let config = EmulatorConfig::default();
    let options = RunOptions::new(dir.path().join("state"))
        .keys(Keys::new(config.rest_key, config.project_key))
        .on_event(move |e| seen.lock().unwrap().push(e.clone()));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let summary = rt.block_on(batchport::run_job(&job, &options)).unwrap();

    assert_eq!(summary.status, Status::DoneWithRejects, "{}", summary.human());
    assert_eq!((summary.rows_read, summary.rows_sent, summary.rows_rejected), (300, 299, 1));
    assert_eq!(summary.status.code(), 3);
    assert_eq!(emu.received_all().len(), 299);
    // The forecast is `validate`'s; its type is the facade's own (no internal path).
    let forecast: Option<batchport::Forecast> = summary.forecast.clone();
    assert!(forecast.is_none());
    let events = events.lock().unwrap();
    assert!(matches!(&events[0], Event::Started { run_id, resumed: false } if *run_id == summary.run_id), "{events:?}");
    assert!(events.iter().any(|e| matches!(e, Event::Rows { read: 300, sent: 299, rejected: 1 })), "{events:?}");

    // The same input again: nothing to do; the status of the run that did it.
    let again = rt.block_on(batchport::run_job(&job, &options)).unwrap();
    // This call sent nothing; the run that did is named with its figures.
    assert_eq!((again.status, again.rows_sent, again.requests), (Status::DoneWithRejects, 0, 0));
    let by = again.imported_by.as_ref().unwrap();
    assert_eq!((by.run_id.as_str(), by.rows_sent, by.rows_rejected), (summary.run_id.as_str(), 299, 1));
    assert!(again.note.unwrap().contains("nothing to do"));
}

#[test]
fn errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let missing = batchport::load_job(dir.path().join("nope.toml")).unwrap_err();
    assert!(matches!(missing, Error::Job(_)), "{missing:?}");
    assert_eq!(missing.exit_code(), 2);

    // Keys neither given nor in the environment: a usage error before anything is read.
    let path = job(dir.path(), "http://127.0.0.1:9", 3);
    let job = batchport::load_job(&path).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let err = rt.block_on(batchport::run_job(&job, &RunOptions::new(dir.path().join("state")))).unwrap_err();
    assert!(matches!(&err, Error::Usage(m) if m.contains("BATCH_LIB_TEST_UNSET_REST")), "{err:?}");
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn a_cancelled_run_is_interrupted_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start_background(EmulatorConfig::default()).unwrap();
    let path = job(dir.path(), &emu.base_url(), 50);
    let job = batchport::load_job(&path).unwrap();
    let config = EmulatorConfig::default();
    let keys = Keys::new(config.rest_key, config.project_key);
    let options = RunOptions::new(dir.path().join("state")).keys(keys.clone());
    options.cancel_token().cancel();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let stopped = rt.block_on(batchport::run_job(&job, &options)).unwrap();
    assert_eq!((stopped.status, stopped.rows_sent), (Status::Interrupted, 0));
    assert_eq!(stopped.status.code(), 130);

    let fresh = RunOptions::new(dir.path().join("state")).keys(keys);
    let done = rt.block_on(batchport::run_job(&job, &fresh)).unwrap();
    assert_eq!((done.run_id.as_str(), done.rows_sent), (stopped.run_id.as_str(), 49));
}
