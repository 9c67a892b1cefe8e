//! Nightly at scale: every figure of issue 18 beside its goal, from the
//! release binary run as a user would, against a null API (a server in this
//! process answering 202 at once, on the same machine).
//!
//! `cargo bench --bench scale` (SCALE_ROWS, default 10,000,000; COMPARE_ROWS,
//! default 1,000,000, for the side-by-side run with the reference Python
//! importer `benches/reference_importer.py`, which needs `pip install orjson
//! aiohttp`). Needs about 3 GB free in the temp folder at 10 M rows.
//! `SCALE_SERVE_ONLY=1` serves the null API alone (for profiling by hand).

use batchport_testdata::harness::dir_size;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

const BATCH: u64 = 10_000;

/// The binary measured: `BATCHPORT_BIN` if set (a release build, when this
/// harness itself was built quickly in the dev profile), else Cargo's.
fn bin() -> String {
    std::env::var("BATCHPORT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_batchport").to_string())
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The null API: any POST answered `202 {"code":"SUCCESS"}` once its body is read.
struct NullApi {
    url: String,
    requests: Arc<AtomicU64>,
}

fn null_api() -> NullApi {
    use axum::extract::DefaultBodyLimit;
    let requests = Arc::new(AtomicU64::new(0));
    let count = requests.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new()
                .fallback(move |_body: axum::body::Bytes| {
                    count.fetch_add(1, Relaxed);
                    async {
                        (
                            axum::http::StatusCode::ACCEPTED,
                            [("content-type", "application/json")],
                            r#"{"code":"SUCCESS"}"#,
                        )
                    }
                })
                .layer(DefaultBodyLimit::max(256 << 20));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    NullApi { url: format!("http://{addr}"), requests }
}

/// What one process did: its stdout, wall time, peak RSS (exact, from wait4).
struct Measured {
    out: String,
    secs: f64,
    peak_mb: f64,
    /// User + system CPU seconds: steadier than wall time on a shared machine.
    cpu: f64,
}

// The child is reaped by `wait4` (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn measured(cmd: &mut Command) -> Measured {
    let started = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; `usage` is a valid rusage to fill.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Measured {
        out,
        secs: started.elapsed().as_secs_f64(),
        peak_mb: usage.ru_maxrss as f64 / 1024.0,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
    }
}

fn batchport(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .args(["--json", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator");
    c
}

fn summary(m: &Measured) -> serde_json::Value {
    serde_json::from_str(&m.out).unwrap_or_else(|e| panic!("no summary ({e}): {}", m.out))
}

fn n(s: &serde_json::Value, k: &str) -> u64 {
    s[k].as_u64().unwrap_or(0)
}

fn jobs(dir: &Path, csv: &str, url: &str) {
    let api = format!("base_url = \"{url}\"\nrate = 0\nbatch_size = {BATCH}");
    let plain = batchport_testdata::profiles_job("plain", csv, &api);
    let changed = batchport_testdata::profiles_job("nightly", csv, &api)
        .replace("custom_id = \"custom_id\"\n", "custom_id = \"custom_id\"\nchanged_only = true\n");
    std::fs::write(dir.join("plain.toml"), plain).unwrap();
    std::fs::write(dir.join("nightly.toml"), changed).unwrap();
}

/// `batchport generate` (the measured binary: quick whatever this harness's build).
fn generate(path: &Path, rows: u64) {
    let out = Command::new(bin()).arg("generate").arg(path).args(["--rows", &rows.to_string()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Tonight's dump: one row in 100 has one more interest; the rest unchanged.
fn change_one_in_100(path: &Path) -> u64 {
    let tmp = path.with_extension("tmp");
    let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(path).unwrap());
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp).unwrap());
    let (mut line, mut i, mut changed) = (Vec::new(), 0u64, 0u64);
    while r.read_until(b'\n', &mut line).unwrap() > 0 {
        if i > 0 && i % 100 == 0 {
            line.truncate(line.len() - 1);
            line.extend_from_slice(b"|news\n");
            changed += 1;
        }
        w.write_all(&line).unwrap();
        line.clear();
        i += 1;
    }
    w.flush().unwrap();
    drop(w);
    std::fs::rename(&tmp, path).unwrap();
    changed
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if std::env::var_os("SCALE_SERVE_ONLY").is_some() {
        // For profiling by hand: only the null API, until killed.
        let api = null_api();
        println!("null API on {}", api.url);
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    let rows = env_u64("SCALE_ROWS", 10_000_000);
    let compare_rows = env_u64("COMPARE_ROWS", 1_000_000);
    let dir: PathBuf = tempfile::tempdir().unwrap().keep();
    let api = null_api();
    let mut lines = Vec::new();
    let mut report = |s: String| {
        println!("{s}");
        lines.push(s);
    };

    // Side by side with the reference importer, without changed_only.
    let cmp = dir.join("compare");
    std::fs::create_dir_all(&cmp).unwrap();
    generate(&cmp.join("p.csv"), compare_rows);
    jobs(&cmp, "p.csv", &api.url);
    let ours = measured(&mut batchport(&cmp, &["run", "plain.toml"]));
    assert_eq!(n(&summary(&ours), "rows_sent"), compare_rows, "{}", ours.out);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference_importer.py");
    let py = measured(Command::new("python3").arg(&script).arg(cmp.join("p.csv")).arg(&api.url));
    match serde_json::from_str::<serde_json::Value>(&py.out) {
        Ok(p) if n(&p, "sent") == compare_rows => {
            let ratio = py.secs / ours.secs;
            report(format!(
                "e2e into the null API, {compare_rows} rows, no changed_only: batchport {:.2} s ({:.0} rows/s, {:.2} CPU-s, peak RSS {:.1} MB); \
                 reference Python {:.2} s ({:.0} rows/s, {:.2} CPU-s): {ratio:.1}x by wall time, {:.1}x by CPU time  [goal >= 5x: {}]",
                ours.secs,
                compare_rows as f64 / ours.secs,
                ours.cpu,
                ours.peak_mb,
                py.secs,
                compare_rows as f64 / py.secs,
                py.cpu,
                py.cpu / ours.cpu,
                verdict(ratio >= 5.0)
            ));
        }
        _ => report(format!("reference importer did not run (pip install orjson aiohttp?): {}", py.out)),
    }

    // Read + transform.
    let big = dir.join("nightly");
    std::fs::create_dir_all(&big).unwrap();
    let t = Instant::now();
    generate(&big.join("p.csv"), rows);
    eprintln!("generated {rows} rows in {:.1} s", t.elapsed().as_secs_f64());
    jobs(&big, "p.csv", &api.url);
    let v = measured(&mut batchport(&big, &["validate", "plain.toml"]));
    let rate = rows as f64 / v.secs;
    report(format!(
        "validate (read + transform), {rows} rows: {:.2} s = {:.2} M rows/s ({:.2} CPU-s = {:.2} M rows per CPU-s), peak RSS {:.1} MB  [goal >= 1.5 M rows/s: {}]",
        v.secs,
        rate / 1e6,
        v.cpu,
        rows as f64 / v.cpu / 1e6,
        v.peak_mb,
        verdict(rate >= 1.5e6)
    ));

    // First import, without then with changed_only.
    let plain = measured(&mut batchport(&big, &["run", "plain.toml"]));
    assert_eq!(n(&summary(&plain), "rows_sent"), rows, "{}", plain.out);
    let first = measured(&mut batchport(&big, &["run", "nightly.toml"]));
    assert_eq!(n(&summary(&first), "rows_sent"), rows, "{}", first.out);
    let ratio = first.secs / plain.secs;
    report(format!(
        "first import, {rows} rows: without changed_only {:.2} s ({:.1} MB); with it {:.2} s ({:.1} MB): {ratio:.3}x  [goal <= 1.15x: {}]",
        plain.secs,
        plain.peak_mb,
        first.secs,
        first.peak_mb,
        verdict(ratio <= 1.15)
    ));
    let index = dir_size(&big.join("state/jobs/nightly/changes"));
    let per_id = index as f64 / rows as f64;
    report(format!(
        "index on disk: {:.1} MB for {rows} ids = {per_id:.2} bytes per Custom ID  [goal <= 20: {}]",
        index as f64 / 1e6,
        verdict(per_id <= 20.0)
    ));

    // Unchanged re-run: a new dump with the same rows (new modification time).
    std::fs::File::options()
        .append(true)
        .open(big.join("p.csv"))
        .unwrap()
        .set_modified(std::time::SystemTime::now())
        .unwrap();
    let before = api.requests.load(Relaxed);
    let same = measured(&mut batchport(&big, &["run", "nightly.toml"]));
    let s = summary(&same);
    let calls = api.requests.load(Relaxed) - before;
    assert_eq!(n(&s, "rows_unchanged"), rows, "{}", same.out);
    report(format!(
        "unchanged re-run, {rows} rows: {:.2} s, peak RSS {:.1} MB, {calls} requests  [goal <= 8 s, <= 64 MB, 0 requests: {}]",
        same.secs,
        same.peak_mb,
        verdict(same.secs <= 8.0 && same.peak_mb <= 64.0 && calls == 0)
    ));

    // 1% changed.
    let changed = change_one_in_100(&big.join("p.csv"));
    let before = api.requests.load(Relaxed);
    let delta = measured(&mut batchport(&big, &["run", "nightly.toml"]));
    let s = summary(&delta);
    let calls = api.requests.load(Relaxed) - before;
    assert_eq!(n(&s, "rows_sent"), changed, "{}", delta.out);
    let full = changed.div_ceil(BATCH);
    report(format!(
        "1% changed, {rows} rows: {:.2} s, peak RSS {:.1} MB; {changed} sent in {calls} calls ({:.0} per call; {full} if every call were full)  \
         [goal <= 10 s, <= 64 MB, full calls: {}]",
        delta.secs,
        delta.peak_mb,
        changed as f64 / calls.max(1) as f64,
        verdict(delta.secs <= 10.0 && delta.peak_mb <= 64.0 && calls <= full + full / 10 + 1)
    ));
    let index = dir_size(&big.join("state/jobs/nightly/changes"));
    report(format!("index on disk after the nightly: {:.2} bytes per Custom ID", index as f64 / rows as f64));
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("\nsummary:\n{}", lines.join("\n"));
}
