//! The change index: exact answers (unit cases and a model-based proptest),
//! what a kill leaves (torn logs), persistence, reset, the old sled form, and
//! its cost at 1 M to 100 M IDs (ignored tests, run in release:
//! `cargo test --release --test main -- --ignored --exact state::change::NAME --nocapture`).

use batchport_testdata::harness::{dir_size, peak_rss_kb};
use std::collections::HashMap;
use std::time::Instant;

use batchport_state::{ChangeIndex, Store};
use proptest::prelude::*;

#[test]
fn recorded_ops_are_unchanged_once_committed_and_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false).unwrap();
    let idx = store.change_index("profiles").unwrap();
    let (alice, bob) = (ChangeIndex::id_hash("alice"), ChangeIndex::id_hash("bob"));
    let (op1, op2) = (ChangeIndex::op_hash(b"{\"a\":1}"), ChangeIndex::op_hash(b"{\"a\":2}"));
    assert!(!idx.is_unchanged(alice, op1).unwrap());
    idx.record_acked(&[(alice, op1)]).unwrap();
    // Lookups read the index as the last run left it.
    assert!(!idx.is_unchanged(alice, op1).unwrap());
    idx.commit().unwrap();
    assert!(idx.is_unchanged(alice, op1).unwrap());
    assert!(!idx.is_unchanged(alice, op2).unwrap());
    assert!(!idx.is_unchanged(bob, op1).unwrap());
    // Later pairs win, within a call and across calls.
    idx.record_acked(&[(bob, op1), (alice, op1)]).unwrap();
    idx.record_acked(&[(alice, op2), (bob, op2), (bob, op1)]).unwrap();
    idx.commit().unwrap();
    assert!(!idx.is_unchanged(alice, op1).unwrap() && idx.is_unchanged(alice, op2).unwrap());
    assert!(idx.is_unchanged(bob, op1).unwrap());
    assert_eq!(idx.len(), 2);
    // Another destination's index is its own.
    assert!(!store.change_index("profile").unwrap().is_unchanged(alice, op2).unwrap());
}

#[test]
fn a_killed_run_keeps_its_acked_pairs_but_not_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let pairs: Vec<(u64, u64)> = (0..1000u64).map(|i| (ChangeIndex::id_hash(&i.to_string()), i)).collect();
    let index_dir;
    {
        let store = Store::open(dir.path(), false).unwrap();
        let idx = store.change_index("job").unwrap();
        idx.record_acked(&pairs[..600]).unwrap();
        idx.record_acked(&pairs[600..]).unwrap();
        index_dir = idx.dir().to_path_buf();
        // Dropped without a commit, as by `kill -9`.
    }
    // The kill tore the second write in one partition's log (`acked-G-pNN.log`,
    // NN the top 6 bits of the id hash): 10 bytes short of its end.
    let log = std::fs::read_dir(&index_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-p07.log"))
        .unwrap();
    let len = std::fs::metadata(&log).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(len - 10).unwrap();
    let torn = |id: u64| id >> 58 == 7;
    assert!(pairs[600..].iter().any(|p| torn(p.0)) && pairs[..600].iter().any(|p| torn(p.0)));
    let store = Store::open(dir.path(), false).unwrap();
    let idx = store.change_index("job").unwrap();
    let found = idx.check_many(&pairs).unwrap();
    assert!(found[..600].iter().all(|&b| b), "the whole first write is kept");
    for (p, found) in pairs[600..].iter().zip(&found[600..]) {
        assert_eq!(
            *found,
            !torn(p.0),
            "the torn frame is dropped, never half-read; the other partitions' frames are kept"
        );
    }
    let kept = 600 + pairs[600..].iter().filter(|p| !torn(p.0)).count() as u64;
    assert_eq!(idx.len(), kept);
    assert!(!std::fs::read_dir(&index_dir).unwrap().any(|e| e.unwrap().path().extension().is_some_and(|e| e == "log")));

    assert!(store.reset_change_index("job").unwrap());
    assert_eq!(store.change_index("job").unwrap().len(), 0);
    assert!(!store.reset_change_index("job").unwrap());
}

#[test]
fn an_index_of_the_old_sled_form_is_dropped_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    // The packed-bucket form: tree `changes`, key `c` + u32 BE name length + name + bucket.
    {
        let db = sled::open(dir.path().join("store")).unwrap();
        let tree = db.open_tree("changes").unwrap();
        let mut key = vec![b'c'];
        key.extend_from_slice(&3u32.to_be_bytes());
        key.extend_from_slice(b"job");
        key.extend_from_slice(&7u64.to_be_bytes());
        tree.insert(key, vec![0u8; 16]).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path(), false).unwrap();
    let idx = store.change_index("job").unwrap();
    assert!(idx.replaced_note().unwrap().contains("older form"));
    assert_eq!(idx.len(), 0);
    assert!(store.change_index("job").unwrap().replaced_note().is_none(), "said once");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// The index answers like a HashMap of id → last acked op as of the last
    /// commit, whatever the mix of records, commits, reopens and lookups.
    #[test]
    fn the_index_behaves_like_a_map(steps in prop::collection::vec(
        (0u8..5, prop::collection::vec((0u64..40, 0u64..4), 1..20)), 1..30)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        let mut idx = store.change_index("job").unwrap();
        let id = |n: u64| if n % 2 == 0 { 0x1234_0000_0000_0000 | n } else { n.wrapping_mul(0x9E37_79B9_7F4A_7C15) };
        let mut committed: HashMap<u64, u64> = HashMap::new();
        let mut recorded = committed.clone();
        for (action, pairs) in steps {
            let pairs: Vec<(u64, u64)> = pairs.into_iter().map(|(n, op)| (id(n), op)).collect();
            match action {
                0 => {
                    idx.record_acked(&pairs).unwrap();
                    recorded.extend(pairs.iter().copied());
                }
                1 => {
                    idx.commit().unwrap();
                    committed = recorded.clone();
                }
                2 => {
                    // A reopen (after a kill) merges what was recorded.
                    drop(idx);
                    idx = store.change_index("job").unwrap();
                    committed = recorded.clone();
                }
                _ => {
                    let got = idx.check_many(&pairs).unwrap();
                    let want: Vec<bool> = pairs.iter().map(|(i, op)| committed.get(i) == Some(op)).collect();
                    prop_assert_eq!(got, want);
                }
            }
        }
        idx.commit().unwrap();
        prop_assert_eq!(idx.len(), recorded.len() as u64);
    }
}

/// Record `n` IDs in 10,000-pair acks and commit (a first run), reopen, check
/// them all in 10,000-pair chunks (an unchanged re-run), record and commit 1%
/// changed (a nightly); print the costs.
fn measure(n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let pairs = |from: u64, to: u64, salt: u64| -> Vec<(u64, u64)> {
        (from..to).map(|i| (ChangeIndex::id_hash(&format!("user-{i}")), i.wrapping_mul(31) ^ salt)).collect()
    };
    let t = Instant::now();
    {
        let store = Store::open(dir.path(), false).unwrap();
        let idx = store.change_index("job").unwrap();
        for from in (0..n).step_by(10_000) {
            idx.record_acked(&pairs(from, (from + 10_000).min(n), 0)).unwrap();
        }
        idx.commit().unwrap();
    }
    let record_s = t.elapsed().as_secs_f64();
    let size = dir_size(&dir.path().join("changes"));

    let store = Store::open(dir.path(), false).unwrap();
    let idx = store.change_index("job").unwrap();
    let t = Instant::now();
    let mut unchanged = 0;
    for from in (0..n).step_by(10_000) {
        unchanged += idx.check_many(&pairs(from, (from + 10_000).min(n), 0)).unwrap().iter().filter(|&&b| b).count();
    }
    let check_s = t.elapsed().as_secs_f64();
    assert_eq!(unchanged as u64, n);
    let t = Instant::now();
    for from in (0..n).step_by(1_000_000) {
        let changed: Vec<(u64, u64)> = pairs(from, (from + 1_000_000).min(n), 1).into_iter().step_by(100).collect();
        idx.record_acked(&changed).unwrap();
    }
    idx.commit().unwrap();
    let nightly_s = t.elapsed().as_secs_f64();
    assert_eq!(idx.len(), n);
    eprintln!(
        "change index, {n} ids: first record+commit {record_s:.2} s, check all {check_s:.2} s ({:.2} µs/id), \
         1% changed record+commit {nightly_s:.2} s, {:.1} MB on disk ({:.2} B/id), peak RSS {:.1} MB",
        check_s * 1e6 / n as f64,
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

#[test]
#[ignore]
fn index_cost_30m() {
    measure(30_000_000);
}

#[test]
#[ignore]
fn index_cost_100m() {
    measure(100_000_000);
}
