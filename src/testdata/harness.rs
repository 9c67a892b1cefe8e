//! What the benches, examples and tests measure or start the same way: a
//! folder's size on disk, peak memory (this process's or a child's), and
//! `batchport emulator` in a process of its own, with its introspection
//! routes (`/_emulator/...`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Bytes in the files under `dir`, recursively (0 for a folder that is not there).
pub fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Peak resident memory of process `pid` in kB, from `/proc` (Linux; 0 elsewhere
/// or once the process is gone).
fn peak_rss_kb_of(pid: u32) -> u64 {
    vm_hwm(&format!("/proc/{pid}/status"))
}

/// Peak resident memory of this process in kB (Linux; 0 elsewhere).
pub fn peak_rss_kb() -> u64 {
    vm_hwm("/proc/self/status")
}

fn vm_hwm(status_file: &str) -> u64 {
    std::fs::read_to_string(status_file)
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Wait for `child`, sampling its peak memory every 20 ms: its output, wall
/// time since `started` and peak resident memory in kB.
pub fn wait_measured(mut child: Child, started: Instant) -> (Output, Duration, u64) {
    let mut peak = 0;
    while matches!(child.try_wait(), Ok(None)) {
        peak = peak.max(peak_rss_kb_of(child.id()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let out = child.wait_with_output().expect("the child's output");
    (out, elapsed, peak)
}

/// `bin ARGS --json --state <dir>/state` in `dir` with the emulator's keys
/// (and `envs`), measured: its JSON summary (null if none), wall time and
/// peak resident memory in kB.
pub fn run_measured(
    bin: &str,
    dir: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (serde_json::Value, Duration, u64) {
    let started = Instant::now();
    let child = std::process::Command::new(bin)
        .args(args)
        .args(["--json", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let (out, elapsed, peak) = wait_measured(child, started);
    (serde_json::from_slice(&out.stdout).unwrap_or_default(), elapsed, peak)
}

/// `batchport emulator` in its own process (as a user runs it); killed when
/// dropped.
pub struct EmulatorProcess {
    child: Child,
    /// Its base URL, from the first line it prints.
    pub url: String,
}

impl EmulatorProcess {
    /// Start `bin emulator --port 0 FLAGS...` and read its URL.
    pub fn start(bin: &str, flags: &[&str]) -> EmulatorProcess {
        let mut all = vec!["--port", "0"];
        all.extend_from_slice(flags);
        EmulatorProcess::try_start(bin, &all).expect("the emulator starts")
    }

    /// Start `bin emulator ARGS...` (`--port` among them); `None` when it does
    /// not come up (its port is taken).
    pub fn try_start(bin: &str, args: &[&str]) -> Option<EmulatorProcess> {
        let mut child = Command::new(bin)
            .arg("emulator")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator's binary runs");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
        let url = line.trim().rsplit(' ').next().unwrap_or_default().to_string();
        if url.starts_with("http://127.0.0.1:") {
            Some(EmulatorProcess { child, url })
        } else {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port in the URL")
    }

    /// `GET path` (an introspection route), its JSON body.
    fn get(&self, path: &str) -> serde_json::Value {
        let addr = self.url.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).expect("the emulator answers");
        write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("a request");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("an answer");
        let body = text.split_once("\r\n\r\n").map_or("", |b| b.1);
        serde_json::from_str(body).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }

    /// Custom ID → how many operations it received (`/_emulator/received`).
    pub fn received(&self) -> HashMap<String, u64> {
        serde_json::from_value(self.get("/_emulator/received")).expect("a map of counts")
    }

    /// Its counters (`/_emulator/stats`: requests, updates, 429s...).
    pub fn stats(&self) -> serde_json::Value {
        self.get("/_emulator/stats")
    }

    /// Requests it answered so far (`stats().requests`).
    pub fn requests(&self) -> u64 {
        self.stats()["requests"].as_u64().unwrap_or(0)
    }

    /// What it holds for `custom_id` (`/_emulator/profiles/ID`).
    pub fn profile(&self, custom_id: &str) -> serde_json::Value {
        self.get(&format!("/_emulator/profiles/{custom_id}"))
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kill `child` (SIGKILL) once `requests()` (the emulator's count) reaches
/// `before + more`, so the kill lands while the run sends, however slow the
/// machine (a fixed delay can land before the first request or after the
/// last). Returns whether the kill landed mid-run: `false` when the child
/// ended by itself first, or `timeout` passed (it is killed then too).
pub fn kill_after_requests(
    child: &mut Child,
    requests: impl Fn() -> u64,
    before: u64,
    more: u64,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    let landed = loop {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break false;
        }
        if requests() >= before + more {
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = child.kill();
    let _ = child.wait();
    landed
}
