//! Audience `replace` as a state machine. The first call Batch accepts on
//! `/audiences/replace` replaces the whole audience; every later call must
//! *add* to what it left, and nothing may overtake that first call.
//!
//! ```text
//! Adding ──────────────────────────────────── (not a replace job)
//! Pending ── accepted (an answer came) ──▶ Replaced
//!         ── resumed (an earlier attempt of the run sent rows) ──▶ Replaced
//! ```
//!
//! Shared by the engine (which sends one batch at a time while `Pending`)
//! and the senders (which report the acceptance); only these transitions
//! exist, so no caller can put it back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Where a job's audience replace stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplaceState {
    /// Not a replace job: every call adds (or removes).
    Adding,
    /// No replace accepted yet: the next call goes to `/audiences/replace`.
    Pending,
    /// Batch accepted the replace: the rest of the rows are added.
    Replaced,
}

/// The shared state (cheap to clone; clones share it).
#[derive(Debug, Clone)]
pub(crate) struct Replace(Arc<AtomicU8>);

impl Replace {
    /// `replacing`: the job's mode is `replace`.
    pub(crate) fn new(replacing: bool) -> Replace {
        Replace(Arc::new(AtomicU8::new(if replacing { PENDING } else { ADDING })))
    }

    fn state(&self) -> ReplaceState {
        match self.0.load(Ordering::Acquire) {
            PENDING => ReplaceState::Pending,
            REPLACED => ReplaceState::Replaced,
            _ => ReplaceState::Adding,
        }
    }

    pub(crate) fn is_pending(&self) -> bool {
        self.state() == ReplaceState::Pending
    }

    /// Batch answered a call to `/audiences/replace`.
    pub(crate) fn accepted(&self) {
        self.finish();
    }

    /// Resuming a run whose earlier attempt had rows accepted: its replace
    /// happened then, and is not redone.
    pub(crate) fn resumed_after_send(&self) {
        self.finish();
    }

    fn finish(&self) {
        let _ = self.0.compare_exchange(PENDING, REPLACED, Ordering::AcqRel, Ordering::Acquire);
    }
}

const ADDING: u8 = 0;
const PENDING: u8 = 1;
const REPLACED: u8 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pending_replace_moves_and_only_forward() {
        let add = Replace::new(false);
        add.accepted();
        assert_eq!(add.state(), ReplaceState::Adding);
        let r = Replace::new(true);
        let shared = r.clone();
        assert!(r.is_pending());
        shared.accepted();
        assert_eq!(r.state(), ReplaceState::Replaced);
        r.resumed_after_send();
        assert_eq!(r.state(), ReplaceState::Replaced);
    }
}
