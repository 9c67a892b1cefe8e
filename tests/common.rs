//! Helpers shared by the integration tests: the built binary, temp dirs, files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_batchport");

/// `batchport emulator --port 0 FLAGS...` in its own process (it outlives
/// every kill of the importer); killed on drop.
pub fn emulator_process(flags: &[&str]) -> batchport_testdata::harness::EmulatorProcess {
    batchport_testdata::harness::EmulatorProcess::start(BIN, flags)
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_batchport"));
    // Never let a developer's own state or keys leak into a test.
    c.env_remove("BATCHPORT_STATE").env_remove("BATCH_REST_KEY").env_remove("BATCH_PROJECT_KEY");
    c
}

/// Run `batchport ARGS` with `--state <dir>/state`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    let mut c = bin();
    c.args(args).arg("--state").arg(dir.join("state")).current_dir(dir);
    c.output().expect("the binary runs")
}

/// `batchport ARGS --state <dir>/state` with the emulator's keys in the environment.
pub fn keyed(dir: &Path, args: &[&str]) -> Output {
    bin()
        .args(args)
        .arg("--state")
        .arg(dir.join("state"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .output()
        .unwrap()
}

pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Write `name` as a new version of the file (tomorrow's dump): its mtime set
/// a second past the old one's, so that a rerun sees another file even where
/// two writes land in one tick of the clock or the filesystem keeps seconds
/// (a same-size, same-content rewrite is otherwise the same file).
pub fn rewrite(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    let old = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    write(dir, name, bytes);
    let now = std::time::SystemTime::now();
    let later = old.map_or(now, |t| (t + std::time::Duration::from_secs(1)).max(now));
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
    path
}

pub fn json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!("stdout is one JSON object ({e}): {text}\nstderr: {}", String::from_utf8_lossy(&out.stderr))
    })
}

/// Rows of a CSV file as strings (lossy), header first.
pub fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(path).unwrap();
    r.byte_records().map(|rec| rec.unwrap().iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()).collect()
}

/// A loopback port where nothing listens, and stays so while the guard
/// lives: a socket bound to it that never listens (connecting gets
/// "connection refused"). A port merely found free could be taken by
/// another test's server before use.
pub struct ClosedPort {
    fd: i32,
    /// The port.
    pub port: u16,
}

impl ClosedPort {
    pub fn new() -> ClosedPort {
        // SAFETY: plain socket calls on a socket this function owns; the
        // address structures are zeroed and sized as the calls expect.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0, "a socket");
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            assert_eq!(libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len), 0, "bind");
            let mut got: libc::sockaddr_in = std::mem::zeroed();
            let mut got_len = len;
            assert_eq!(libc::getsockname(fd, &mut got as *mut _ as *mut libc::sockaddr, &mut got_len), 0);
            ClosedPort { fd, port: u16::from_be(got.sin_port) }
        }
    }
}

impl Drop for ClosedPort {
    fn drop(&mut self) {
        // SAFETY: closes the socket `new` opened, once.
        unsafe { libc::close(self.fd) };
    }
}
