//! An edited job (issue 26, point 6): a run never resumes under another
//! mapping, and an edited mapping of an unchanged file sends every row once.

use super::{emulator, run, summary};
use crate::common::write;
use batchport::EmulatorConfig;
use std::path::Path;

fn job(dir: &Path, url: &str, attributes: &str) {
    write(
        dir,
        "job.toml",
        format!(
            "[job]\nname = \"edited\"\nkind = \"profiles\"\n[api]\nbase_url = \"{url}\"\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\n{attributes}\n"
        ),
    );
}

#[test]
fn an_unfinished_run_refuses_to_resume_under_an_edited_mapping() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "users.csv", "id,tier,plan\nu1,gold,a\nu2,silver,b\n");
    // A destination that is down: the run fails, unfinished, progress kept.
    let dead = "http://127.0.0.1:9";
    job(dir.path(), dead, "tier = \"tier\"");
    let out = run(dir.path(), "job.toml");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    // The mapping edited: the run is not resumed under it.
    job(dir.path(), dead, "tier = \"plan\"");
    let out = run(dir.path(), "job.toml");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[mapping]") && err.contains("changed") && err.contains("reset"), "{err}");
    // Layout and comments are not the mapping: the run resumes.
    write(
        dir.path(),
        "job.toml",
        std::fs::read_to_string(dir.path().join("job.toml"))
            .unwrap()
            .replace("tier = \"plan\"", "# edited\ntier   =   \"tier\""),
    );
    let out = run(dir.path(), "job.toml");
    assert_eq!(out.status.code(), Some(1), "resumed, and failed again on the dead server");
}

#[test]
fn an_edited_mapping_of_an_unchanged_file_sends_every_row_once() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "users.csv", "id,tier,plan\nu1,gold,a\nu2,silver,b\n");
    job(dir.path(), &emu.base_url(), "tier = \"tier\"");
    let received = || emu.received("u1") + emu.received("u2");
    summary(&run(dir.path(), "job.toml"), 0);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(received(), 2, "unchanged: already imported: {s}");
    job(dir.path(), &emu.base_url(), "tier = \"tier\"\nplan = \"plan\"");
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!((s["rows_sent"].as_u64(), received()), (Some(2), 4), "{s}");
    assert_eq!(emu.profile("u2").unwrap()["attributes"]["plan"], "b");
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(received(), 4, "then already imported again: {s}");
}
