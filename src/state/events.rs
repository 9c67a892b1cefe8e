//! The event index: which events Batch acknowledged, per job and destination,
//! so that no event is sent twice: not by a rerun, a copy of the job (same
//! name), a file that grew, or the fix-the-rejects workflow.
//!
//! An event is the xxh3 of its Custom ID and its event object (name, time,
//! attributes); an event without a time (Batch stamps it on arrival, so two
//! identical rows are two events) also of its place: its file and record
//! (`event_hash_at`). An index written before places were hashed says so
//! (`knows_unplaced`): its time-less events are known by their old hash. Each is kept with the run that sent it: a run never counts
//! its own events as duplicates, so two identical rows of one file are sent
//! as they were before (and the same whether or not the run was resumed),
//! while any other run skips them.
//!
//! Compact and on disk, not one sled key per event: like the change index,
//! events are packed in `1 << BUCKET_BITS` buckets (one sled key each, a
//! sorted array of (event hash, run hash) pairs, 16 bytes each). Acknowledged
//! events go first to a journal (one sled key per settled batch) and into the
//! buckets `MERGE_AT` at a time, the merge and the removal of the journal
//! keys in one atomic write. The journal is written before the batch's ledger
//! record and made durable by the same flush, so a kill -9 never leaves a
//! batch known as acknowledged whose events the index forgot; only
//! acknowledged events ever enter it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Inner, StateError, Store, name_key};

/// 4096 buckets: 10 M events → ~39 KB per bucket.
const BUCKET_BITS: u32 = 12;
const PAIR: usize = 16;
/// Journal entries before they are merged into the buckets (~6 MB in memory).
const MERGE_AT: usize = 256 * 1024;
const WRITE_BATCH_BYTES: usize = 4 * 1024 * 1024;
const BUCKET: u8 = b'e';
const JOURNAL: u8 = b'q';
/// Marks an index whose time-less events are hashed with their place (every
/// index begun since): its absence on an index that holds events means they
/// were recorded without.
const PLACED: u8 = b'p';

/// The run of an event whose outcome is unknown (held, or in flight when an
/// abandoned run stopped): never resent, held again by any run that meets it.
const HELD: u64 = u64::MAX;

/// What the index knows of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Not sent to this destination by another run.
    New,
    /// Acknowledged, by another run.
    Sent,
    /// Its outcome is unknown: held, never resent.
    Held,
}

/// One job's event index at one destination, seen from one run.
#[derive(Clone)]
pub struct EventIndex {
    inner: Arc<Inner>,
    scope: String,
    run: u64,
    /// The journal: event hash → run hash, not yet in the buckets.
    journal: Arc<Mutex<Journal>>,
    /// Time-less events were recorded here without their place.
    unplaced: bool,
}

#[derive(Default)]
struct Journal {
    events: HashMap<u64, u64>,
    keys: Vec<sled::IVec>,
}

fn bucket_of(h: u64) -> u64 {
    h >> (64 - BUCKET_BITS)
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn lookup(bucket: &[u8], h: u64) -> Option<u64> {
    let (mut lo, mut hi) = (0, bucket.len() / PAIR);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match read_u64(bucket, mid * PAIR).cmp(&h) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Some(read_u64(bucket, mid * PAIR + 8)),
        }
    }
    None
}

/// `old` with `new` (sorted, distinct) merged in; an event keeps the first
/// run that sent it.
fn merge_bucket(old: &[u8], new: &[(u64, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(old.len() + new.len() * PAIR);
    let (mut i, mut j, n) = (0, 0, old.len() / PAIR);
    while i < n || j < new.len() {
        let o = (i < n).then(|| read_u64(old, i * PAIR));
        let (h, r) = match (o, new.get(j)) {
            (Some(o), Some(&(h, _))) if o == h => {
                j += 1;
                continue;
            }
            (Some(o), Some(&(h, r))) if h < o => {
                j += 1;
                (h, r)
            }
            (Some(o), _) => {
                i += 1;
                (o, read_u64(old, (i - 1) * PAIR + 8))
            }
            (None, Some(&(h, r))) => {
                j += 1;
                (h, r)
            }
            (None, None) => unreachable!("the loop condition"),
        };
        out.extend_from_slice(&h.to_le_bytes());
        out.extend_from_slice(&r.to_le_bytes());
    }
    out
}

impl EventIndex {
    /// The hash an event is indexed under: its Custom ID and event object.
    pub fn event_hash(custom_id: &str, event: &[u8]) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(custom_id.as_bytes());
        h.update(b"\0");
        h.update(event);
        h.digest()
    }

    /// The hash an event without a time is indexed under: its Custom ID,
    /// event object and `place` (the engine's hash of its file, record and
    /// row), so that the same row read again (a rerun, a resume, a file that
    /// grew) is known, and another row, even one with the same event, is a
    /// new event.
    pub fn event_hash_at(custom_id: &str, event: &[u8], place: u64) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(custom_id.as_bytes());
        h.update(b"\0");
        h.update(event);
        h.update(b"\0at\0");
        h.update(&place.to_le_bytes());
        h.digest()
    }

    /// Whether this index holds time-less events recorded before places
    /// were hashed (by an earlier batchport): such an event is also looked up
    /// under its old [`EventIndex::event_hash`], so nothing sent then is sent
    /// again.
    pub fn knows_unplaced(&self) -> bool {
        self.unplaced
    }

    /// For each event: was it acknowledged by another run (a duplicate)?
    pub fn sent_before(&self, hashes: &[u64]) -> Result<Vec<bool>, StateError> {
        Ok(self.known(hashes)?.into_iter().map(|k| k == Known::Sent).collect())
    }

    /// For each event, what the index knows of it.
    pub fn known(&self, hashes: &[u64]) -> Result<Vec<Known>, StateError> {
        let inner = &self.inner;
        let of = |run: Option<u64>| match run {
            Some(HELD) => Known::Held,
            Some(run) if run != self.run => Known::Sent,
            _ => Known::New,
        };
        let mut out = vec![Known::New; hashes.len()];
        let mut todo: Vec<usize> = Vec::with_capacity(hashes.len());
        {
            let j = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            for (i, h) in hashes.iter().enumerate() {
                match j.events.get(h) {
                    Some(&run) => out[i] = of(Some(run)),
                    None => todo.push(i),
                }
            }
        }
        todo.sort_unstable_by_key(|&i| hashes[i]);
        let mut at = 0;
        while at < todo.len() {
            let bucket = bucket_of(hashes[todo[at]]);
            let value = inner.events.get(name_key(BUCKET, &self.scope, Some(bucket))).map_err(|e| inner.err(e))?;
            while at < todo.len() && bucket_of(hashes[todo[at]]) == bucket {
                let i = todo[at];
                out[i] = of(value.as_deref().and_then(|v| lookup(v, hashes[i])));
                at += 1;
            }
        }
        Ok(out)
    }

    /// Record events Batch acknowledged (call only after the ack, before the
    /// batch's ledger record). Durable with the store's next flush.
    pub fn record_acked(&self, hashes: &[u64]) -> Result<(), StateError> {
        self.record(hashes, self.run)
    }

    /// Record events whose outcome is unknown: no run sends them again.
    pub fn record_held(&self, hashes: &[u64]) -> Result<(), StateError> {
        self.record(hashes, HELD)
    }

    fn record(&self, hashes: &[u64], run: u64) -> Result<(), StateError> {
        if hashes.is_empty() {
            return Ok(());
        }
        let inner = &self.inner;
        let mut value = Vec::with_capacity(hashes.len() * PAIR);
        for h in hashes {
            value.extend_from_slice(&h.to_le_bytes());
            value.extend_from_slice(&run.to_le_bytes());
        }
        let n = inner.db.generate_id().map_err(|e| inner.err(e))?;
        let key = name_key(JOURNAL, &self.scope, Some(n));
        inner.events.insert(key.as_slice(), value).map_err(|e| inner.err(e))?;
        let mut j = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        for &h in hashes {
            j.events.entry(h).or_insert(run);
        }
        j.keys.push(key.into());
        if j.events.len() >= MERGE_AT {
            self.merge(&mut j)?;
        }
        Ok(())
    }

    /// Move the journal into the buckets (one atomic write per bounded chunk,
    /// journal keys removed with the last one).
    fn merge(&self, j: &mut Journal) -> Result<(), StateError> {
        let inner = &self.inner;
        let mut pairs: Vec<(u64, u64)> = j.events.drain().collect();
        pairs.sort_unstable_by_key(|p| p.0);
        let mut batch = sled::Batch::default();
        let mut bytes = 0;
        for group in pairs.chunk_by(|a, b| bucket_of(a.0) == bucket_of(b.0)) {
            let key = name_key(BUCKET, &self.scope, Some(bucket_of(group[0].0)));
            let old = inner.events.get(&key).map_err(|e| inner.err(e))?;
            let new = merge_bucket(old.as_deref().unwrap_or_default(), group);
            bytes += new.len();
            batch.insert(key, new);
            // Bucket writes are idempotent: a kill between chunks leaves the
            // journal in place, merged again next time.
            if bytes >= WRITE_BATCH_BYTES {
                inner.events.apply_batch(std::mem::take(&mut batch)).map_err(|e| inner.err(e))?;
                bytes = 0;
            }
        }
        for k in j.keys.drain(..) {
            batch.remove(k);
        }
        inner.events.apply_batch(batch).map_err(|e| inner.err(e))
    }

    /// The number of events in the index (tests, `status`).
    pub fn len(&self) -> Result<u64, StateError> {
        let inner = &self.inner;
        let mut j = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        self.merge(&mut j)?;
        let mut n = 0;
        for v in inner.events.scan_prefix(name_key(BUCKET, &self.scope, None)).values() {
            n += (v.map_err(|e| inner.err(e))?.len() / PAIR) as u64;
        }
        Ok(n)
    }

    /// Whether the index holds no event.
    pub fn is_empty(&self) -> Result<bool, StateError> {
        Ok(self.len()? == 0)
    }
}

impl Store {
    /// The event index of `scope` (a job at a destination, see
    /// the engine's `service::Destination::scope`), as seen from run `run_id`: its
    /// journal is read back from the store.
    pub fn event_index(&self, scope: &str, run_id: &str) -> Result<EventIndex, StateError> {
        let inner = &self.inner;
        let mut journal = Journal::default();
        for kv in inner.events.scan_prefix(name_key(JOURNAL, scope, None)) {
            let (k, v) = kv.map_err(|e| inner.err(e))?;
            for pair in v.chunks_exact(PAIR) {
                journal.events.entry(read_u64(pair, 0)).or_insert(read_u64(pair, 8));
            }
            journal.keys.push(k);
        }
        let placed = name_key(PLACED, scope, None);
        let unplaced = !inner.events.contains_key(&placed).map_err(|e| inner.err(e))? && {
            let any = |tag| inner.events.scan_prefix(name_key(tag, scope, None)).next().is_some();
            any(BUCKET) || any(JOURNAL)
        };
        if !unplaced {
            // Durable with the first batch this run records.
            inner.events.insert(placed, &[1u8][..]).map_err(|e| inner.err(e))?;
        }
        Ok(EventIndex {
            inner: inner.clone(),
            scope: scope.to_string(),
            run: xxhash_rust::xxh3::xxh3_64(run_id.as_bytes()),
            journal: Arc::new(Mutex::new(journal)),
            unplaced,
        })
    }

    /// Forget the event indexes of `job` at every destination. Returns
    /// whether there was anything.
    pub fn reset_event_index(&self, job: &str) -> Result<bool, StateError> {
        let inner = &self.inner;
        let mut batch = sled::Batch::default();
        let mut had = false;
        for tag in [BUCKET, JOURNAL, PLACED] {
            for k in inner.events.scan_prefix(super::scopes_prefix(tag, job)).keys() {
                batch.remove(k.map_err(|e| inner.err(e))?);
                had = true;
            }
        }
        inner.events.apply_batch(batch).map_err(|e| inner.err(e))?;
        inner.flush()?;
        Ok(had)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_from_before_places_were_hashed_says_so_until_reset() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        let scope = crate::scope("j", "d1");
        let idx = store.event_index(&scope, "run-1").unwrap();
        assert!(!idx.knows_unplaced(), "a new index hashes places");
        idx.record_acked(&[1, 2]).unwrap();
        assert!(!store.event_index(&scope, "run-2").unwrap().knows_unplaced(), "and stays so");
        // As an earlier batchport left it: events, no mark.
        store.inner.events.remove(name_key(PLACED, &scope, None)).unwrap();
        let old = store.event_index(&scope, "run-3").unwrap();
        assert!(old.knows_unplaced());
        assert_eq!(old.known(&[1, 3]).unwrap(), vec![Known::Sent, Known::New]);
        assert!(store.event_index(&scope, "run-4").unwrap().knows_unplaced(), "opening does not mark it");
        assert!(store.reset_event_index("j").unwrap());
        assert!(!store.event_index(&scope, "run-5").unwrap().knows_unplaced(), "reset: a new index");
    }

    #[test]
    fn events_are_duplicates_for_other_runs_only_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (EventIndex::event_hash("u1", b"{\"name\":\"x\"}"), 7u64 << 60, 1u64);
        {
            let store = Store::open(dir.path(), false).unwrap();
            let idx = store.event_index(&crate::scope("j", "d1"), "run-1").unwrap();
            idx.record_acked(&[a, b]).unwrap();
            assert_eq!(idx.sent_before(&[a, b, c]).unwrap(), vec![false, false, false], "its own events");
            let other = store.event_index(&crate::scope("j", "d1"), "run-2").unwrap();
            assert_eq!(other.sent_before(&[a, b, c]).unwrap(), vec![true, true, false]);
            let elsewhere = store.event_index(&crate::scope("j", "d2"), "run-2").unwrap();
            assert_eq!(elsewhere.sent_before(&[a, b]).unwrap(), vec![false, false], "another destination");
            store.flush().unwrap();
        }
        let store = Store::open(dir.path(), false).unwrap();
        let idx = store.event_index(&crate::scope("j", "d1"), "run-3").unwrap();
        assert_eq!(idx.sent_before(&[a, b, c]).unwrap(), vec![true, true, false], "the journal is read back");
        assert_eq!(idx.len().unwrap(), 2);
        assert_eq!(idx.sent_before(&[a, b, c]).unwrap(), vec![true, true, false], "and merged");
        idx.record_held(&[c]).unwrap();
        let d = 99u64;
        assert_eq!(idx.known(&[a, c, d]).unwrap(), vec![Known::Sent, Known::Held, Known::New]);
        assert!(store.reset_event_index("j").unwrap());
        assert!(store.event_index(&crate::scope("j", "d1"), "run-4").unwrap().is_empty().unwrap());
    }

    #[test]
    fn a_merge_keeps_the_first_run() {
        let old = merge_bucket(&[], &[(1, 10), (5, 50)]);
        let merged = merge_bucket(&old, &[(0, 1), (5, 99), (6, 60)]);
        assert_eq!(merged, merge_bucket(&[], &[(0, 1), (1, 10), (5, 50), (6, 60)]));
        assert_eq!(lookup(&merged, 5), Some(50));
        assert_eq!(lookup(&merged, 2), None);
    }
}

/// Scale check (not run by default): `cargo test --lib events_at_scale --
/// --ignored --nocapture`. Records and checks `BATCHPORT_EVENTS_N` events
/// (default 1 M) in 10,000-event batches, as an events run would.
#[cfg(test)]
mod scale {
    use super::*;

    #[test]
    #[ignore]
    fn events_at_scale() {
        let n: u64 = std::env::var("BATCHPORT_EVENTS_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        let scope = crate::scope("j", "d");
        let hashes: Vec<u64> = (0..n).map(|i| xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes())).collect();
        let t = std::time::Instant::now();
        let idx = store.event_index(&scope, "run-1").unwrap();
        for chunk in hashes.chunks(10_000) {
            idx.record_acked(chunk).unwrap();
            store.flush().unwrap();
        }
        let recorded = t.elapsed();
        let t = std::time::Instant::now();
        let other = store.event_index(&scope, "run-2").unwrap();
        let opened = t.elapsed();
        let t = std::time::Instant::now();
        let mut dup = 0;
        for chunk in hashes.chunks(10_000) {
            dup += other.known(chunk).unwrap().iter().filter(|k| **k == Known::Sent).count();
        }
        let checked = t.elapsed();
        assert_eq!(dup as u64, n);
        let disk: u64 = walk(dir.path());
        eprintln!(
            "{n} events: recorded (flush per 10,000) in {recorded:?}, index opened in {opened:?}, checked in {checked:?}, {:.1} MB on disk",
            disk as f64 / 1e6
        );
    }

    fn walk(p: &std::path::Path) -> u64 {
        std::fs::read_dir(p)
            .map(|d| {
                d.flatten()
                    .map(|e| if e.path().is_dir() { walk(&e.path()) } else { e.metadata().map_or(0, |m| m.len()) })
                    .sum()
            })
            .unwrap_or(0)
    }
}
