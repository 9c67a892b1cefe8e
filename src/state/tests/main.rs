//! The state store: runs, the ledger, the run lock, damaged stores,
//! fingerprints (here) and the change index (`change.rs`). State folders an
//! older batchport left are the root crate's `tests/old_state.rs` (through
//! the binary).

mod change;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use batchport_api::Kind;
use batchport_source::Position;
use batchport_state::{BatchRecord, BatchState, RunStatus, StateError, Store, fingerprint};

fn pos(record: u64) -> Position {
    Position { line: record + 2, byte: record * 10 + 7, record }
}

fn batch(seq: u64, first: u64, rows: u64) -> BatchRecord {
    BatchRecord {
        seq,
        file: 0,
        first: pos(first),
        last: pos(first + rows - 1),
        rows,
        state: BatchState::Planned,
        tally: Default::default(),
    }
}

/// Settle test batch `seq` (planned as `batch(seq, seq * 10, 10)`) as `state`.
fn settle(store: &Store, run_id: &str, seq: u64, state: BatchState) -> Result<(), StateError> {
    store.record_batch(run_id, &BatchRecord { state, ..batch(seq, seq * 10, 10) })
}

#[test]
fn a_run_is_unfinished_until_it_finishes_done() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false).unwrap();
    assert_eq!(store.unfinished_run("nightly").unwrap(), None);
    assert_eq!(store.last_run("nightly").unwrap(), None);

    let mut run = store.create_run("nightly", Kind::Profiles, vec![]).unwrap();
    assert!(run.id.starts_with("nightly-"), "{}", run.id);
    let stamp_and_hex = &run.id["nightly-".len()..];
    assert_eq!(stamp_and_hex.len(), "20260101T020000Z-ab12".len(), "{}", run.id);
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(store.unfinished_run("nightly").unwrap().unwrap().id, run.id);

    run.counters.rows_read = 42;
    run.next_seq = 5;
    store.save_run(&run).unwrap();
    let saved = store.unfinished_run("nightly").unwrap().unwrap();
    assert_eq!(saved.counters.rows_read, 42);
    assert_eq!(saved.next_seq, 5);

    for unfinished in [RunStatus::Interrupted, RunStatus::Failed] {
        run.status = unfinished;
        store.finish_run(&run).unwrap();
        assert_eq!(store.unfinished_run("nightly").unwrap().unwrap().status, unfinished);
    }
    run.status = RunStatus::DoneWithRejects;
    store.finish_run(&run).unwrap();
    assert_eq!(store.unfinished_run("nightly").unwrap(), None);
    assert_eq!(store.last_run("nightly").unwrap().unwrap().status, RunStatus::DoneWithRejects);
    // Another job's runs are its own.
    assert_eq!(store.last_run("nightl").unwrap(), None);
}

#[test]
fn runs_are_listed_newest_first_and_a_new_run_abandons_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false).unwrap();
    let a = store.create_run("a", Kind::Profiles, vec![]).unwrap();
    let b = store.create_run("b", Kind::Events, vec![]).unwrap();
    let a2 = store.create_run("a", Kind::Profiles, vec![]).unwrap();
    let ids: Vec<String> = store.runs().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![a2.id.clone(), b.id.clone(), a.id.clone()]);
    assert_eq!(store.last_run("a").unwrap().unwrap().id, a2.id);
    assert_eq!(store.unfinished_run("a").unwrap().unwrap().id, a2.id);
    let old = store.runs().unwrap().into_iter().find(|r| r.id == a.id).unwrap();
    assert_eq!(old.status, RunStatus::Abandoned);
}

#[test]
fn reset_forgets_the_unfinished_run_and_its_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false).unwrap();
    assert!(!store.reset_run("job").unwrap());
    let run = store.create_run("job", Kind::Profiles, vec![]).unwrap();
    store.plan_batch(&run.id, &batch(0, 0, 10)).unwrap();
    assert!(store.reset_run("job").unwrap());
    assert_eq!(store.unfinished_run("job").unwrap(), None);
    assert_eq!(store.last_run("job").unwrap(), None);
    assert!(store.batches(&run.id).unwrap().is_empty());
    assert!(!store.reset_run("job").unwrap());
    assert!(matches!(store.save_run(&run), Err(StateError::UnknownRun(_))));
}

#[test]
fn the_ledger_keeps_batches_in_seq_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false).unwrap();
    let run = store.create_run("job", Kind::Profiles, vec![]).unwrap();
    // Planned out of order (concurrent senders), read back in order; seq 256
    // checks the big-endian keys.
    for seq in [3, 1, 0, 2, 256] {
        store.plan_batch(&run.id, &batch(seq, seq * 10, 10)).unwrap();
    }
    settle(&store, &run.id, 0, BatchState::Acked).unwrap();
    settle(&store, &run.id, 2, BatchState::Held).unwrap();
    settle(&store, &run.id, 3, BatchState::Acked).unwrap();
    let got = store.batches(&run.id).unwrap();
    assert_eq!(got.iter().map(|b| b.seq).collect::<Vec<_>>(), vec![0, 1, 2, 3, 256]);
    let states: Vec<BatchState> = got.iter().map(|b| b.state).collect();
    use BatchState::*;
    assert_eq!(states, vec![Acked, Planned, Held, Acked, Planned]);
    assert_eq!(got[4], batch(256, 2560, 10));

    // A planned batch that never left is forgotten; the others stay.
    store.unplan_batch(&run.id, 1).unwrap();
    let left: Vec<(u64, BatchState)> = store.batches(&run.id).unwrap().iter().map(|b| (b.seq, b.state)).collect();
    assert_eq!(left, vec![(0, Acked), (2, Held), (3, Acked), (256, Planned)]);
    // Another run's ledger is untouched.
    assert!(store.batches("job-other").unwrap().is_empty());
}

#[test]
fn a_finished_run_drops_its_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false).unwrap();
    let mut run = store.create_run("job", Kind::Profiles, vec![]).unwrap();
    store.plan_batch(&run.id, &batch(0, 0, 10)).unwrap();
    run.status = RunStatus::Done;
    store.finish_run(&run).unwrap();
    assert!(store.batches(&run.id).unwrap().is_empty());
}

#[test]
fn a_reopened_store_sees_what_was_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let (run, planned) = {
        let store = Store::open(dir.path(), false).unwrap();
        let mut run = store.create_run("job", Kind::Events, vec![]).unwrap();
        for seq in 0..3 {
            store.plan_batch(&run.id, &batch(seq, seq * 10, 10)).unwrap();
        }
        settle(&store, &run.id, 0, BatchState::Acked).unwrap();
        settle(&store, &run.id, 1, BatchState::Held).unwrap();
        store.flush().unwrap();
        run.next_seq = 3;
        run.counters.rows_sent = 10;
        run.status = RunStatus::Interrupted;
        store.finish_run(&run).unwrap();
        let planned = store.batches(&run.id).unwrap();
        (run, planned)
    };
    let store = Store::open(dir.path(), false).unwrap();
    let again = store.unfinished_run("job").unwrap().unwrap();
    assert_eq!((again.next_seq, again.counters.clone(), again.status.as_str()), (3, run.counters, "interrupted"));
    assert_eq!(store.batches(&run.id).unwrap(), planned);
    assert_eq!(
        planned.iter().map(|b| b.state).collect::<Vec<_>>(),
        [BatchState::Acked, BatchState::Held, BatchState::Planned]
    );
}

#[test]
fn a_second_open_in_this_process_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path(), false).unwrap();
    let err = Store::open(dir.path(), true).err().expect("a second open fails");
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("in use by another batchport process") && !msg.contains("another --state"), "{msg}");
    assert!(msg.contains(&dir.path().join("store").display().to_string()), "{msg}");
    // A lock is not damage: nothing was moved aside.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

const HOLDER_READY: &str = "store-open-by-holder";

/// Not a test on its own: holds a store open for `another_process_holding_the_store_is_locked`.
#[test]
#[ignore]
fn state_lock_holder() {
    let Ok(dir) = std::env::var("BATCHPORT_TEST_LOCK_DIR") else { return };
    let _store = Store::open(Path::new(&dir), false).unwrap();
    // libtest may print its own text before ours on the same line.
    println!("\n{HOLDER_READY}");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

#[test]
fn another_process_holding_the_store_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["state_lock_holder", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("BATCHPORT_TEST_LOCK_DIR", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while line.trim() != HOLDER_READY {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the helper process exited before opening the store");
    }
    let err = Store::open(dir.path(), true).err().expect("the store is held by the child");
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    // Released with the process.
    Store::open(dir.path(), false).unwrap();
}

/// Overwrite every file of the sled folder with garbage.
fn damage(store_dir: &Path) {
    for entry in walk(store_dir) {
        let len = std::fs::metadata(&entry).unwrap().len().max(64);
        std::fs::write(&entry, (0..len).map(|i| (i * 7 + 13) as u8).collect::<Vec<u8>>()).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { files.extend(walk(&p)) } else { files.push(p) }
    }
    files
}

fn new_damaged_store(dir: &Path) {
    {
        let store = Store::open(dir, false).unwrap();
        let run = store.create_run("job", Kind::Events, vec![]).unwrap();
        store.plan_batch(&run.id, &batch(0, 0, 10)).unwrap();
    }
    damage(&dir.join("store"));
}

#[test]
fn a_damaged_store_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    new_damaged_store(dir.path());
    let err = Store::open(dir.path(), false).err().expect("a damaged store does not open");
    let msg = err.to_string();
    assert!(matches!(err, StateError::Corrupt { moved_to: None, .. }), "{err:?}");
    assert!(msg.contains(&dir.path().join("store").display().to_string()) && msg.contains("left as it is"), "{msg}");
    // Still there, still broken: never started over.
    assert!(Store::open(dir.path(), false).is_err());
}

#[test]
fn a_damaged_store_is_moved_aside_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    new_damaged_store(dir.path());
    let err = Store::open(dir.path(), true).err().expect("a damaged store does not open");
    eprintln!("{err}");
    let StateError::Corrupt { moved_to: Some(to), .. } = &err else { panic!("{err:?}") };
    assert!(to.file_name().unwrap().to_string_lossy().starts_with("store.broken-"), "{}", to.display());
    assert!(to.is_dir());
    assert!(err.to_string().contains(&to.display().to_string()), "{err}");
    assert!(!dir.path().join("store").exists());
    // The user runs again: a fresh, empty store.
    let store = Store::open(dir.path(), true).unwrap();
    assert!(store.runs().unwrap().is_empty());
}

#[test]
fn a_fingerprint_changes_with_appends_touches_and_head_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.csv");
    std::fs::write(&path, "custom_id,email\n1,a@example.com\n").unwrap();
    let base = fingerprint(&path).unwrap();
    assert_eq!(fingerprint(&path).unwrap(), base);
    assert!(base.path.is_absolute());

    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"2,b@example.com\n").unwrap();
    let appended = fingerprint(&path).unwrap();
    assert_ne!(appended.size, base.size);

    let file = std::fs::File::options().write(true).open(&path).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    file.set_modified(later).unwrap();
    let touched = fingerprint(&path).unwrap();
    assert_eq!(touched.size, appended.size);
    assert_ne!(touched.mtime_ns, appended.mtime_ns);

    // Same size, same mtime, different head.
    std::fs::write(&path, "custom_id,email\n3,c@example.com\n2,b@example.com\n").unwrap();
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
    let rewritten = fingerprint(&path).unwrap();
    assert_eq!((rewritten.size, rewritten.mtime_ns), (touched.size, touched.mtime_ns));
    assert_ne!(rewritten.head_hash, touched.head_hash);

    assert!(fingerprint(&dir.path().join("missing.csv")).is_err());
}

/// sled recovers a damaged log as an empty database, without an error: the
/// store must notice it lost its data instead of starting over.
#[test]
fn a_damaged_database_file_is_not_taken_for_a_new_store() {
    type Damage = (&'static str, fn(&mut Vec<u8>));
    let damages: [Damage; 3] = [
        ("zeroed head", |b| b.iter_mut().take(4096).for_each(|x| *x = 0)),
        ("garbage", |b| b.iter_mut().enumerate().for_each(|(i, x)| *x = (i * 7 + 13) as u8)),
        ("truncated", |b| b.truncate(100)),
    ];
    for (what, damage) in damages {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), false).unwrap();
            let run = store.create_run("job", Kind::Events, vec![]).unwrap();
            store.plan_batch(&run.id, &batch(0, 0, 10)).unwrap();
        }
        let db = dir.path().join("store").join("db");
        let mut bytes = std::fs::read(&db).unwrap();
        damage(&mut bytes);
        std::fs::write(&db, bytes).unwrap();
        let err = Store::open(dir.path(), false).err().unwrap_or_else(|| panic!("{what}: the store opened"));
        assert!(matches!(err, StateError::Corrupt { moved_to: None, .. }), "{what}: {err:?}");
        assert!(err.to_string().contains("damaged"), "{what}: {err}");
    }
}

/// The ledger's cost per 10,000-row batch: plan (flushed) + settle, and an
/// events-style settle + flush. Run in release with `--ignored --nocapture`.
#[test]
#[ignore]
fn ledger_cost_per_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false).unwrap();
    let mut run = store.create_run("job", Kind::Profiles, vec![]).unwrap();
    let n = 2000u64;
    let t = std::time::Instant::now();
    for seq in 0..n {
        store.plan_batch(&run.id, &batch(seq, seq * 10_000, 10_000)).unwrap();
        store
            .record_batch(&run.id, &BatchRecord { state: BatchState::Acked, ..batch(seq, seq * 10_000, 10_000) })
            .unwrap();
        run.next_seq = seq + 1;
        store.save_run(&run).unwrap();
    }
    let idempotent_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let t = std::time::Instant::now();
    for seq in n..2 * n {
        store.plan_batch(&run.id, &batch(seq, seq * 10_000, 10_000)).unwrap();
        store
            .record_batch(&run.id, &BatchRecord { state: BatchState::Acked, ..batch(seq, seq * 10_000, 10_000) })
            .unwrap();
        store.flush().unwrap();
    }
    let events_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let t = std::time::Instant::now();
    for _ in 0..n {
        store.flush().unwrap();
    }
    let empty_flush_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    eprintln!(
        "ledger per batch: plan+settle+save {idempotent_us:.0} µs; plan+settle+flush (events) {events_us:.0} µs; \
         flush with nothing to write {empty_flush_us:.1} µs"
    );
}
