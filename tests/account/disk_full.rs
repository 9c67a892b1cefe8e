//! A state disk that fills mid-run (issue 25, point 4): the summary counts
//! what was sent, and no acknowledged row is forgotten by the change index,
//! whichever write failed. A real full disk: a small tmpfs mounted over the
//! state folder (needs root, as `.ci/run` has; elsewhere the test says it
//! did not run).

use super::{drop_file, emulator, run, summary};
use crate::common::write;
use batchport::EmulatorConfig;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size` over `dir`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn grow(&self, size: &str) {
        let out = Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(&self.0).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

#[test]
fn a_full_state_disk_keeps_the_counts_and_every_acknowledgement() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&dir.path().join("state"), "400k") else {
        eprintln!("SKIPPED a_full_state_disk_keeps_the_counts_and_every_acknowledgement: `mount -t tmpfs` needs root");
        return;
    };
    let rows = 40_000;
    let mut csv = String::from("id,tier\n");
    for i in 0..rows {
        csv.push_str(&format!("u{i},t{}\n", i % 7));
    }
    drop_file(dir.path(), "users.csv", &csv, 0);
    write(
        dir.path(),
        "job.toml",
        format!(
            "[job]\nname = \"full\"\nkind = \"profiles\"\n[api]\nbase_url = \"{}\"\nbatch_size = 1000\nconcurrency = 2\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\nchanged_only = true\n[mapping.attributes]\ntier = \"tier\"\n",
            emu.base_url()
        ),
    );

    // The disk fills part way: the run fails, and says what it sent.
    let s = summary(&run(dir.path(), "job.toml"), 1);
    let received = emu.stats().operations;
    let sent = s["rows_sent"].as_u64().unwrap();
    assert!(s["error"].as_str().unwrap().contains("No space left on device"), "{s}");
    assert!(sent > 0 && sent < rows, "the disk filled part way: {s}");
    // Acknowledged but never settled: at most the batches in flight (two) and
    // the one whose settlement failed.
    assert!(sent <= received && received - sent <= 3 * 1000, "sent {sent}, Batch received {received}: {s}");

    // Room again: the run resumes and ends with every row in Batch.
    disk.grow("64m");
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(s["status"], "done", "{s}");
    assert_eq!(emu.received_all().len() as u64, rows, "every ID reached Batch");
    let resent = emu.stats().operations - rows;
    assert!(resent <= 3 * 1000, "resent only what was in flight: {resent}");

    // The next night, the same rows: every acknowledgement is in the change
    // index, so nothing is sent (before the fix, the rows whose index write
    // failed after their ledger record were sent again).
    emu.reset();
    drop_file(dir.path(), "users.csv", &csv, 1);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!((s["rows_sent"].as_u64(), s["rows_unchanged"].as_u64()), (Some(0), Some(rows)), "{s}");
    assert_eq!(emu.stats().operations, 0);
}
