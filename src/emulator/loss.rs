//! Silent losses: `mass-update` operations Batch accepted (202) but never
//! applied, as an asynchronous processing failure would look from outside.
//!
//! Which operations are lost is decided per Custom ID, not per call: calls
//! reach the server in whatever order concurrency gives them, while a keyed
//! hash of the ID makes the same seed lose the same IDs every time. Each ID
//! is lost at most once (its first operation that qualifies): a loss is a
//! passing failure, so resending the row (a repair) lands.

use std::collections::BTreeSet;
use std::sync::Mutex;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::Faults;

/// The IDs whose operation was lost so far.
#[derive(Default)]
pub(crate) struct Losses {
    lost: Mutex<BTreeSet<Box<str>>>,
}

/// Whether `faults` would lose an operation of `id` (before the once-only rule).
pub(crate) fn targets(faults: &Faults, id: &str) -> bool {
    if faults.drop_ids.iter().any(|d| d == id) {
        return true;
    }
    if faults.drop_rate <= 0.0 {
        return false;
    }
    // Top 53 bits as a fraction in [0, 1): uniform under the seed.
    let h = xxh3_64_with_seed(id.as_bytes(), faults.seed ^ 0x6c6f_7373);
    ((h >> 11) as f64 / (1u64 << 53) as f64) < faults.drop_rate
}

impl Losses {
    /// Whether this operation of `id` is lost: targeted, and not lost before.
    pub(crate) fn lose(&self, faults: &Faults, id: &str) -> bool {
        if !targets(faults, id) {
            return false;
        }
        self.lost.lock().unwrap_or_else(|e| e.into_inner()).insert(id.into())
    }

    /// Every ID lost so far, sorted.
    pub(crate) fn ids(&self) -> Vec<String> {
        self.lost.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|s| s.to_string()).collect()
    }

    pub(crate) fn clear(&self) {
        self.lost.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// How many IDs were lost.
    pub(crate) fn len(&self) -> u64 {
        self.lost.lock().unwrap_or_else(|e| e.into_inner()).len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_loses_the_same_ids_near_the_rate_and_each_only_once() {
        let f = Faults { drop_rate: 0.1, seed: 9, ..Faults::default() };
        let ids: Vec<String> = (0..10_000).map(|i| format!("u{i}")).collect();
        let picked: Vec<&String> = ids.iter().filter(|id| targets(&f, id)).collect();
        assert!((800..1200).contains(&picked.len()), "{}", picked.len());
        let again: Vec<&String> = ids.iter().filter(|id| targets(&f, id)).collect();
        assert_eq!(picked, again);
        let other = Faults { seed: 10, ..f.clone() };
        assert_ne!(picked, ids.iter().filter(|id| targets(&other, id)).collect::<Vec<_>>());
        let losses = Losses::default();
        assert!(losses.lose(&f, picked[0]));
        assert!(!losses.lose(&f, picked[0]), "lost once, applied after");
        assert_eq!(losses.ids(), vec![picked[0].clone()]);
    }

    #[test]
    fn named_ids_are_lost_without_a_rate() {
        let f = Faults { drop_ids: vec!["u7".into()], ..Faults::default() };
        assert!(targets(&f, "u7"));
        assert!(!targets(&f, "u70"));
        assert!(!targets(&Faults::default(), "u7"));
    }
}
