//! Personal data at rest (issue 36): what a run and a validate leave behind
//! (the state folder, the store, the change index, rejects, uncertain and
//! partial files) can be read by its owner alone, whatever the umask; an
//! existing state folder open to others gets a warning with the fix.

#![cfg(unix)]

use crate::common::{bin, write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Every path under `root` whose mode lets another account read or enter it.
fn shared(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.permissions().mode() & 0o077 != 0 {
            out.push(format!("{} {:o}", p.display(), meta.permissions().mode() & 0o777));
        }
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    out
}

/// `batchport ARGS` under `umask MASK` (the shell's, as cron's would be).
fn under_umask(dir: &Path, mask: &str, args: &str) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask {mask} && exec \"$0\" {args}"))
        .arg(env!("CARGO_BIN_EXE_batchport"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .env_remove("BATCHPORT_STATE")
        .output()
        .unwrap()
}

#[test]
fn rows_written_to_disk_are_private_to_their_owner_whatever_the_umask() {
    for mask in ["022", "000"] {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        write(dir, "users.csv", "id,email,news\nu1,a@example.com,yes\nu2,not-an-email,no\nu3,c@example.com,maybe\n");
        write(
            dir,
            "job.toml",
            "[job]\nname = \"private\"\nkind = \"profiles\"\nrejects = \"out/rejects\"\n[api]\nbase_url = \"emulator\"\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\nchanged_only = true\n[mapping.native]\nemail_address = \"email\"\nemail_marketing = { column = \"news\", subscribed = [\"yes\"], unsubscribed = [\"no\"] }\n",
        );
        let out = under_umask(dir, mask, "run job.toml --state state");
        assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
        let out = under_umask(dir, mask, "validate job.toml --state state");
        assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::read_dir(dir.join("out/rejects")).unwrap().count() >= 2, "the rejects files were written");
        let open: Vec<String> = shared(&dir.join("state")).into_iter().chain(shared(&dir.join("out"))).collect();
        assert!(open.is_empty(), "umask {mask}: readable by others: {open:#?}");
    }
}

#[test]
fn a_state_folder_open_to_others_is_named_with_the_fix() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    std::fs::create_dir(dir.join("state")).unwrap();
    std::fs::set_permissions(dir.join("state"), std::fs::Permissions::from_mode(0o755)).unwrap();
    write(dir, "users.csv", "id,name\nu1,A\n");
    write(
        dir,
        "job.toml",
        "[job]\nname = \"open\"\nkind = \"profiles\"\n[api]\nbase_url = \"emulator\"\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nname = \"name\"\n",
    );
    let out = bin()
        .args(["run", "job.toml", "--state", "state"])
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("open to other accounts") && err.contains("chmod -R go-rwx"), "{err}");
    // Not changed behind the user's back.
    let mode = std::fs::metadata(dir.join("state")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
}

/// `[job] keep_reports_days`: each run deletes the job's report files older
/// than that (they hold people's rows), and only the job's own.
#[test]
fn old_reports_of_the_job_are_deleted_when_it_runs() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    write(dir, "users.csv", "id,name\nu1,A\n");
    let job = "[job]\nname = \"kept\"\nkind = \"profiles\"\nkeep_reports_days = 30\n[api]\nbase_url = \"emulator\"\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nname = \"name\"\n";
    write(dir, "job.toml", job);
    let reports = dir.join("state/rejects");
    std::fs::create_dir_all(&reports).unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(40 * 86_400);
    for name in [
        "kept-20260101T000000Z-0001-rejects.csv",
        "kept-validate-20260101T000000Z-rejects.csv",
        "kept-b-20260101T000000Z-0002-rejects.csv",
    ] {
        std::fs::write(reports.join(name), "id,_line\n").unwrap();
        std::fs::OpenOptions::new().append(true).open(reports.join(name)).unwrap().set_modified(old).unwrap();
    }
    std::fs::write(reports.join("kept-20261201T000000Z-0003-partial.csv"), "id\n").unwrap();
    let out = bin()
        .args(["run", "job.toml", "--state", "state"])
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("deleted 2 report file(s) of kept older than 30 days"), "{err}");
    let mut left: Vec<String> =
        std::fs::read_dir(&reports).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, ["kept-20261201T000000Z-0003-partial.csv", "kept-b-20260101T000000Z-0002-rejects.csv"]);

    write(dir, "bad.toml", job.replace("= 30", "= 0"));
    let out = bin().args(["validate", "bad.toml"]).current_dir(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("keep_reports_days"));
}
