//! Sources and export outputs in an object store, against a real
//! S3-compatible server (s3s-fs, on 127.0.0.1, files in a temp dir) started
//! by each test: a glob of gzipped parts, a kill mid-object resumed by a
//! range read (the bytes the server served are counted), an object replaced
//! mid-run, missing credentials, an export uploaded in multipart.

use crate::common::{bin, csv_rows, json, write};
use batchport_emulator::{Emulator, EmulatorConfig};
use batchport_testdata as testdata;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const KEY_ID: &str = "batchport-test";
const SECRET: &str = "batchport-test-secret";
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the gate does with object bodies once `limit` bytes were served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Open,
    /// Hold the body (the client waits, as on a slow network).
    Stall,
    /// Break the connection mid-body, once.
    Cut,
    /// Break it every `step` bytes served (a flaky network over a long read).
    CutEvery,
}

/// Counts and controls the object bytes the server sends (whole chunks only:
/// a held body resumes exactly where it stopped).
struct Gate {
    served: AtomicU64,
    limit: AtomicU64,
    /// `Mode::CutEvery`'s distance between cuts.
    step: AtomicU64,
    mode: watch::Sender<Mode>,
    held: AtomicBool,
}

impl Gate {
    /// Before sending a chunk: `false` to break the connection.
    async fn pass(&self) -> bool {
        let mut rx = self.mode.subscribe();
        loop {
            let mode = *rx.borrow_and_update();
            if mode == Mode::Open || self.served.load(SeqCst) < self.limit.load(SeqCst) {
                return true;
            }
            if mode == Mode::CutEvery {
                self.limit.fetch_add(self.step.load(SeqCst), SeqCst);
                return false;
            }
            self.held.store(true, SeqCst);
            if mode == Mode::Cut {
                // Cut once: the client's next request is answered.
                self.mode.send_replace(Mode::Open);
                return false;
            }
            if rx.changed().await.is_err() {
                return false;
            }
        }
    }
}

/// A request the server saw: method, path and query, `Range`.
type Seen = (String, String, Option<String>);

/// s3s-fs on 127.0.0.1 with one bucket, fronted by a layer that counts and
/// gates object bodies and logs requests.
struct S3 {
    _rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    root: tempfile::TempDir,
    gate: Arc<Gate>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl S3 {
    fn start(bucket: &str) -> S3 {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(bucket)).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (mode, _) = watch::channel(Mode::Open);
        let gate = Arc::new(Gate {
            served: AtomicU64::new(0),
            limit: AtomicU64::new(u64::MAX),
            step: AtomicU64::new(0),
            mode,
            held: false.into(),
        });
        let seen = Arc::new(Mutex::new(Vec::new()));
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut b = s3s::service::S3ServiceBuilder::new(fs);
        b.set_auth(s3s::auth::SimpleAuth::from_single(KEY_ID, SECRET));
        let service = b.build();
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let (g, s) = (gate.clone(), seen.clone());
        rt.spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                let (service, gate, seen) = (service.clone(), g.clone(), s.clone());
                let handler = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let (service, gate, seen) = (service.clone(), gate.clone(), seen.clone());
                    serve(service, gate, seen, req)
                });
                tokio::spawn(async move {
                    let conn = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                    let _ = conn.serve_connection(hyper_util::rt::TokioIo::new(socket), handler).await;
                });
            }
        });
        S3 { _rt: rt, addr, root, gate, seen }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Put an object by writing the server's file (as another writer would).
    fn put(&self, bucket: &str, key: &str, bytes: &[u8]) -> PathBuf {
        write(&self.root.path().join(bucket), key, bytes)
    }

    fn served(&self) -> u64 {
        self.gate.served.load(SeqCst)
    }

    /// Start counting afresh, every object body open. Bodies still held for a
    /// killed client are cut first, so that they do not count.
    fn reset(&self) {
        self.gate.mode.send_replace(Mode::Cut);
        std::thread::sleep(Duration::from_millis(200));
        self.gate.served.store(0, SeqCst);
        self.gate.limit.store(u64::MAX, SeqCst);
        self.gate.held.store(false, SeqCst);
        self.gate.mode.send_replace(Mode::Open);
        self.seen.lock().unwrap().clear();
    }

    fn gate_at(&self, bytes: u64, mode: Mode) {
        self.gate.limit.store(bytes, SeqCst);
        self.gate.mode.send_replace(mode);
    }

    fn wait_held(&self) {
        let t0 = Instant::now();
        while !self.gate.held.load(SeqCst) {
            assert!(t0.elapsed() < Duration::from_secs(60), "the reader never reached the gate");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(
    service: s3s::service::S3Service,
    gate: Arc<Gate>,
    seen: Arc<Mutex<Vec<Seen>>>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<UnsyncBoxBody<Bytes, BoxError>>, BoxError> {
    let range = req.headers().get("range").and_then(|v| v.to_str().ok()).map(str::to_string);
    let target = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let object_get = req.method() == hyper::Method::GET
        && req.uri().query().is_none()
        && req.uri().path().trim_start_matches('/').contains('/');
    seen.lock().unwrap().push((req.method().to_string(), target, range));
    let resp = match hyper::service::Service::call(&service, req).await {
        Ok(resp) => resp,
        Err(e) => return Err(BoxError::from(format!("{e:?}"))),
    };
    Ok(resp.map(|body| {
        if !object_get {
            return body.map_err(|e| -> BoxError { e.to_string().into() }).boxed_unsync();
        }
        let chunks = Box::pin(body.into_data_stream());
        let frames = futures_util::stream::unfold((chunks, gate), |(mut chunks, gate)| async move {
            let chunk = chunks.next().await?;
            let item = match chunk {
                Ok(bytes) if gate.pass().await => {
                    gate.served.fetch_add(bytes.len() as u64, SeqCst);
                    Ok(Frame::data(bytes))
                }
                Ok(_) => Err(BoxError::from("cut by the test")),
                Err(e) => Err(BoxError::from(e.to_string())),
            };
            Some((item, (chunks, gate)))
        });
        StreamBody::new(frames).boxed_unsync()
    }))
}

/// `batchport ARGS` with keys for the test server and no other AWS setting.
fn aws(dir: &Path, keys: bool) -> Command {
    let mut c = bin();
    for v in ["AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"]
    {
        c.env_remove(v);
    }
    c.current_dir(dir)
        .env("HOME", dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator");
    if keys {
        c.env("AWS_ACCESS_KEY_ID", KEY_ID).env("AWS_SECRET_ACCESS_KEY", SECRET);
    } else {
        c.env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SECRET_ACCESS_KEY");
    }
    c
}

fn run(dir: &Path) -> Command {
    let mut c = aws(dir, true);
    c.args(["run", "job.toml", "--json", "--state"]).arg(dir.join("state"));
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A profiles job reading `url` from the test server, batches of 200.
fn job(dir: &Path, name: &str, url: &str, s3: &S3, emu: &str) {
    let api = format!("base_url = \"{emu}\"\nbatch_size = 200\nconcurrency = 2");
    let text = testdata::profiles_job(name, url, &api)
        .replace(&format!("path = \"{url}\"\n"), &format!("path = \"{url}\"\nendpoint = \"{}\"\n", s3.endpoint()));
    write(dir, "job.toml", text);
}

/// `rows` generated profiles (ids `u0`...), header included.
fn profiles(rows: u64, seed: u64) -> Vec<u8> {
    let mut csv = Vec::new();
    testdata::write_profiles(&mut csv, rows, seed, 0).unwrap();
    csv
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn emulator() -> Emulator {
    Emulator::start_background(EmulatorConfig {
        export_duration: Duration::from_millis(200),
        export_part_size: 150,
        ..EmulatorConfig::default()
    })
    .unwrap()
}

#[test]
fn a_glob_of_five_gzipped_parts_is_listed_sorted_read_and_sent_once() {
    let s3 = S3::start("unload");
    let emu = emulator();
    let all = profiles(1_000, 7);
    let text = String::from_utf8(all).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let rows: Vec<&str> = lines.collect();
    // Parts written out of order; a part in a sub-folder and another name stay out.
    for (i, part) in rows.chunks(200).enumerate().rev() {
        let csv = format!("{header}\n{}\n", part.join("\n"));
        s3.put("unload", &format!("exports/users-{i:04}.csv.gz"), &gzip(csv.as_bytes()));
    }
    s3.put("unload", "exports/sub/users-9999.csv.gz", &gzip(b"custom_id\nnot-me\n"));
    s3.put("unload", "exports/orders-0000.csv.gz", &gzip(b"custom_id\nnot-me\n"));
    let dir = tempfile::tempdir().unwrap();
    job(dir.path(), "unload", "s3://unload/exports/users-*.csv.gz", &s3, &emu.base_url());

    let v = aws(dir.path(), true).args(["validate", "job.toml", "--json"]).output().unwrap();
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert_eq!(json(&v)["rows_valid"], 1_000);
    s3.reset();

    let out = run(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = json(&out);
    assert_eq!(s["rows_read"], 1_000, "{s}");
    assert_eq!(s["rows_sent"], 1_000, "{s}");
    let got = emu.received_all();
    assert_eq!(got.len(), 1_000);
    assert!(got.values().all(|&n| n == 1));
    assert!(!got.contains_key("not-me"));
    // Parts are read in key order, twice: the header check before the run
    // (the head window of each), then the run itself.
    let gets: Vec<String> =
        s3.seen().into_iter().filter(|(m, p, _)| m == "GET" && p.contains("/users-")).map(|(_, p, _)| p).collect();
    assert_eq!(gets.len(), 10, "{gets:?}");
    for pass in gets.chunks(5) {
        let mut sorted = pass.to_vec();
        sorted.sort();
        assert_eq!(pass, sorted, "parts read in order");
    }

    // `init` samples the head of the first object.
    let init = aws(dir.path(), true)
        .env("AWS_ENDPOINT_URL", s3.endpoint())
        .args(["init", "s3://unload/exports/users-*.csv.gz"])
        .output()
        .unwrap();
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let toml = String::from_utf8_lossy(&init.stdout);
    assert!(toml.contains("path = \"s3://unload/exports/users-*.csv.gz\""), "{toml}");
    assert!(toml.contains("custom_id"), "{toml}");
}

#[test]
fn a_run_killed_mid_object_resumes_with_a_range_read_of_the_rest() {
    const ROWS: u64 = 20_000;
    let s3 = S3::start("dumps");
    let emu = emulator();
    let csv = profiles(ROWS, 11);
    let size = csv.len() as u64;
    s3.put("dumps", "nightly/users.csv", &csv);
    let dir = tempfile::tempdir().unwrap();
    job(dir.path(), "nightly", "s3://dumps/nightly/users.csv", &s3, &emu.base_url());

    // The server holds the body past 60%: the run sends and settles what it
    // read, then waits; it is killed there.
    s3.gate_at(size * 6 / 10, Mode::Stall);
    let mut child = run(dir.path()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    s3.wait_held();
    let mut last = usize::MAX;
    loop {
        std::thread::sleep(Duration::from_millis(400));
        let n = emu.received_all().len();
        if n == last {
            break;
        }
        last = n;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = emu.received_all().len() as u64;
    assert!(before > ROWS / 3, "{before} rows sent before the kill");

    s3.reset();
    let out = run(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = emu.received_all();
    assert_eq!(got.len() as u64, ROWS, "every row arrived");
    // The resume read the head window, then only the rest from a settled offset.
    let ranges: Vec<String> =
        s3.seen().into_iter().filter_map(|(m, _, r)| (m == "GET").then_some(r).flatten()).collect();
    let rest: u64 = ranges
        .iter()
        .filter_map(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
        .min()
        .unwrap_or_else(|| panic!("no open range read: {ranges:?}"));
    assert!(rest >= size / 3, "resumed from byte {rest} of {size}: {ranges:?}");
    eprintln!("resumed from byte {rest} of {size}: the server sent {} bytes ({ranges:?})", s3.served());
    // The head window twice (the header check before the run, then the
    // reader's open), then only the rest.
    let head = 128 * 1024;
    assert!(s3.served() <= 2 * head + (size - rest), "served {} for a rest of {}", s3.served(), size - rest);
    assert!(s3.served() < size * 7 / 10, "served {} of {size}", s3.served());
}

/// Issue 26, point 10: a long read over a flaky network. Each broken
/// connection resumes with a range read; one that made progress starts the
/// retry count afresh, so more drops than the retry limit (10) over the
/// whole object do not fail the run.
#[test]
fn an_object_read_through_many_dropped_connections_is_imported_whole() {
    let s3 = S3::start("dumps");
    let emu = emulator();
    let csv = profiles(30_000, 5);
    let size = csv.len() as u64;
    s3.put("dumps", "users.csv", &csv);
    let dir = tempfile::tempdir().unwrap();
    job(dir.path(), "flaky", "s3://dumps/users.csv", &s3, &emu.base_url());
    s3.gate.step.store(size / 14, SeqCst);
    s3.gate_at(size / 14, Mode::CutEvery);
    let out = run(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = json(&out);
    assert_eq!(s["rows_sent"], 30_000, "{s}");
    let ranged = s3.seen().iter().filter(|(m, _, r)| m == "GET" && r.is_some()).count();
    assert!(ranged >= 12, "the connection was cut at least 12 times ({ranged} range reads)");
}

#[test]
fn an_object_replaced_mid_run_fails_the_run_clearly() {
    let s3 = S3::start("dumps");
    let emu = emulator();
    let csv = profiles(10_000, 3);
    let size = csv.len() as u64;
    s3.put("dumps", "users.csv", &csv);
    let dir = tempfile::tempdir().unwrap();
    job(dir.path(), "replaced", "s3://dumps/users.csv", &s3, &emu.base_url());

    s3.gate_at(size / 2, Mode::Stall);
    let child = run(dir.path()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    s3.wait_held();
    // Another writer replaces the object; the connection then breaks, and the
    // retry (a range read with If-Match) finds another version.
    s3.put("dumps", "users.csv", &profiles(11_000, 4));
    s3.gate_at(size / 2, Mode::Cut);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("s3://dumps/users.csv changed while the run read it"), "{err}");
    assert!(err.contains("rerun to start over"), "{err}");
}

#[test]
fn missing_credentials_exit_2_with_a_clear_message() {
    let s3 = S3::start("dumps");
    let emu = emulator();
    s3.put("dumps", "users.csv", &profiles(10, 1));
    let dir = tempfile::tempdir().unwrap();
    job(dir.path(), "nokeys", "s3://dumps/users.csv", &s3, &emu.base_url());
    for args in [&["run", "job.toml"][..], &["validate", "job.toml"][..]] {
        let out = aws(dir.path(), false).args(args).arg("--state").arg(dir.path().join("state")).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("no AWS credentials"), "{err}");
        assert!(err.contains("never go in the job file"), "{err}");
    }
    assert!(s3.seen().is_empty(), "nothing reached the server");
}

/// `rows` generated profiles imported into `emu`, then `job.toml`: an export
/// of their `first_name` to `url`.
fn export_job(dir: &Path, emu: &Emulator, rows: u64, url: &str) {
    write(dir, "users.csv", profiles(rows, 5));
    write(dir, "seed.toml", testdata::profiles_job("seed", "users.csv", &format!("base_url = \"{}\"", emu.base_url())));
    let seed = aws(dir, false).args(["run", "seed.toml", "--state"]).arg(dir.join("state")).output();
    assert_eq!(seed.unwrap().status.code(), Some(0));
    write(
        dir,
        "job.toml",
        format!(
            "[job]\nname = \"exp\"\nkind = \"export\"\n[api]\nbase_url = \"{}\"\n[export]\ntype = \"attributes\"\n\
             identifiers = [\"custom_id\"]\nattributes = [\"first_name\"]\noutput = \"{url}\"\n",
            emu.base_url()
        ),
    );
}

#[test]
fn an_export_to_s3_is_one_multipart_upload_completed_at_the_end() {
    let s3 = S3::start("exports");
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    export_job(dir.path(), &emu, 300, "s3://exports/batch/profiles.csv");
    let out = run(dir.path()).env("BATCHPORT_EXPORT_POLL_MS", "50").env("AWS_ENDPOINT_URL", s3.endpoint()).output();
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = csv_rows(&s3.root.path().join("exports/batch/profiles.csv"));
    assert_eq!(rows[0], ["custom_id", "first_name"]);
    assert_eq!(rows.len(), 301);
    let seen = s3.seen();
    let create = seen.iter().position(|(m, p, _)| m == "POST" && p.ends_with("?uploads="));
    let complete = seen.iter().position(|(m, p, _)| m == "POST" && p.contains("uploadId="));
    assert!(matches!((create, complete), (Some(a), Some(b)) if a < b), "{seen:?}");
}

/// A failed upload leaves no copy of the export behind in the temp folder
/// (issue 36): the rows are people's profiles.
#[test]
fn a_failed_export_upload_leaves_no_temp_file() {
    let s3 = S3::start("exports");
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    export_job(dir.path(), &emu, 50, "s3://exports/profiles.csv");
    let tmp = tempfile::tempdir().unwrap();
    let out = run(dir.path())
        .env("BATCHPORT_EXPORT_POLL_MS", "50")
        .env("AWS_ENDPOINT_URL", s3.endpoint())
        .env("TMPDIR", tmp.path())
        // The store refuses the upload (a wrong secret: 403).
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!s3.root.path().join("exports/profiles.csv").exists());
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn verify_reads_an_object_glob_as_run_does_and_repairs_from_it() {
    let s3 = S3::start("verify");
    let emu = Emulator::start_background(EmulatorConfig {
        export_duration: Duration::from_millis(100),
        export_part_size: 150,
        faults: batchport_emulator::Faults { drop_ids: vec!["u5".into(), "u450".into()], ..Default::default() },
        ..EmulatorConfig::default()
    })
    .unwrap();
    let text = String::from_utf8(profiles(600, 3)).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let rows: Vec<&str> = lines.collect();
    for (i, part) in rows.chunks(300).enumerate() {
        let csv = format!("{header}\n{}\n", part.join("\n"));
        s3.put("verify", &format!("in/users-{i}.csv.gz"), &gzip(csv.as_bytes()));
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    job(d, "objects", "s3://verify/in/users-*.csv.gz", &s3, &emu.base_url());
    let out = run(d).output().unwrap();
    assert_eq!((out.status.code(), json(&out)["rows_sent"].as_u64()), (Some(0), Some(600)), "{}", stderr(&out));
    let verify = |extra: &[&str]| {
        let out = aws(d, true)
            .args(["verify", "job.toml", "--json", "--state"])
            .arg(d.join("state"))
            .args(extra)
            .env(batchport_engine::export::POLL_ENV, "30")
            .output()
            .unwrap();
        (out.status.code(), json(&out))
    };
    let (code, v) = verify(&[]);
    assert_eq!((code, v["profiles_missing"].as_u64()), (Some(3), Some(2)), "{v}");
    let diffs = csv_rows(Path::new(v["differences_file"].as_str().unwrap()));
    let mut found: Vec<(String, String, String)> =
        diffs[1..].iter().map(|r| (r[0].clone(), r[1].clone(), r[2].clone())).collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("s3://verify/in/users-0.csv.gz".to_string(), "7".to_string(), "u5".to_string()),
            ("s3://verify/in/users-1.csv.gz".into(), "152".into(), "u450".into())
        ]
    );
    let (code, v) = verify(&["--repair"]);
    assert_eq!((code, v["repair"]["rows_sent"].as_u64()), (Some(3), Some(2)), "{v}");
    assert_eq!(verify(&[]).0, Some(0));
}
