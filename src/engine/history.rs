//! What the destination already has from this job, beyond the run: the input
//! files it received whole (per-file import records) and, for events jobs,
//! the events it acknowledged (the event index). A glob run skips the files
//! imported unchanged, re-reads the changed ones, and never sends an event
//! twice.

use crate::pipeline::Chunk;
use crate::run::blocking;
use crate::state::{self, EventIndex, Fingerprint, Store};
use anyhow::Result;
use std::path::PathBuf;

/// The files a run found already imported to its destination.
#[derive(Debug, Default)]
pub struct Seen {
    /// Imported unchanged: not read again.
    pub skipped: Vec<PathBuf>,
    /// Imported, then changed (grew, rewritten): read again.
    pub changed: Vec<PathBuf>,
}

impl Seen {
    /// Mark the files `scope` already imported unchanged as done in
    /// `files_done`, and list the changed ones.
    pub async fn check(store: &Store, scope: &str, prints: &[Fingerprint], files_done: &mut [bool]) -> Result<Seen> {
        let (s, scope, prints2) = (store.clone(), scope.to_string(), prints.to_vec());
        let records = blocking(move || {
            prints2.iter().map(|p| s.imported(&scope, &p.path)).collect::<Result<Vec<_>, state::StateError>>()
        })
        .await?;
        let mut seen = Seen::default();
        for (i, (p, rec)) in prints.iter().zip(records).enumerate() {
            match rec {
                _ if files_done[i] => {}
                Some(rec) if rec.print == *p => {
                    files_done[i] = true;
                    seen.skipped.push(p.path.clone());
                }
                Some(_) => seen.changed.push(p.path.clone()),
                None => {}
            }
        }
        Ok(seen)
    }

    /// What the summary says about them, if anything.
    pub fn note(&self, events: bool) -> Option<String> {
        let names = |v: &[PathBuf]| {
            v.iter().map(|p| p.file_name().unwrap_or(p.as_os_str()).to_string_lossy().into_owned()).collect::<Vec<_>>()
        };
        let mut parts = Vec::new();
        if !self.skipped.is_empty() {
            parts.push(format!(
                "{} file(s) already imported to this destination unchanged, skipped: {}",
                self.skipped.len(),
                names(&self.skipped).join(", ")
            ));
        }
        if !self.changed.is_empty() {
            parts.push(format!(
                "{} file(s) changed since imported, read again{}: {}",
                self.changed.len(),
                if events { " (events already sent are skipped, see rows_duplicate)" } else { "" },
                names(&self.changed).join(", ")
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Record that the run read `print`'s file to its end for `scope`.
pub async fn imported(store: &Store, scope: &str, print: &Fingerprint, run_id: &str) -> Result<()> {
    let (s, scope, print, id) = (store.clone(), scope.to_string(), print.clone(), run_id.to_string());
    blocking(move || s.record_imported(&scope, &print, &id)).await
}

/// The event-index hash of each operation of `chunk` (0 for rejects), and
/// which of them this destination acknowledged in another run.
pub async fn duplicates(events: Option<EventIndex>, chunk: Chunk) -> Result<(Chunk, Vec<bool>)> {
    let Some(ev) = events else { return Ok((chunk, Vec::new())) };
    blocking(move || {
        let hashes: Vec<u64> = chunk
            .results
            .iter()
            .map(|r| match r {
                Ok(op) => EventIndex::event_hash(&op.key, op.event.as_deref().unwrap_or_default()),
                Err(_) => 0,
            })
            .collect();
        let mut dup = ev.sent_before(&hashes)?;
        for (d, r) in dup.iter_mut().zip(&chunk.results) {
            *d &= r.is_ok();
        }
        Ok::<_, state::StateError>((chunk, dup))
    })
    .await
}
