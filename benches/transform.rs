//! Transform throughput (parse + map + validate + serialise), rows/s, on the
//! generated 15-column profile file. DESIGN.md's target: ≥ 1,500,000 rows/s on 2 cores.
//!
//! `cargo bench --bench transform`

// criterion_group! defines an undocumented `pub fn`.
#![allow(missing_docs)]

use batchport_engine::pipeline;
use batchport_source::CsvSource;
use batchport_testdata as testdata;
use batchport_transform::Transformer;
use batchport_transform::job;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::io::BufWriter;

const ROWS: u64 = 500_000;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("profiles.csv");
    let mut w = BufWriter::new(std::fs::File::create(&csv).unwrap());
    testdata::write_profiles(&mut w, ROWS, 7, 0).unwrap();
    drop(w);
    let job_path = dir.path().join("job.toml");
    std::fs::write(&job_path, testdata::profiles_job("bench", "profiles.csv", "base_url = \"emulator\"")).unwrap();
    let job = job::load(&job_path).unwrap();
    let opts = job.source.as_ref().unwrap().options.clone();

    let mut g = c.benchmark_group("transform");
    g.throughput(Throughput::Elements(ROWS));
    g.sample_size(10);
    g.bench_function("profiles_15_columns", |b| {
        b.iter(|| {
            let src = CsvSource::open(&csv, &opts).unwrap();
            let t = Transformer::bind(&job, src.headers(), &csv).unwrap();
            let mut ops = 0u64;
            pipeline::for_each_chunk(src, &t, |chunk| {
                ops += chunk.results.iter().filter(|r| matches!(r, batchport_transform::Mapped::Op(_))).count() as u64;
                true
            })
            .unwrap();
            assert_eq!(ops, ROWS);
        })
    });
    g.bench_function("read_only", |b| {
        b.iter(|| {
            let mut src = CsvSource::open(&csv, &opts).unwrap();
            let mut rows = Vec::new();
            let mut n = 0;
            while src.read_chunk(8192, &mut rows).unwrap() {
                n += rows.len();
                rows.clear();
            }
            n += rows.len();
            assert_eq!(n as u64, ROWS);
        })
    });
    // Mapping alone, on rows already in memory: separates CPU cost from reading.
    let mut src = CsvSource::open(&csv, &opts).unwrap();
    let t = Transformer::bind(&job, src.headers(), &csv).unwrap();
    let mut rows = Vec::new();
    while src.read_chunk(8192, &mut rows).unwrap() {}
    g.bench_function("map_only", |b| {
        b.iter_batched(
            || rows.clone(),
            |rows| {
                let mut rows = rows.into_iter();
                let mut n = 0;
                loop {
                    let chunk: Vec<_> = rows.by_ref().take(8192).collect();
                    if chunk.is_empty() {
                        break;
                    }
                    n += t.map_chunk(chunk).len();
                }
                assert_eq!(n as u64, ROWS);
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
