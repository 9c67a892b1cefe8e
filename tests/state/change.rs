//! The change index: exact answers (unit cases and a model-based proptest),
//! bucket collisions, persistence, and its cost at 1M and 10M IDs (ignored
//! tests, run in release: `cargo test --release --test main -- --ignored --exact state::change::NAME --nocapture`).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use batchport::internals::state::{ChangeIndex, Store};
use proptest::prelude::*;

#[test]
fn recorded_ops_are_unchanged_and_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false).unwrap();
    let idx = store.change_index("profiles");
    let (alice, bob) = (ChangeIndex::id_hash("alice"), ChangeIndex::id_hash("bob"));
    let (op1, op2) = (ChangeIndex::op_hash(b"{\"a\":1}"), ChangeIndex::op_hash(b"{\"a\":2}"));
    assert!(!idx.is_unchanged(alice, op1).unwrap());
    idx.record_acked(&[(alice, op1)]).unwrap();
    assert!(idx.is_unchanged(alice, op1).unwrap());
    assert!(!idx.is_unchanged(alice, op2).unwrap());
    assert!(!idx.is_unchanged(bob, op1).unwrap());
    idx.record_acked(&[(alice, op2)]).unwrap();
    assert!(!idx.is_unchanged(alice, op1).unwrap());
    assert!(idx.is_unchanged(alice, op2).unwrap());
    assert_eq!(idx.len().unwrap(), 1);
    // After the pending pairs are merged into their buckets, the same answers.
    assert!(idx.is_unchanged(alice, op2).unwrap() && !idx.is_unchanged(alice, op1).unwrap());
    // Another job's index is its own.
    assert!(!store.change_index("profile").is_unchanged(alice, op2).unwrap());
}

#[test]
fn ids_sharing_a_bucket_keep_their_own_ops() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false).unwrap();
    let idx = store.change_index("job");
    // Same top 16 bits (one bucket), different ids, recorded over two merges.
    let ids: Vec<u64> = (0..50u64).map(|i| 0xABCD_0000_0000_0000 | (i * 0x9E37_79B9)).collect();
    let first: Vec<(u64, u64)> = ids.iter().step_by(2).map(|&id| (id, id ^ 1)).collect();
    let second: Vec<(u64, u64)> = ids.iter().skip(1).step_by(2).map(|&id| (id, id ^ 2)).collect();
    idx.record_acked(&first).unwrap();
    store.flush().unwrap();
    idx.record_acked(&second).unwrap();
    let all: Vec<(u64, u64)> = first.iter().chain(&second).copied().collect();
    assert!(idx.check_many(&all).unwrap().iter().all(|&b| b));
    store.flush().unwrap();
    assert!(idx.check_many(&all).unwrap().iter().all(|&b| b));
    let wrong: Vec<(u64, u64)> = all.iter().map(|&(id, op)| (id, op ^ 3)).collect();
    assert!(idx.check_many(&wrong).unwrap().iter().all(|&b| !b));
    assert_eq!(idx.len().unwrap(), 50);
}

#[test]
fn the_index_survives_a_reopen_and_resets() {
    let dir = tempfile::tempdir().unwrap();
    let pairs: Vec<(u64, u64)> = (0..1000u64).map(|i| (ChangeIndex::id_hash(&i.to_string()), i)).collect();
    {
        let store = Store::open(dir.path(), false).unwrap();
        // Not flushed by hand: dropping the store keeps acknowledged pairs.
        store.change_index("job").record_acked(&pairs).unwrap();
    }
    let store = Store::open(dir.path(), false).unwrap();
    let idx = store.change_index("job");
    assert!(idx.check_many(&pairs).unwrap().iter().all(|&b| b));
    assert!(store.reset_change_index("job").unwrap());
    assert!(!idx.is_unchanged(pairs[0].0, pairs[0].1).unwrap());
    assert_eq!(idx.len().unwrap(), 0);
    assert!(!store.reset_change_index("job").unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// The index answers like a HashMap of id → last acked op, whatever the
    /// mix of records, lookups and merges. IDs come from a small set, and
    /// half of them share one bucket, so updates and collisions are common.
    #[test]
    fn the_index_behaves_like_a_map(steps in prop::collection::vec(
        (0u8..4, prop::collection::vec((0u64..40, 0u64..4), 1..20)), 1..30)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        let idx = store.change_index("job");
        let id = |n: u64| if n % 2 == 0 { 0x1234_0000_0000_0000 | n } else { n.wrapping_mul(0x9E37_79B9_7F4A_7C15) };
        let mut model: HashMap<u64, u64> = HashMap::new();
        for (action, pairs) in steps {
            let pairs: Vec<(u64, u64)> = pairs.into_iter().map(|(n, op)| (id(n), op)).collect();
            match action {
                0 => {
                    // Within one call the last pair of an id wins, as in the model.
                    idx.record_acked(&pairs).unwrap();
                    model.extend(pairs.iter().copied());
                }
                1 => store.flush().unwrap(),
                _ => {
                    let got = idx.check_many(&pairs).unwrap();
                    let want: Vec<bool> = pairs.iter().map(|(i, op)| model.get(i) == Some(op)).collect();
                    prop_assert_eq!(got, want);
                    for (i, op) in &pairs {
                        prop_assert_eq!(idx.is_unchanged(*i, *op).unwrap(), model.get(i) == Some(op));
                    }
                }
            }
        }
        prop_assert_eq!(idx.len().unwrap(), model.len() as u64);
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() { dir_size(&e.path()) } else { m.len() }
        })
        .sum()
}

/// Peak resident memory of this process, from /proc (Linux).
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Record `n` IDs in 10,000-pair acks (as a first run would), reopen, check
/// them all unchanged in 10,000-pair chunks (as a re-run would), print costs.
fn measure(n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let pairs = |from: u64, to: u64| -> Vec<(u64, u64)> {
        (from..to).map(|i| (ChangeIndex::id_hash(&format!("user-{i}")), i.wrapping_mul(31))).collect()
    };
    let t = Instant::now();
    {
        let store = Store::open(dir.path(), false).unwrap();
        let idx = store.change_index("job");
        for from in (0..n).step_by(10_000) {
            idx.record_acked(&pairs(from, (from + 10_000).min(n))).unwrap();
        }
        store.flush().unwrap();
    }
    let record_s = t.elapsed().as_secs_f64();
    let size = dir_size(&dir.path().join("store"));

    let store = Store::open(dir.path(), false).unwrap();
    let idx = store.change_index("job");
    let t = Instant::now();
    let mut unchanged = 0;
    for from in (0..n).step_by(10_000) {
        unchanged += idx.check_many(&pairs(from, (from + 10_000).min(n))).unwrap().iter().filter(|&&b| b).count();
    }
    let check_s = t.elapsed().as_secs_f64();
    assert_eq!(unchanged as u64, n);
    let t = Instant::now();
    let mut one_by_one = 0;
    for (id, op) in pairs(0, n.min(100_000)) {
        one_by_one += idx.is_unchanged(id, op).unwrap() as u64;
    }
    let single_us = t.elapsed().as_secs_f64() * 1e6 / one_by_one as f64;
    eprintln!(
        "change index, {n} ids: record {record_s:.2} s, check_many {check_s:.2} s, is_unchanged {single_us:.2} µs/id, \
         {:.1} MB on disk ({:.1} B/id), peak RSS {:.1} MB",
        size as f64 / 1e6,
        size as f64 / n as f64,
        peak_rss_kb() as f64 / 1024.0
    );
}

#[test]
fn small_index_cost() {
    measure(50_000);
}

#[test]
#[ignore]
fn index_cost_1m() {
    measure(1_000_000);
}

#[test]
#[ignore]
fn index_cost_10m() {
    measure(10_000_000);
}
