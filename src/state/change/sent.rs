//! The Custom IDs a run has sent so far (by id hash), for `changed_only`.
//!
//! The index's lookups read the base as the last run left it, one pair per
//! ID: the last row Batch acknowledged for it. When an ID has several rows in
//! one run's input, a later row equal to that pair must not be skipped once
//! an earlier row of the same ID was sent tonight: Batch then holds the
//! earlier row, and the later one must follow it (last row wins). Within one
//! file the scan decides by each ID's last row (`scan.rs`); this set carries
//! the decision across the files of a glob and along a read-once stream.
//!
//! A bit per hash bucket (8 MB, allocated at the first mark): a false
//! positive only sends a row that was unchanged, never skips one.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// log2 of the number of bits.
const BITS: u32 = 26;

#[derive(Default)]
pub struct Sent {
    bits: OnceLock<Box<[AtomicU64]>>,
}

impl Sent {
    fn slot(id_hash: u64) -> (usize, u64) {
        let b = id_hash >> (64 - BITS);
        ((b / 64) as usize, 1 << (b % 64))
    }

    /// Note that a row of `id_hash` is sent in this run.
    pub fn mark(&self, id_hash: u64) {
        let bits = self.bits.get_or_init(|| (0..(1usize << BITS) / 64).map(|_| AtomicU64::new(0)).collect());
        let (w, m) = Self::slot(id_hash);
        bits[w].fetch_or(m, Ordering::Relaxed);
    }

    /// Whether a row of `id_hash` may have been sent in this run.
    pub fn contains(&self, id_hash: u64) -> bool {
        let Some(bits) = self.bits.get() else { return false };
        let (w, m) = Self::slot(id_hash);
        bits[w].load(Ordering::Relaxed) & m != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_seen_and_nothing_else_is_before_any() {
        let s = Sent::default();
        assert!(!s.contains(42));
        assert!(s.bits.get().is_none(), "nothing allocated before the first mark");
        let ids: Vec<u64> = (0..1000u64).map(|i| xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes())).collect();
        ids.iter().for_each(|&i| s.mark(i));
        assert!(ids.iter().all(|&i| s.contains(i)));
        let others = (1000..101_000u64).filter(|i| s.contains(xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()))).count();
        assert!(others < 10, "{others} false positives of 100,000");
    }
}
