//! Read + transform throughput on the generated 15-column profile file: the
//! reader alone, then both ways the rows go through the transform: the import's (`pipeline::for_each_chunk`, every
//! operation built) and `validate`'s (`pipeline::for_each_checked`, rows
//! checked, nothing kept). Prints rows/s and CPU seconds (user + system, all
//! threads) for each, best of three.
//!
//! `cargo run --release --example transform_speed -- [rows] [file.csv]`
//! (default 1,000,000 rows, written to a temp folder; a file is read as is
//! and needs `file.toml` beside it, as `batchport generate` writes).

use batchport_engine::pipeline;
use batchport_source::CsvSource;
use batchport_testdata as testdata;
use batchport_transform::job;
use batchport_transform::{Mapped, Transformer};
use std::path::PathBuf;
use std::time::Instant;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(u.ru_utime) + s(u.ru_stime)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args.next().and_then(|r| r.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let csv = match args.next() {
        Some(f) => PathBuf::from(f),
        None => {
            let csv = dir.path().join("p.csv");
            let mut w = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
            testdata::write_profiles(&mut w, rows, 7, 0).unwrap();
            std::io::Write::flush(&mut w).unwrap();
            std::fs::write(
                csv.with_extension("toml"),
                testdata::profiles_job("speed", "p.csv", "base_url = \"emulator\""),
            )
            .unwrap();
            csv
        }
    };
    let job = job::load(&csv.with_extension("toml")).unwrap();
    let opts = job.source.as_ref().unwrap().options.clone();
    let measure = |name: &str, pass: &dyn Fn() -> u64| {
        let mut best: Option<(f64, f64, u64)> = None;
        for _ in 0..3 {
            let (t, c) = (Instant::now(), cpu_seconds());
            let n = pass();
            let run = (t.elapsed().as_secs_f64(), cpu_seconds() - c, n);
            if best.is_none_or(|b| run.0 < b.0) {
                best = Some(run);
            }
        }
        let (secs, cpu, n) = best.unwrap();
        println!(
            "{name}: {n} rows in {secs:.2} s = {:.2} M rows/s; {cpu:.2} CPU-s = {:.2} M rows per CPU-s",
            n as f64 / secs / 1e6,
            n as f64 / cpu / 1e6
        );
    };
    measure("read only (one thread, blocks filled)", &|| {
        let mut src = CsvSource::open(&csv, &opts).unwrap();
        let mut block = batchport_source::Block::default();
        let mut n = 0u64;
        loop {
            block.clear();
            let more = src.read_block(pipeline::CHUNK_ROWS, &mut block).unwrap();
            n += block.len() as u64;
            if !more {
                break n;
            }
        }
    });
    measure("import path (operations built)", &|| {
        let src = CsvSource::open(&csv, &opts).unwrap();
        let t = Transformer::bind(&job, src.headers(), &csv).unwrap();
        let mut n = 0u64;
        pipeline::for_each_chunk(src, &t, |chunk| {
            n += chunk.results.iter().filter(|r| !matches!(r, Mapped::Unchanged(_))).count() as u64;
            true
        })
        .unwrap();
        n
    });
    measure("validate path (rows checked)", &|| {
        let src = CsvSource::open(&csv, &opts).unwrap();
        let t = Transformer::bind(&job, src.headers(), &csv).unwrap();
        let mut n = 0u64;
        pipeline::for_each_checked(src, &t, |chunk| {
            n += chunk.results.len() as u64;
            true
        })
        .unwrap();
        n
    });
}
