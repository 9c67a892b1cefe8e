//! End to end: the release binary imports a generated profile file into
//! `batchport emulator` (its own process), as a user would run it.
//!
//! `cargo bench --bench e2e` (E2E_ROWS, E2E_LIMITED_ROWS to change the sizes).
//! Prints: rows/s with no rate limit and the importer's peak memory; then the
//! achieved fraction of a 10,000 updates/s limit and the share of 429s.

use std::io::{BufRead, BufReader, BufWriter};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_batchport");

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Emulator(std::process::Child, String);

impl Emulator {
    fn start(flags: &[&str]) -> Emulator {
        let mut child = Command::new(BIN)
            .args(["emulator", "--port", "0"])
            .args(flags)
            .stdout(Stdio::piped())
            .spawn()
            .expect("emulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        Emulator(child, line.trim().rsplit(' ').next().unwrap().to_string())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run the importer; returns (summary, wall time, peak RSS in kB).
fn import(dir: &Path, job: &str) -> (serde_json::Value, Duration, u64) {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(["run", job, "--json", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Ok(s) = std::fs::read_to_string(&status_file)
            && let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:"))
        {
            peak = peak.max(l.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let out = child.wait_with_output().unwrap();
    let summary = serde_json::from_slice(&out.stdout).unwrap_or_default();
    (summary, elapsed, peak)
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
    let emu = Emulator::start(&["--unlimited"]);
    file(dir.path(), "unlimited", rows, &format!("base_url = \"{}\"\nrate = 0", emu.1));
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
    let emu = Emulator::start(&[]);
    file(dir.path(), "limited", limited, &format!("base_url = \"{}\"", emu.1));
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
