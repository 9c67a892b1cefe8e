//! The change index alone at any size: a first run (N acknowledged pairs in
//! 10,000-pair acks, then the end-of-run merge), an unchanged re-run (the
//! scan of a local file: N pairs spilled and joined; then random lookups, as
//! for an object read once, on a sample), a 1% nightly (record and merge),
//! with time, disk and peak memory for each.
//!
//! `cargo run --release --example change_index -- 100000000` (default 10 M).
//! Needs about 50 bytes per id free in the temp folder while it merges.

use std::time::Instant;

use batchport_state::{ChangeIndex, Store};
use batchport_testdata::harness::{dir_size, peak_rss_kb};
use rayon::prelude::*;

fn peak_rss_mb() -> f64 {
    peak_rss_kb() as f64 / 1024.0
}

/// The pair of id `u<i>` (salt 0: as first sent; 1: changed tonight).
fn pair(i: u64, salt: u64) -> (u64, u64) {
    let (key, len) = itoa_id(i);
    let id = ChangeIndex::id_hash(std::str::from_utf8(&key[..len]).expect("ASCII"));
    (id, i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt)
}

/// `u<i>` without an allocation.
fn itoa_id(mut i: u64) -> ([u8; 24], usize) {
    let mut digits = [0u8; 20];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (i % 10) as u8;
        n += 1;
        i /= 10;
        if i == 0 {
            break;
        }
    }
    let mut out = [0u8; 24];
    out[0] = b'u';
    for k in 0..n {
        out[1 + k] = digits[n - 1 - k];
    }
    (out, n + 1)
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false).unwrap();

    let t = Instant::now();
    let idx = store.change_index("nightly").unwrap();
    let mut acks = Vec::with_capacity(10_000);
    for from in (0..n).step_by(10_000) {
        acks.clear();
        acks.extend((from..(from + 10_000).min(n)).map(|i| pair(i, 0)));
        idx.record_acked(&acks).unwrap();
    }
    let recorded = t.elapsed().as_secs_f64();
    idx.commit().unwrap();
    let first = t.elapsed().as_secs_f64();
    let disk = dir_size(&dir.path().join("changes"));
    println!(
        "{n} ids, first run: record {recorded:.2} s, merge {:.2} s; {:.1} MB on disk = {:.2} bytes per id; peak RSS {:.1} MB",
        first - recorded,
        disk as f64 / 1e6,
        disk as f64 / n as f64,
        peak_rss_mb()
    );

    drop(idx);
    let idx = store.change_index("nightly").unwrap();
    // The check of a whole local file: every row's pair spilled, then joined.
    let t = Instant::now();
    let mut scan = idx.lookup().scan(0).unwrap().expect("a full index");
    for i in 0..n {
        let pos = batchport_source::Position { line: i + 2, byte: 1 + i * 100, record: i };
        scan.push(pos, Some(pair(i, 0))).unwrap();
    }
    let spilled = t.elapsed().as_secs_f64();
    let delta = scan.finish(true).unwrap();
    let check = t.elapsed().as_secs_f64();
    assert_eq!(delta.unchanged_count(), n);
    println!(
        "{n} ids, unchanged re-run (scan): spill {spilled:.2} s, join {:.2} s = {:.3} µs per row; peak RSS {:.1} MB",
        check - spilled,
        check * 1e6 / n as f64,
        peak_rss_mb()
    );
    // One row in 1,000 looked up alone, as for an object read once.
    let t = Instant::now();
    let lookup = idx.lookup();
    let sample = n / 1_000;
    let unchanged: u64 = (0..sample.div_ceil(2_048))
        .into_par_iter()
        .map(|c| {
            (c * 2_048..((c + 1) * 2_048).min(sample))
                .filter(|&i| {
                    let (id, op) = pair(i * 1_000, 0);
                    lookup.is_unchanged(id, op).unwrap()
                })
                .count() as u64
        })
        .sum();
    assert_eq!(unchanged, sample);
    println!(
        "{n} ids, random lookups (objects, read once): {:.3} µs each on {} threads; peak RSS {:.1} MB",
        t.elapsed().as_secs_f64() * 1e6 / sample as f64 * rayon::current_num_threads() as f64,
        rayon::current_num_threads(),
        peak_rss_mb()
    );

    let t = Instant::now();
    for from in (0..n).step_by(1_000_000) {
        let changed: Vec<(u64, u64)> = (from..(from + 1_000_000).min(n)).step_by(100).map(|i| pair(i, 1)).collect();
        idx.record_acked(&changed).unwrap();
    }
    idx.commit().unwrap();
    let nightly = t.elapsed().as_secs_f64();
    let lookup = idx.lookup();
    assert!(lookup.is_unchanged(pair(100, 1).0, pair(100, 1).1).unwrap());
    assert!(lookup.is_unchanged(pair(101, 0).0, pair(101, 0).1).unwrap());
    println!(
        "{n} ids, 1% nightly: record and merge {nightly:.2} s; {:.2} bytes per id on disk; peak RSS {:.1} MB",
        dir_size(&dir.path().join("changes")) as f64 / n as f64,
        peak_rss_mb()
    );
}
