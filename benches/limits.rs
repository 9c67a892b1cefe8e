//! Rate limits against a jittered emulator: the release binary imports into
//! `batchport emulator --jitter-ms 80` (40–120 ms before each call reaches the
//! token buckets), each in its own process, as a user would run them.
//!
//! `cargo bench --bench limits` runs every scenario (about 5 minutes, mostly
//! waiting: the rates are the point); `LIMITS_ONLY=mass,update,resume,shared,over`
//! picks some; `LIMITS_SHARED_ROWS` sizes the shared-quota run (default
//! 1,000,000: it must be long next to the two 429s that finding the quota costs).
//!
//! Each prints the run's `rate_achieved` (updates/s while sending, from the
//! summary), the wall-clock rate (updates Batch accepted / the importer's
//! whole run, startup included) and the share of calls answered 429, counted
//! by the emulator.

use batchport_testdata::harness::EmulatorProcess;
use std::io::BufWriter;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_batchport");

/// `batchport emulator --jitter-ms 80` in its own process.
struct Emulator(EmulatorProcess);

impl Emulator {
    fn start(flags: &[&str]) -> Emulator {
        let mut all = vec!["--jitter-ms", "80"];
        all.extend_from_slice(flags);
        Emulator(EmulatorProcess::start(BIN, &all))
    }

    /// `(updates, requests, http_429)` from `GET /_emulator/stats`.
    fn stats(&self) -> (u64, u64, u64) {
        let v = self.0.stats();
        let g = |k: &str| v[k].as_u64().unwrap_or(0);
        (g("updates"), g("requests"), g("http_429"))
    }
}

fn importer(dir: &Path, job: &str) -> Child {
    Command::new(BIN)
        .args(["run", job, "--json", "--quiet", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> serde_json::Value {
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn file(dir: &Path, name: &str, rows: u64, api: &str) {
    let mut w = BufWriter::new(std::fs::File::create(dir.join(format!("{name}.csv"))).unwrap());
    batchport_testdata::write_profiles(&mut w, rows, 3, 0).unwrap();
    drop(w);
    let job = batchport_testdata::profiles_job(name, &format!("{name}.csv"), api);
    std::fs::write(dir.join(format!("{name}.toml")), job).unwrap();
}

/// Import `rows` into a fresh emulator started with `flags`; prints one line
/// against `limit` (updates/s) and returns the summary.
fn scenario(dir: &Path, name: &str, rows: u64, api: &str, flags: &[&str], limit: f64) -> serde_json::Value {
    let emu = Emulator::start(flags);
    file(dir, name, rows, &format!("base_url = \"{}\"\n{api}", emu.0.url));
    let started = Instant::now();
    let s = finish(importer(dir, &format!("{name}.toml")));
    let wall = started.elapsed().as_secs_f64();
    let (updates, requests, r429) = emu.stats();
    assert_eq!(s["rows_sent"].as_u64(), Some(rows), "{name}: {s}");
    let achieved = s["rate_achieved"].as_f64().unwrap_or(0.0);
    println!(
        "{name}: {rows} rows; rate_achieved {achieved:.0} updates/s ({:.1}% of {limit:.0}); wall clock {:.0} updates/s ({:.1}%) in {wall:.1} s; {r429} of {requests} calls answered 429 ({:.2}%)",
        achieved * 100.0 / limit,
        updates as f64 / wall,
        updates as f64 * 100.0 / wall / limit,
        r429 as f64 * 100.0 / requests.max(1) as f64,
    );
    s
}

/// Kill a run part-way (SIGKILL) and resume it at once: the resumed run finds
/// Batch's bucket where the killed one left it.
fn resume(dir: &Path) {
    let emu = Emulator::start(&[]);
    let rows = 400_000;
    file(dir, "resume", rows, &format!("base_url = \"{}\"", emu.0.url));
    let mut first = importer(dir, "resume.toml");
    while emu.stats().0 < 100_000 {
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let (_, req0, r429_0) = emu.stats();
    let started = Instant::now();
    let second = importer(dir, "resume.toml");
    std::thread::sleep(Duration::from_secs(10).saturating_sub(started.elapsed()));
    let (_, req10, r429_10) = emu.stats();
    let s = finish(second);
    let (_, requests, r429) = emu.stats();
    assert_eq!(s["status"], "done", "{s}");
    println!(
        "resume after kill -9: {} of {} calls answered 429 in the first 10 s ({} of {} over the resumed run); the killed run: {r429_0} of {req0}; resumed rate_achieved {:.0} updates/s",
        r429_10 - r429_0,
        req10 - req0,
        r429 - r429_0,
        requests - req0,
        s["rate_achieved"].as_f64().unwrap_or(0.0),
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this with no
    // flag: stay quick then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let only = std::env::var("LIMITS_ONLY").unwrap_or_default();
    let wanted = |n: &str| only.is_empty() || only.split(',').any(|o| o == n);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    if wanted("mass") {
        scenario(dir, "mass", 200_000, "", &[], 10_000.0);
    }
    if wanted("update") {
        scenario(dir, "update", 20_000, "endpoint = \"update\"", &[], 300.0);
    }
    if wanted("resume") {
        resume(dir);
    }
    if wanted("shared") {
        let rows = std::env::var("LIMITS_SHARED_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
        scenario(dir, "shared", rows, "", &["--shared-rate", "3000"], 7_000.0);
    }
    if wanted("over") {
        scenario(dir, "over", 200_000, "rate = 20000", &[], 10_000.0);
    }
}
