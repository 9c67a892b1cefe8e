//! `schedule` takes every kind `run` takes, exports included.

use crate::common::{bin, write};
use batchport_emulator::{Emulator, EmulatorConfig};
use std::time::Duration;

#[test]
fn schedule_runs_an_export_job() {
    let emu = Emulator::start_background(EmulatorConfig {
        export_duration: Duration::from_millis(100),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "jobs/exp.toml",
        format!(
            "[job]\nname = \"exp\"\nkind = \"export\"\nschedule = \"0 3 * * *\"\n[api]\nbase_url = \"{}\"\n[export]\ntype = \"attributes\"\nidentifiers = [\"custom_id\"]\noutput = \"out.csv\"\n",
            emu.base_url()
        ),
    );
    let out = bin()
        .args(["schedule", "jobs", "--json", "--once", "--now", "2026-11-27T03:00:00Z", "--state"])
        .arg(dir.path().join("state"))
        .current_dir(dir.path())
        .env("TZ", "UTC")
        .env("BATCHPORT_EXPORT_POLL_MS", "20")
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    let s: serde_json::Value = serde_json::from_str(stdout.lines().next().expect("one summary")).unwrap();
    assert_eq!((s["job"].as_str(), s["status"].as_str()), (Some("exp"), Some("done")), "{s}");
    assert!(dir.path().join("jobs/out.csv").exists());
}
