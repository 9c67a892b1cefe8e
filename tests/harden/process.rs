//! The process around a command: early signals, a closed stderr, colours.

use crate::common::{bin, write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const EMU_JOB: &str = r#"
[job]
name = "quick"
kind = "profiles"
[api]
base_url = "emulator"
[source]
path = "users.csv"
[mapping]
custom_id = "id"
[mapping.attributes]
name = "name"
"#;

/// A folder with `job.toml` (the in-process emulator) and `rows` rows.
pub fn emulator_job(rows: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", EMU_JOB);
    let mut csv = String::from("id,name\n");
    for i in 0..rows {
        csv.push_str(&format!("u{i},name {i}\n"));
    }
    write(dir.path(), "users.csv", csv);
    dir
}

fn run_cmd(dir: &std::path::Path) -> Command {
    let mut c = bin();
    c.args(["run", "job.toml", "--state"]).arg(dir.join("state")).current_dir(dir);
    c
}

/// Wait for `child` at most `secs`; kill it and fail if it hangs.
fn wait(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("the process hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(unix)]
#[test]
fn sigterm_in_the_first_millisecond_exits_130() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let dir = emulator_job(10);
    // The signal is sent before the program's first instruction: blocked in
    // the child from before exec, it is pending when `main` starts.
    let mut c = run_cmd(dir.path());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait(&mut child, 30);
    assert_eq!((status.code(), status.signal()), (Some(130), None));
    // (A signal sent a few milliseconds after spawn races exec and the dynamic
    // loader, before any code of ours runs: not something a test can pin.)
}

#[test]
fn debug_logs_into_a_closed_pipe_neither_panic_nor_hang() {
    let dir = emulator_job(3000);
    let mut child = run_cmd(dir.path())
        .env("BATCHPORT_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `2>&1 | head`: the reader goes away at once.
    drop(child.stderr.take());
    drop(child.stdout.take());
    let status = wait(&mut child, 60);
    assert_eq!(status.code(), Some(0), "{status:?}");
    // And the import itself went through: every row is recorded as sent.
    let out = bin()
        .args(["status", "job.toml", "--json", "--state"])
        .arg(dir.path().join("state"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = &runs[0]["runs"][0];
    assert_eq!((run["status"].as_str(), run["counters"]["rows_sent"].as_u64()), (Some("done"), Some(3000)), "{runs}");
}

#[test]
fn no_colours_when_stderr_is_not_a_terminal() {
    let dir = emulator_job(5);
    let out = run_cmd(dir.path()).env("BATCHPORT_LOG", "debug").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.len() > 100, "debug logs were written");
    assert!(!out.stderr.contains(&0x1b), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn requests_are_counted_across_kills() {
    const KILLS: u64 = 2;
    const CONCURRENCY: u64 = 2;
    let emu = crate::common::emulator_process(&["--latency-ms", "40"]);
    let dir = emulator_job(12_000);
    let job = EMU_JOB.replace(
        "base_url = \"emulator\"",
        &format!("base_url = \"{}\"\nbatch_size = 200\nconcurrency = {CONCURRENCY}", emu.url),
    );
    write(dir.path(), "job.toml", job);
    let importer = || {
        let mut c = run_cmd(dir.path());
        c.arg("--json").env("BATCH_REST_KEY", "emulator_rest_key").env("BATCH_PROJECT_KEY", "project_emulator");
        c
    };
    for _ in 0..KILLS {
        // Killed while it sends (a fixed delay missed the sending on a loaded
        // machine): once a few more requests have reached the emulator.
        let before = emu.stats()["requests"].as_u64().unwrap();
        let mut child = importer().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while emu.stats()["requests"].as_u64().unwrap() < before + 5 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    let out = importer().output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let s = crate::common::json(&out);
    let counted = s["requests"].as_u64().unwrap();
    let received = emu.stats()["requests"].as_u64().unwrap();
    // Only requests in flight at a kill may go uncounted.
    assert!(counted <= received && counted + KILLS * CONCURRENCY >= received, "counted {counted}, received {received}");
    assert!(received > 60, "{received}: 12,000 rows in batches of 200");
}
