//! `verify --rebuild-index`: the job's change index replaced by what Batch
//! holds. Every profile that matches the input gets the change pair of its
//! last row, as a run that sent it would have recorded; the profiles that
//! differ or are missing get nothing, so the next `changed_only` run sends
//! them (and only them).

use anyhow::Result;
use batchport_state::{ChangeIndex, Store};
use std::path::Path;

/// Pairs recorded in one append.
const FLUSH_PAIRS: usize = 1 << 16;

/// A change index being rebuilt.
pub(crate) struct Rebuild {
    /// Kept open: the job's store is its run lock, so no run starts meanwhile.
    _store: Store,
    index: ChangeIndex,
    pending: Vec<(u64, u64)>,
    recorded: u64,
}

impl Rebuild {
    /// Forget the job's index at destination `scope`, and start a new one.
    pub(crate) fn start(state_dir: &Path, job: &str, scope: &str) -> Result<Rebuild> {
        let store = crate::run::open_store_blocking(state_dir, job)?;
        store.reset_change_index(scope)?;
        let index = store.change_index(scope)?;
        Ok(Rebuild { _store: store, index, pending: Vec::with_capacity(FLUSH_PAIRS), recorded: 0 })
    }

    /// One profile Batch holds as the input says.
    pub(crate) fn push(&mut self, pair: (u64, u64)) -> Result<()> {
        self.pending.push(pair);
        if self.pending.len() >= FLUSH_PAIRS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.index.record_acked(&self.pending)?;
        self.recorded += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Make the new index durable; how many profiles it holds.
    pub(crate) fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.index.commit()?;
        Ok(self.recorded)
    }
}
