//! Keys: never to a proxy for loopback, never in what is written or printed,
//! never taken from an arbitrary variable, not needed by the emulator.

use super::process::{EMU_JOB, emulator_job};
use crate::common::{bin, write};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

const KEY: &str = "sk_live_0123456789abcdef";
const PROJECT: &str = "project_0123456789";

/// A server that answers every request 400 with the request's headers in
/// the error message, as some servers and proxies do.
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let answer =
                serde_json::json!({"error_code": "BAD_REQUEST", "error_message": format!("bad request: {head}")});
            let answer = answer.to_string();
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    format!("http://{addr}")
}

fn everything_written(dir: &std::path::Path, out: &std::process::Output) -> Vec<u8> {
    let mut all = out.stdout.clone();
    all.extend_from_slice(&out.stderr);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "job.toml") {
                all.extend(std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    all
}

#[test]
fn an_echoed_key_is_redacted_from_rejects_errors_and_state() {
    let base = echo_server();
    let dir = emulator_job(20);
    let job = EMU_JOB.replace("base_url = \"emulator\"", &format!("base_url = \"{base}\""));
    write(
        dir.path(),
        "job.toml",
        format!("{job}\n").replace("kind = \"profiles\"", "kind = \"profiles\"\nrejects = \"out\""),
    );
    for endpoint in ["mass-update", "update"] {
        let job = std::fs::read_to_string(dir.path().join("job.toml")).unwrap();
        let job = job.replace("[api]\n", &format!("[api]\nendpoint = \"{endpoint}\"\n"));
        write(dir.path(), "job2.toml", job.replace("name = \"quick\"", &format!("name = \"q-{endpoint}\"")));
        let out = bin()
            .args(["run", "job2.toml", "--json", "--state"])
            .arg(dir.path().join("state"))
            .current_dir(dir.path())
            .env("BATCH_REST_KEY", KEY)
            .env("BATCH_PROJECT_KEY", PROJECT)
            .env("BATCHPORT_LOG", "debug")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("rows_rejected") || text.contains("error"), "{text}");
        let all = everything_written(dir.path(), &out);
        let all = String::from_utf8_lossy(&all);
        assert!(all.contains("bad request"), "the echo came back: {endpoint}");
        assert!(!all.contains(KEY), "{endpoint}: the REST key leaked");
        assert!(!all.contains(PROJECT), "{endpoint}: the project key leaked");
    }
}

#[test]
fn a_proxy_never_sees_a_loopback_api() {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let dir = emulator_job(50);
    let mut c = bin();
    for var in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
        c.env(var, &proxy_url);
    }
    let out = c
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .args(["run", "job.toml", "--json", "--state"])
        .arg(dir.path().join("state"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(proxy.accept().is_err(), "a connection reached the proxy");
}

#[test]
fn the_emulator_does_not_need_the_users_keys() {
    let dir = emulator_job(10);
    let out = bin()
        .args(["run", "job.toml", "--json", "--state"])
        .arg(dir.path().join("state"))
        .current_dir(dir.path())
        .env("BATCH_REST_KEY", KEY)
        .env("BATCH_PROJECT_KEY", PROJECT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["rows_sent"], 10, "{s}");
}

#[test]
fn key_variables_must_begin_with_batch() {
    let dir = emulator_job(1);
    for (name, ok) in [("HOME", false), ("BATCH_", false), ("batch_x", false), ("BATCH_STAGING_KEY", true)] {
        for key in ["rest_key_env", "project_key_env"] {
            let job = EMU_JOB.replace("[api]\n", &format!("[api]\n{key} = \"{name}\"\n"));
            write(dir.path(), "job.toml", job);
            let out = bin()
                .args(["validate", "job.toml", "--state"])
                .arg(dir.path().join("state"))
                .current_dir(dir.path())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            if ok {
                assert_eq!(out.status.code(), Some(0), "{name}: {err}");
            } else {
                assert_eq!(out.status.code(), Some(2), "{name}: {err}");
                assert!(err.contains(key) && err.contains("BATCH_") && err.contains("job.toml:"), "{err}");
            }
        }
    }
}
