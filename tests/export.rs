//! Export jobs against the emulator: every profile comes out once with its
//! values, whichever shape the parts have; the CSV imports back; an expired
//! link is renewed; a killed run resumes the same export; ERROR exits 1.

use crate::common::{bin, csv_rows, json, write};
use batchport_api::Endpoint;
use batchport_api::client::{Client, Credentials};
use batchport_dispatch::{Driver, Limiter, RetryPolicy};
use batchport_emulator::{Emulator, EmulatorConfig};
use batchport_engine::export::{self, Sink, output};
use batchport_testdata as testdata;
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const ATTRS: &[&str] = &[
    "$email_address",
    "$email_marketing",
    "$language",
    "first_name",
    "last_name",
    "birthdate",
    "is_premium",
    "lifetime_value",
    "orders",
    "interests",
];

fn emulator(part_size: usize, fail: bool) -> Emulator {
    Emulator::start_background(EmulatorConfig {
        export_duration: Duration::from_millis(300),
        export_part_size: part_size,
        export_fail: fail,
        ..EmulatorConfig::default()
    })
    .unwrap()
}

fn batchport(dir: &Path, job: &str) -> Command {
    let mut c = bin();
    c.args(["run", job, "--json", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .env(export::POLL_ENV, "50")
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator");
    c
}

fn run_ok(dir: &Path, job: &str) -> Value {
    let out = batchport(dir, job).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json(&out)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Import `rows` generated profiles into the emulator at `url`.
fn seed(url: &str, rows: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = Vec::new();
    testdata::write_profiles(&mut csv, rows, 5, 0).unwrap();
    write(dir.path(), "users.csv", csv);
    write(dir.path(), "seed.toml", testdata::profiles_job("seed", "users.csv", &format!("base_url = \"{url}\"")));
    assert_eq!(run_ok(dir.path(), "seed.toml")["rows_sent"], rows);
}

fn export_job(url: &str, output: &str) -> String {
    let attrs: Vec<String> = ATTRS.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "[job]\nname = \"exp\"\nkind = \"export\"\n[api]\nbase_url = \"{url}\"\n[export]\ntype = \"attributes\"\nidentifiers = [\"custom_id\"]\nattributes = [{}]\noutput = \"{output}\"\n",
        attrs.join(", ")
    )
}

fn per_endpoint(stats: &Value, ep: &str) -> u64 {
    stats["per_endpoint"][ep].as_u64().unwrap_or(0)
}

#[test]
fn an_export_of_n_profiles_gives_n_rows_with_their_values() {
    const N: u64 = 1_000;
    // 70 per part: 15 parts, alternately one JSON array and one object per line.
    let emu = emulator(70, false);
    seed(&emu.base_url(), N);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", export_job(&emu.base_url(), "out/profiles.csv"));
    let s = run_ok(dir.path(), "job.toml");
    assert_eq!(
        (s["status"].as_str(), s["rows_read"].as_u64(), s["rows_sent"].as_u64()),
        (Some("done"), Some(N), Some(0))
    );
    let rows = csv_rows(&dir.path().join("out/profiles.csv"));
    assert!(!dir.path().join("out/profiles.csv.tmp").exists());
    let mut header = vec!["custom_id".to_string()];
    header.extend(ATTRS.iter().map(|a| a.to_string()));
    assert_eq!(rows[0], header);
    assert_eq!(rows.len() as u64, N + 1);
    let ids: HashSet<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids.len() as u64, N, "every profile exactly once");
    for row in &rows[1..] {
        let p = emu.profile(&row[0]).unwrap();
        let attrs = p["attributes"].as_object().unwrap();
        for (i, a) in ATTRS.iter().enumerate() {
            assert_eq!(row[i + 1], output::cell(output::attribute(attrs, a)), "{} {a}", row[0]);
        }
    }
    let u7 = &rows[1..].iter().find(|r| r[0] == "u7").unwrap();
    assert_eq!(u7[1], "user7@example.com");
    assert!(u7[6].ends_with("T00:00:00Z"), "birthdate is the stored date: {}", u7[6]);
    assert!(u7[10].starts_with("[\""), "arrays are JSON text: {}", u7[10]);

    // The same export as NDJSON: one record per line, as Batch sent it.
    write(dir.path(), "nd.toml", export_job(&emu.base_url(), "out/profiles.ndjson").replace("\"exp\"", "\"nd\""));
    let s = run_ok(dir.path(), "nd.toml");
    assert_eq!(s["rows_read"], N);
    let text = std::fs::read_to_string(dir.path().join("out/profiles.ndjson")).unwrap();
    let recs: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len() as u64, N);
    let u7 = recs.iter().find(|r| r["identifiers"]["custom_id"] == "u7").unwrap();
    assert_eq!(u7["attributes"]["$email_address"], "user7@example.com");
    assert_eq!(emu.stats().per_endpoint.get("profiles/export"), Some(&2));
}

#[test]
fn the_example_job_exports_a_csv_that_imports_back() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let retarget = |text: String, url: &str| {
        assert!(text.contains("base_url = \"emulator\""));
        text.replace("base_url = \"emulator\"", &format!("base_url = \"{url}\""))
    };
    // Seed with the quickstart, export with jobs/export.toml.
    let source = emulator(3, false);
    std::fs::copy(root.join("jobs/data/users.csv"), write(dir.path(), "data/users.csv", "")).unwrap();
    let quickstart = std::fs::read_to_string(root.join("jobs/quickstart.toml")).unwrap();
    write(dir.path(), "quickstart.toml", retarget(quickstart, &source.base_url()));
    let seeded = run_ok(dir.path(), "quickstart.toml")["rows_sent"].as_u64().unwrap();
    assert!(seeded >= 5);
    let job = std::fs::read_to_string(root.join("jobs/export.toml")).unwrap();
    write(dir.path(), "export.toml", retarget(job, &source.base_url()));
    assert_eq!(run_ok(dir.path(), "export.toml")["rows_read"], seeded);

    // Import it into an empty project with the README's restore job.
    let target = emulator(3, false);
    write(dir.path(), "restore.toml", RESTORE.replace("URL", &target.base_url()));
    let s = run_ok(dir.path(), "restore.toml");
    assert_eq!((s["rows_sent"].as_u64(), s["rows_rejected"].as_u64()), (Some(seeded), Some(0)), "{s}");
    // Arrays are exported as JSON text, which the importer's `array` type reads back.
    for id in source.received_all().keys() {
        let (a, b) = (source.profile(id).unwrap(), target.profile(id).unwrap());
        assert_eq!(a["attributes"], b["attributes"], "{id} came back the same");
    }
}

/// The README's restore job: the export's CSV back into a project.
const RESTORE: &str = r#"[job]
name = "restore-profiles"
kind = "profiles"

[api]
base_url = "URL"

[source]
path = "exports/profiles.csv"

[mapping]
custom_id = "custom_id"

[mapping.native]
email_address = "$email_address"
email_marketing = { column = "$email_marketing", subscribed = ["subscribed"], unsubscribed = ["unsubscribed"] }
phone_number = "$phone_number"
language = "$language"
region = "$region"
timezone = "$timezone"

[mapping.attributes]
first_name = "first_name"
last_name = "last_name"
birthdate = { column = "birthdate", type = "date" }
is_premium = { column = "is_premium", type = "bool" }
lifetime_value = { column = "lifetime_value", type = "float" }
orders = { column = "orders", type = "int" }
interests = { column = "interests", type = "array" }
website = { column = "website", type = "url" }
"#;

/// Collects records; `restart` forgets them like the output file does.
#[derive(Default)]
struct Collect(Vec<Value>, u32);

impl Sink for Collect {
    fn record(&mut self, record: &Value) -> anyhow::Result<()> {
        self.0.push(record.clone());
        Ok(())
    }
    fn restart(&mut self) -> anyhow::Result<()> {
        self.0.clear();
        self.1 += 1;
        Ok(())
    }
}

#[test]
fn an_expired_download_link_is_renewed() {
    expired_link_is_renewed(410);
}

/// Some signed-URL stores answer an expired link with 400: not fatal either.
#[test]
fn an_expired_download_link_answered_400_is_renewed() {
    expired_link_is_renewed(400);
}

fn expired_link_is_renewed(expired_link_status: u16) {
    let emu = Emulator::start_background(EmulatorConfig {
        export_duration: Duration::from_millis(100),
        link_ttl: Duration::from_millis(200),
        expired_link_status,
        ..EmulatorConfig::default()
    })
    .unwrap();
    seed(&emu.base_url(), 50);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let creds = Credentials { rest_key: "emulator_rest_key".into(), project_key: "project_emulator".into() };
        let client = Client::new(&emu.base_url(), batchport_api::Version::CURRENT, creds).unwrap();
        let body = serde_json::json!({"export_type": "ATTRIBUTES", "identifiers": ["custom_id"]});
        let driver =
            Driver::new(RetryPolicy::default(), Limiter::unlimited(), tokio_util::sync::CancellationToken::new());
        let id = export::request::create(&client, &body, &driver).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let view = client.get(Endpoint::ExportsView, &[("id", &id)]).await;
        let batchport_api::client::Outcome::Ok { body, .. } = view else { panic!("{view:?}") };
        let view: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(view["status"], "SUCCESS");
        let file_id = view["files"][0]["id"].as_str().unwrap().to_string();
        let stale = client.download_link(&file_id).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = emu.stats().per_endpoint.get("exports/download").copied().unwrap_or(0);
        let sink = std::sync::Arc::new(std::sync::Mutex::new(Collect::default()));
        let got = export::download_part(&client, &file_id, Some(stale), &sink, &driver).await.unwrap();
        assert_eq!(got, export::Fetched::Done(50));
        assert_eq!(sink.lock().unwrap().0.len(), 50);
        let renewals = driver.stats().renewals.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(renewals, 1, "the {expired_link_status} led to one fresh link");
        assert_eq!(emu.stats().per_endpoint.get("exports/download").copied().unwrap_or(0), before + 1);
    });
}

#[test]
fn a_run_killed_while_downloading_resumes_the_same_export() {
    const N: u64 = 2_000;
    // 50 parts, each behind a 25 ms `exports/download`: over a second of downloading.
    let emu =
        crate::common::emulator_process(&["--export-secs", "1", "--export-part-size", "40", "--latency-ms", "25"]);
    seed(&emu.url, N);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", export_job(&emu.url, "profiles.csv"));
    let mut child = batchport(dir.path(), "job.toml").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while per_endpoint(&emu.stats(), "exports/download") < 10 {
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill(); // SIGKILL, mid-download
    let _ = child.wait();
    assert!(dir.path().join("profiles.csv.tmp").exists());
    assert!(!dir.path().join("profiles.csv").exists(), "no half output under the real name");

    let s = run_ok(dir.path(), "job.toml");
    assert_eq!(s["rows_read"], N);
    let stats = emu.stats();
    assert_eq!(per_endpoint(&stats, "profiles/export"), 1, "the killed run's export was resumed");
    // Finished parts were not downloaded again: at most the one cut by the kill.
    let downloads = per_endpoint(&stats, "exports/download");
    assert!((50..=52).contains(&downloads), "{downloads} download links for 50 parts");
    let rows = csv_rows(&dir.path().join("profiles.csv"));
    let ids: HashSet<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!((rows.len() as u64 - 1, ids.len() as u64), (N, N), "each profile once");
    assert!(!dir.path().join("profiles.csv.tmp").exists());
}

#[test]
fn an_export_in_error_exits_1_and_the_next_run_asks_again() {
    let emu = emulator(100, true);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", export_job(&emu.base_url(), "profiles.csv"));
    for attempt in 1..=2 {
        let out = batchport(dir.path(), "job.toml").output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let s = json(&out);
        assert_eq!(s["status"], "failed");
        let err = s["error"].as_str().unwrap();
        assert!(err.contains("ERROR") && err.contains("export_"), "{err}");
        assert!(!dir.path().join("profiles.csv").exists());
        assert_eq!(emu.stats().per_endpoint.get("profiles/export"), Some(&attempt), "a failed export is not resumed");
    }
}

/// The output holds people's profiles: private to its owner by default;
/// `[export] mode` opens it to a group that reads it (issue 36).
#[cfg(unix)]
#[test]
fn the_output_is_private_unless_the_job_gives_a_mode() {
    use std::os::unix::fs::PermissionsExt;
    let emu = emulator(50, false);
    seed(&emu.base_url(), 20);
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &str| std::fs::metadata(dir.path().join(p)).unwrap().permissions().mode() & 0o777;
    write(dir.path(), "exp.toml", export_job(&emu.base_url(), "out.csv"));
    run_ok(dir.path(), "exp.toml");
    assert_eq!(mode("out.csv"), 0o600);
    let with_mode = export_job(&emu.base_url(), "shared.csv").replace("[export]\n", "[export]\nmode = \"0640\"\n");
    write(dir.path(), "shared.toml", with_mode.replace("name = \"exp\"", "name = \"shared\""));
    run_ok(dir.path(), "shared.toml");
    assert_eq!(mode("shared.csv"), 0o640);
    write(dir.path(), "bad.toml", with_mode.replace("0640", "0999"));
    let out = batchport(dir.path(), "bad.toml").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("export.mode `0999`"), "{}", stderr(&out));
}
