//! Helpers shared by the integration tests: the built binary, temp dirs, files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_batchport"));
    // Never let a developer's own state or keys leak into a test.
    c.env_remove("BATCHPORT_STATE").env_remove("BATCH_REST_KEY").env_remove("BATCH_PROJECT_KEY");
    c
}

/// Run `batchport ARGS` with `--state <dir>/state`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    let mut c = bin();
    c.args(args).arg("--state").arg(dir.join("state")).current_dir(dir);
    c.output().expect("the binary runs")
}

pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
    p
}

pub fn json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!("stdout is one JSON object ({e}): {text}\nstderr: {}", String::from_utf8_lossy(&out.stderr))
    })
}

/// Rows of a CSV file as strings (lossy), header first.
pub fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(path).unwrap();
    r.byte_records().map(|rec| rec.unwrap().iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()).collect()
}
