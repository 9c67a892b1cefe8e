//! End to end: the release binary imports a generated profile file into
//! `batchport emulator` (its own process), as a user would run it.
//!
//! `cargo bench --bench e2e` (E2E_ROWS, E2E_LIMITED_ROWS to change the sizes).
//! Prints: rows/s with no rate limit and the importer's peak memory; then the
//! achieved fraction of a 10,000 updates/s limit and the share of 429s.

use batchport_testdata::harness::{EmulatorProcess, run_measured};
use std::io::BufWriter;
use std::path::Path;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_batchport");

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Run the importer; returns (summary, wall time, peak RSS in kB).
fn import(dir: &Path, job: &str) -> (serde_json::Value, Duration, u64) {
    run_measured(BIN, dir, &["run", job], &[])
}

fn file(dir: &Path, name: &str, rows: u64, api: &str) {
    let mut w = BufWriter::new(std::fs::File::create(dir.join(format!("{name}.csv"))).unwrap());
    batchport_testdata::write_profiles(&mut w, rows, 3, 0).unwrap();
    drop(w);
    let job = batchport_testdata::profiles_job(name, &format!("{name}.csv"), api);
    std::fs::write(dir.join(format!("{name}.toml")), job).unwrap();
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this with no
    // flag: stay quick then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rows = env_u64("E2E_ROWS", 1_000_000);
    let emu = EmulatorProcess::start(BIN, &["--unlimited"]);
    file(dir.path(), "unlimited", rows, &format!("base_url = \"{}\"\nrate = 0", emu.url));
    let size = std::fs::metadata(dir.path().join("unlimited.csv")).unwrap().len();
    let (s, t, peak) = import(dir.path(), "unlimited.toml");
    assert_eq!(s["rows_sent"].as_u64(), Some(rows), "{s}");
    println!(
        "e2e unlimited: {rows} rows ({:.0} MB) in {:.2}s = {:.0} rows/s; importer peak RSS {:.1} MB; requests {}",
        size as f64 / 1e6,
        t.as_secs_f64(),
        rows as f64 / t.as_secs_f64(),
        peak as f64 / 1024.0,
        s["requests"]
    );
    drop(emu);

    let limited = env_u64("E2E_LIMITED_ROWS", 200_000);
    let emu = EmulatorProcess::start(BIN, &[]);
    file(dir.path(), "limited", limited, &format!("base_url = \"{}\"", emu.url));
    let (s, t, _) = import(dir.path(), "limited.toml");
    assert_eq!(s["rows_sent"].as_u64(), Some(limited), "{s}");
    let requests = s["requests"].as_u64().unwrap_or(0).max(1);
    let r429 = s["http_429"].as_u64().unwrap_or(0);
    // The first 10,000 go out at once (the bucket starts full): count the rest
    // against the time they took.
    let achieved = (limited - 10_000) as f64 / t.as_secs_f64();
    println!(
        "e2e at 10,000/s: {limited} rows in {:.2}s = {:.0} updates/s sustained ({:.1}% of the limit); {r429} of {requests} requests answered 429 ({:.2}%)",
        t.as_secs_f64(),
        achieved,
        achieved / 100.0,
        r429 as f64 * 100.0 / requests as f64
    );
}
