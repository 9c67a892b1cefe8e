//! Job files: names that would escape `jobs/`, schedules that never fire,
//! type errors that name their key.

use super::process::EMU_JOB;
use crate::common::{run_in, write};

fn validate(job: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", job);
    write(dir.path(), "users.csv", "id,name\nu1,A\n");
    let out = run_in(dir.path(), &["validate", "job.toml"]);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn job_names_dot_dotdot_and_slashes_are_refused() {
    for bad in [".", "..", "a/b", "../x", ".hidden", "a\\\\b"] {
        let (code, err) = validate(&EMU_JOB.replace("name = \"quick\"", &format!("name = \"{bad}\"")));
        assert_eq!(code, Some(2), "{bad}: {err}");
        assert!(err.contains("job.name"), "{err}");
    }
    let (code, err) = validate(&EMU_JOB.replace("name = \"quick\"", "name = \"v1.2-nightly\""));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_schedule_that_can_never_fire_is_refused() {
    let with =
        |cron: &str| EMU_JOB.replace("kind = \"profiles\"", &format!("kind = \"profiles\"\nschedule = \"{cron}\""));
    let (code, err) = validate(&with("0 0 30 2 *"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("never fire") && err.contains("job.toml:"), "{err}");
    let (code, err) = validate(&with("0 0 29 2 *"));
    assert_eq!(code, Some(0), "leap days do come: {err}");
}

#[test]
fn a_type_error_names_its_key() {
    let job = EMU_JOB.replace("[api]\n", "[api]\nbatch_size = \"100\"\n");
    let (code, err) = validate(&job);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("api.batch_size") && err.contains("expected usize"), "{err}");
}

#[test]
fn status_and_reset_with_a_missing_state_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", EMU_JOB);
    for args in [&["status"][..], &["status", "job.toml"], &["reset", "job.toml"], &["reset", "job.toml", "--delta"]] {
        let out = crate::common::bin()
            .args(args)
            .arg("--state")
            .arg(dir.path().join("typo"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!dir.path().join("typo").exists(), "{args:?} created a store");
    }
}

#[test]
fn a_job_that_does_not_fit_the_file_exits_2_from_run_with_nothing_recorded() {
    let cases: [(&str, &[u8]); 3] = [
        ("missing column", b"id,nom\nu1,A\n"),
        ("duplicate mapped header", b"id,name,name\nu1,A,B\n"),
        ("binary file", b"\x7fELF\x02\x01\x01\x00\x00\x00,\n\x00"),
    ];
    for (what, data) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "job.toml", EMU_JOB);
        write(dir.path(), "users.csv", data);
        for cmd in ["validate", "run"] {
            let out = run_in(dir.path(), &[cmd, "job.toml"]);
            assert_eq!(out.status.code(), Some(2), "{what}, {cmd}: {}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(!dir.path().join("state/jobs").exists(), "{what}: a run was recorded");
    }
}

/// A job file saved by a Windows editor as "Unicode" (UTF-16) or in another
/// encoding is named as such, with what to do (exit 2); one with a UTF-8
/// byte order mark and CRLF line ends is read.
#[test]
fn a_job_file_that_is_not_utf8_says_how_to_save_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "users.csv", "id,name\nu1,A\n");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(EMU_JOB.encode_utf16().flat_map(u16::to_le_bytes));
    write(dir.path(), "job.toml", &utf16);
    let out = run_in(dir.path(), &["validate", "job.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("job.toml: it is saved as UTF-16") && err.contains("save it as UTF-8"), "{err}");
    let crlf = format!("\u{feff}{}", EMU_JOB.replace('\n', "\r\n"));
    let (code, err) = validate(&crlf);
    assert_eq!(code, Some(0), "{err}");
}
