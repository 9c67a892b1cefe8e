//! API fidelity (issue 14): the client refuses what Batch refuses, by one rule
//! table; partially applied rows are reported apart; the event window is
//! checked before sending; catalogs are created, checked and followed.

mod catalog;
mod findings;
mod rules;
mod stubs;

use crate::common::{bin, json, write};
use batchport_emulator::{Emulator, EmulatorConfig};
use std::path::Path;
use std::process::Output;

pub fn emulator(config: EmulatorConfig) -> Emulator {
    Emulator::start_background(EmulatorConfig { indexing_delay: std::time::Duration::from_millis(60), ..config })
        .unwrap()
}

/// `batchport CMD JOB --json` in `dir`, keys for the emulator in the environment.
pub fn cmd(dir: &Path, command: &str, job: &str) -> Output {
    bin()
        .args([command, job, "--json", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .env("BATCHPORT_POLL_MS", "20")
        .output()
        .unwrap()
}

/// The summary of a command that ended with `code`.
pub fn summary(out: &Output, code: i32) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    json(out)
}

/// A job file `name` for `kind` reading `csv`, against `base_url` (more `[api]`
/// keys in `api`), with `rest` appended.
pub fn job(dir: &Path, name: &str, kind: &str, base_url: &str, api: &str, csv: &str, rest: &str) {
    write(
        dir,
        name,
        format!(
            "[job]\nname = \"{name}\"\nkind = \"{kind}\"\n[api]\nbase_url = \"{base_url}\"\n{api}\n[source]\npath = \"{csv}\"\n{rest}"
        ),
    );
}

/// The rows of the rejects (or partial) file a summary names, header first.
pub fn report_rows(dir: &Path, s: &serde_json::Value, key: &str) -> Vec<Vec<String>> {
    let p = s[key].as_str().unwrap_or_else(|| panic!("no {key} in {s}"));
    crate::common::csv_rows(&dir.join(p))
}
