//! `batchport verify` of a generated profile file against `batchport
//! emulator` (its own process) that silently lost 0.1% of the operations,
//! beside what it is measured against: a `validate` of the same file and an
//! export job downloading the same profiles (issue 27's target: verify in at
//! most their sum twice, with flat memory).
//!
//! `cargo bench --bench verify` (VERIFY_ROWS to change the size, default 1 M).
//! Prints each command's wall time and peak RSS, and what verify found.

use batchport_testdata::harness::{EmulatorProcess, run_measured};
use std::io::BufWriter;
use std::path::Path;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_batchport");

/// `batchport ARGS --json`: summary, wall time, peak RSS in kB.
fn measure(dir: &Path, args: &[&str]) -> (serde_json::Value, Duration, u64) {
    run_measured(BIN, dir, args, &[("BATCHPORT_EXPORT_POLL_MS", "200")])
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this with no
    // flag: stay quick then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rows: u64 = std::env::var("VERIFY_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let emu = EmulatorProcess::start(
        BIN,
        &["--unlimited", "--silent-drop-rate", "0.001", "--seed", "1", "--export-secs", "1"],
    );
    let mut w = BufWriter::new(std::fs::File::create(d.join("p.csv")).unwrap());
    batchport_testdata::write_profiles(&mut w, rows, 3, 0).unwrap();
    drop(w);
    let api = format!("base_url = \"{}\"\nrate = 0", emu.url);
    std::fs::write(d.join("p.toml"), batchport_testdata::profiles_job("p", "p.csv", &api)).unwrap();
    let attrs = "\"$email_address\", \"$email_marketing\", \"$phone_number\", \"$sms_marketing\", \"$language\", \"$region\", \"$timezone\", \"first_name\", \"last_name\", \"birthdate\", \"is_premium\", \"lifetime_value\", \"orders\", \"interests\"";
    std::fs::write(
        d.join("x.toml"),
        format!("[job]\nname = \"x\"\nkind = \"export\"\n[api]\nbase_url = \"{}\"\n[export]\ntype = \"attributes\"\nattributes = [{attrs}]\noutput = \"x.ndjson\"\n", emu.url),
    )
    .unwrap();

    let (s, t, _) = measure(d, &["run", "p.toml"]);
    assert_eq!(s["rows_sent"].as_u64(), Some(rows), "{s}");
    println!("import: {rows} rows in {:.2}s", t.as_secs_f64());
    let lost = emu.stats()["silently_dropped"].as_u64().unwrap_or(0);

    let (_, t_validate, m_validate) = measure(d, &["validate", "p.toml"]);
    let (x, t_export, m_export) = measure(d, &["run", "x.toml"]);
    assert_eq!(x["status"], "done", "{x}");
    let (v, t_verify, m_verify) = measure(d, &["verify", "p.toml"]);
    assert_eq!(v["profiles_missing"].as_u64(), Some(lost), "{v}");
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!("validate: {:.2}s, peak RSS {:.1} MB", t_validate.as_secs_f64(), mb(m_validate));
    println!("export job (download to NDJSON): {:.2}s, peak RSS {:.1} MB", t_export.as_secs_f64(), mb(m_export));
    println!(
        "verify: {:.2}s, peak RSS {:.1} MB; {:.2}x validate + export; found {} of {lost} lost profiles missing",
        t_verify.as_secs_f64(),
        mb(m_verify),
        t_verify.as_secs_f64() / (t_validate + t_export).as_secs_f64(),
        v["profiles_missing"]
    );
}
