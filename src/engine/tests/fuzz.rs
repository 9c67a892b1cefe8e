//! A fuzz target without cargo-fuzz: proptest over the reader, the transform
//! and the rejects writer. Any bytes (mostly CSV-shaped, hostile: quotes,
//! delimiters, CR, LF, BOMs, invalid UTF-8, NULs, ragged rows, gzip, cut
//! gzip), any job mapping: every row read comes out as an operation or a
//! reject, nothing panics, and the rejects file parses back with the header's
//! width plus `_line,_column,_reason,_raw` on every row.
//!
//! In CI it runs a bounded number of cases (a few seconds). For a long run:
//! `BATCHPORT_FUZZ_CASES=200000 cargo test -p batchport-engine --test engine fuzz -- --nocapture`;
//! `FUZZ_DEBUG=1` prints why cases stopped early (job, open or bind errors).

use batchport_engine::pipeline;
use batchport_engine::report::RejectsWriter;
use batchport_source::{CsvSource, Delimiter, SourceOptions};
use batchport_transform::{Mapped, Transformer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Cases that reached the transform, and the rows and rejects they gave: a
/// harness that never gets past `open` would test nothing.
static BOUND: AtomicU64 = AtomicU64::new(0);
static ROWS: AtomicU64 = AtomicU64::new(0);
static REJECTS: AtomicU64 = AtomicU64::new(0);

/// Cells that break naive CSV handling.
fn cell() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[a-z0-9@.+ -]{0,8}".prop_map(String::into_bytes),
        1 => Just(b"\"".to_vec()),
        1 => Just(b"\"Bo\"b".to_vec()),
        1 => Just(b"\"a,b\"".to_vec()),
        1 => Just(b"\"x\ny\"".to_vec()),
        1 => Just(b"\xef\xbb\xbfid".to_vec()),
        1 => Just(b"caf\xe9".to_vec()),
        1 => Just(b"Jos\xc3\xa9".to_vec()),
        1 => Just(b"1990-01-02".to_vec()),
        1 => Just(b"https://e.com/x".to_vec()),
        1 => Just(b"true".to_vec()),
        1 => Just(b"-12.5".to_vec()),
        1 => Just(b"a|b|c".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..6),
    ]
}

/// A file: a header, rows of roughly its width, one line ending, maybe gzip.
#[derive(Debug, Clone)]
struct Input {
    bytes: Vec<u8>,
    header: Vec<String>,
    delimiter: u8,
}

fn input() -> impl Strategy<Value = Input> {
    let names = prop::collection::vec("[a-z]{1,3}", 1..6);
    (names, prop::sample::select(vec![b',', b';', b'\t']), prop::sample::select(vec!["\n", "\r\n", "\r"]))
        .prop_flat_map(|(names, d, eol)| {
            let w = names.len();
            let row = prop::collection::vec(cell(), w.saturating_sub(1)..w + 2);
            (Just(names), Just(d), Just(eol), prop::collection::vec(row, 0..30), 0u8..4, any::<u16>())
        })
        .prop_map(|(names, d, eol, rows, shape, cut)| {
            let mut text = names.join(&(d as char).to_string()).into_bytes();
            text.extend_from_slice(eol.as_bytes());
            for r in rows {
                text.extend(r.join(&d));
                text.extend_from_slice(eol.as_bytes());
            }
            let bytes = match shape {
                // Gzip, whole or cut anywhere.
                1 | 2 => {
                    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    e.write_all(&text).unwrap();
                    let mut z = e.finish().unwrap();
                    if shape == 2 {
                        let keep = (cut as usize) % (z.len() + 1);
                        z.truncate(keep.max(3));
                    }
                    z
                }
                // A cut plain file (the last line may be half a row).
                3 => {
                    let keep = (cut as usize) % (text.len() + 1);
                    text[..keep].to_vec()
                }
                _ => text,
            };
            Input { bytes, header: names, delimiter: d }
        })
}

/// A job mapping some of the header's columns (or a missing one), typed at random.
fn job_text(header: &[String], picks: &[(usize, usize)], id: usize, events: bool) -> String {
    const TYPES: [&str; 7] = ["string", "int", "float", "bool", "date", "url", "array"];
    // Now and then a column that is not there: a bind error, not a panic.
    let col = |i: usize| if i % 16 == 15 { "missing".to_string() } else { header[i % header.len()].clone() };
    let mut t = format!(
        "[job]\nname = \"fuzz\"\nkind = \"{}\"\n[source]\npath = \"in.csv\"\n[mapping]\ncustom_id = \"{}\"\n",
        if events { "events" } else { "profiles" },
        col(id)
    );
    if events {
        t.push_str("event_name = \"fuzzed\"\n[mapping.event_attributes]\n");
    } else {
        t.push_str("[mapping.attributes]\n");
    }
    for (n, (c, ty)) in picks.iter().enumerate() {
        let ty = TYPES[ty % TYPES.len()];
        let extra = if ty == "array" { ", separator = \"|\"" } else { "" };
        t.push_str(&format!("a{n} = {{ column = \"{}\", type = \"{ty}\"{extra} }}\n", col(*c)));
    }
    t
}

fn check(input: &Input, picks: &[(usize, usize)], id: usize, events: bool, delim: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    std::fs::write(&path, &input.bytes).unwrap();
    let job_path = dir.path().join("job.toml");
    let job = match batchport_transform::job::parse(&job_text(&input.header, picks, id, events), &job_path) {
        Ok(job) => job,
        Err(e) => {
            if std::env::var_os("FUZZ_DEBUG").is_some() {
                eprintln!("job: {e}");
            }
            return Ok(()); // a job error (no attributes, say) is a clean refusal
        }
    };
    let mut opts = SourceOptions::default();
    if delim {
        opts.delimiter = Delimiter::Byte(input.delimiter);
    }
    let src = match CsvSource::open(&path, &opts) {
        Ok(s) => s,
        Err(e) => {
            if std::env::var_os("FUZZ_DEBUG").is_some() {
                eprintln!("open: {e}");
            }
            return Ok(());
        }
    };
    let t = match Transformer::bind(&job, src.headers(), &path) {
        Ok(t) => t,
        Err(e) => {
            if std::env::var_os("FUZZ_DEBUG").is_some() {
                eprintln!("bind: {e}");
            }
            return Ok(());
        }
    };
    BOUND.fetch_add(1, Relaxed);
    let width = src.raw_headers().len();
    let delimiter = src.delimiter();
    let mut rejects = RejectsWriter::new(dir.path(), "rejects");
    rejects.set_source(src.raw_headers(), delimiter);
    let (mut read, mut ops, mut rejected) = (0u64, 0u64, 0u64);
    let mut last_record = None;
    let _ = pipeline::for_each_chunk(src, &t, |chunk| {
        for r in chunk.results {
            read += 1;
            let record = r.pos().record;
            assert_eq!(Some(record), last_record.map_or(Some(0), |l: u64| Some(l + 1)), "records in order");
            last_record = Some(record);
            match r {
                Mapped::Op(_) | Mapped::Unchanged(_) => ops += 1,
                Mapped::UnchangedRun { .. } => unreachable!("no change index here"),
                Mapped::Reject(rej) => {
                    rejects.write(&rej).unwrap();
                    rejected += 1;
                }
            }
        }
        true
    });
    rejects.flush().unwrap();
    ROWS.fetch_add(read, Relaxed);
    REJECTS.fetch_add(rejected, Relaxed);
    prop_assert_eq!(read, ops + rejected);
    prop_assert_eq!(rejects.count, rejected);
    if rejected > 0 {
        let mut r = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(false)
            .from_path(&rejects.paths[0])
            .unwrap();
        let mut rows = 0;
        for rec in r.byte_records() {
            let rec = rec.map_err(|e| TestCaseError::fail(format!("rejects file does not parse back: {e}")))?;
            prop_assert_eq!(rec.len(), width + 4);
            rows += 1;
        }
        prop_assert_eq!(rows, rejected + 1);
    }
    Ok(())
}

#[test]
fn reader_transform_and_rejects_never_panic_and_keep_the_width() {
    let cases = std::env::var("BATCHPORT_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let started = std::time::Instant::now();
    let strategy = (
        input(),
        prop::collection::vec((any::<usize>(), any::<usize>()), 1..5),
        any::<usize>(),
        any::<bool>(),
        any::<bool>(),
    );
    runner.run(&strategy, |(input, picks, id, events, delim)| check(&input, &picks, id, events, delim)).unwrap();
    let (bound, rows, rejects) = (BOUND.load(Relaxed), ROWS.load(Relaxed), REJECTS.load(Relaxed));
    println!(
        "fuzz: {cases} cases in {:.1} s, no failure; {bound} reached the transform: {rows} rows, {rejects} rejects",
        started.elapsed().as_secs_f64()
    );
    assert!(bound * 4 >= cases as u64, "only {bound} of {cases} cases reached the transform");
}
