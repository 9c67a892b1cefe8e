//! Per-ID order: two rows of one Custom ID reach Batch in file order whatever
//! retries, splits and concurrency do. Within a batch, the rows of an ID are
//! in one request in file order (a split sends its halves one after the
//! other, first half first). Across batches, a batch does not leave while an
//! earlier batch holding one of its IDs is unsettled: it waits for it, as it
//! would for a concurrency slot. Files are drained one after the other.

use crate::sending::batch::ByHash;
use std::collections::HashMap;

/// The IDs of the batches in flight, by the hashes the batcher collected
/// (`Batch::keys`).
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    /// Keyed by xxh3 hashes, already uniform: not hashed again.
    counts: HashMap<u64, u32, ByHash>,
    /// Batches that had to wait for an earlier one holding one of their IDs.
    pub(crate) waits: u64,
}

impl InFlight {
    /// Does a batch in flight hold one of `keys`?
    pub(crate) fn conflicts(&self, keys: &[u64]) -> bool {
        !self.counts.is_empty() && keys.iter().any(|k| self.counts.contains_key(k))
    }

    pub(crate) fn add(&mut self, keys: &[u64]) {
        for &k in keys {
            *self.counts.entry(k).or_default() += 1;
        }
    }

    /// A batch holding `keys` is settled (or given up).
    pub(crate) fn remove(&mut self, keys: &[u64]) {
        for k in keys {
            if let Some(c) = self.counts.get_mut(k) {
                *c -= 1;
                if *c == 0 {
                    self.counts.remove(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_conflicts_only_while_one_of_its_ids_is_in_flight() {
        let mut f = InFlight::default();
        let (a, b) = ([1, 2], [2, 3]);
        assert!(!f.conflicts(&a));
        f.add(&a);
        f.add(&[2]);
        assert!(f.conflicts(&b) && !f.conflicts(&[4]));
        f.remove(&a);
        assert!(f.conflicts(&b), "2 is still held by the second batch");
        f.remove(&[2]);
        assert!(!f.conflicts(&b));
    }
}
