//! What the destination already has from this job, beyond the run: the input
//! files it received whole (per-file import records) and, for events jobs,
//! the events it acknowledged (the event index). A glob run skips the files
//! imported unchanged, re-reads the changed ones, and never sends an event
//! twice.

use crate::pipeline::{self, Chunk};
use crate::service::blocking;
use anyhow::Result;
use batchport_source::CsvSource;
use batchport_state::{self as state, BatchState, EventIndex, Fingerprint, Known, Run, RunProgress, RunStatus, Store};
use batchport_transform::job::{AudienceMode, Job, Mapping};
use batchport_transform::{Mapped, Transformer};
use std::path::PathBuf;

/// The files a run found already imported to its destination.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Imported unchanged: not read again.
    skipped: Vec<PathBuf>,
    /// Imported, then changed (grew, rewritten): read again.
    changed: Vec<PathBuf>,
}

impl Seen {
    /// Mark the files `scope` already imported unchanged (under the same
    /// mapping) as done in `files_done`, and list the changed ones.
    /// An audience replace is the whole input, never the files that are new:
    /// it skips nothing.
    pub(crate) async fn check(
        job: &Job,
        store: &Store,
        scope: &str,
        prints: &[Fingerprint],
        files_done: &mut [bool],
    ) -> Result<Seen> {
        if matches!(&job.mapping, Mapping::Audience(a) if a.mode == AudienceMode::Replace) {
            return Ok(Seen::default());
        }
        let (s, scope, prints2) = (store.clone(), scope.to_string(), prints.to_vec());
        let records = blocking(move || {
            prints2.iter().map(|p| s.imported(&scope, &p.path)).collect::<Result<Vec<_>, state::StateError>>()
        })
        .await?;
        let mut seen = Seen::default();
        for (i, (p, rec)) in prints.iter().zip(records).enumerate() {
            match rec {
                _ if files_done[i] => {}
                Some(rec) if rec.is(p, &job.mapping_print) => {
                    files_done[i] = true;
                    seen.skipped.push(p.path.clone());
                }
                Some(_) => seen.changed.push(p.path.clone()),
                None => {}
            }
        }
        Ok(seen)
    }

    /// What the summary says about them, before the kind's own `note`.
    pub(crate) fn note(&self, events: bool, note: Option<String>) -> Option<String> {
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
        parts.extend(note);
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Record that the run read `print`'s file to its end for `scope`, under
/// the mapping `mapping`.
pub(crate) async fn imported(
    store: &Store,
    scope: &str,
    print: &Fingerprint,
    run_id: &str,
    mapping: &str,
) -> Result<()> {
    let (s, scope, print, id, mapping) =
        (store.clone(), scope.to_string(), print.clone(), run_id.to_string(), mapping.to_string());
    blocking(move || s.record_imported(&scope, &print, &id, Some(&mapping))).await
}

/// What the event index knows of each operation of `chunk` (`New` for rejects).
pub(crate) async fn duplicates(events: Option<EventIndex>, key: EventKey, chunk: Chunk) -> Result<(Chunk, Vec<Known>)> {
    let Some(ev) = events else { return Ok((chunk, Vec::new())) };
    blocking(move || {
        let ops = || {
            chunk.results.iter().map(|r| match r {
                Mapped::Op(op) => Some(op),
                _ => None,
            })
        };
        let hashes: Vec<u64> = ops().map(|op| op.map_or(0, |op| key.hash(op))).collect();
        let mut dup = ev.known(&hashes)?;
        if ev.knows_unplaced() && key.file.is_some() {
            // Rows that are no operation look up 0: they end `New` below.
            let old: Vec<u64> = ops().map(|op| op.and_then(|op| key.unplaced(op)).unwrap_or(0)).collect();
            // Sent (or held) under the old hash by an earlier batchport: the same.
            for (d, o) in dup.iter_mut().zip(ev.known(&old)?) {
                if *d == Known::New {
                    *d = o;
                }
            }
        }
        for (d, r) in dup.iter_mut().zip(&chunk.results) {
            if !matches!(r, Mapped::Op(_)) {
                *d = Known::New;
            }
        }
        Ok::<_, state::StateError>((chunk, dup))
    })
    .await
}

/// The event index of an events run at its destination; a new run first
/// takes over what the unfinished run it replaced had in flight.
pub(crate) async fn open_events(job: &Job, store: &Store, scope: &str, run: &Run, fresh: bool) -> Result<EventIndex> {
    let (s, scope, id) = (store.clone(), scope.to_string(), run.id.clone());
    let events = blocking(move || s.event_index(&scope, &id)).await?;
    if fresh && run.counters.rows_read == 0 {
        inherit_held(job, store, run, &events).await?;
    }
    Ok(events)
}

/// What names an event in the event index. With a time column, the event
/// itself (Custom ID, name, time, attributes): the same event from any file
/// or row is one. Without one, Batch stamps each event when it arrives, so
/// tomorrow's `u1,app_open` is not yesterday's: the row's place (its file,
/// its record, the row's fields) joins the hash. A rerun or resume of the
/// same file, or a file that grew, knows its rows; a new file, or a new
/// export at the same path whose row differs, brings new events. (A row
/// byte for byte the same at the same place of a rewritten file is taken
/// for the same event; a file moved or reordered brings new ones: map a
/// time to avoid both.)
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventKey {
    /// A hash of the file's path, for time-less events.
    file: Option<u64>,
}

impl EventKey {
    /// The key of `job`'s events read from `path` (a local file by its
    /// canonical path, as the run's fingerprints name it).
    pub(crate) fn of(job: &Job, path: &std::path::Path) -> EventKey {
        let timed = matches!(&job.mapping, Mapping::Events(e) if e.has_time());
        let file = (!timed).then(|| {
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            xxhash_rust::xxh3::xxh3_64(canonical.as_os_str().as_encoded_bytes())
        });
        EventKey { file }
    }

    /// The hash `op`'s event is indexed under.
    pub(crate) fn hash(self, op: &batchport_transform::Op) -> u64 {
        let event = op.event.as_deref().unwrap_or_default();
        match self.file {
            None => EventIndex::event_hash(&op.key, event),
            Some(file) => {
                let mut place = xxhash_rust::xxh3::Xxh3::new();
                place.update(&file.to_le_bytes());
                place.update(&op.pos.record.to_le_bytes());
                place.update(&op.row.to_le_bytes());
                EventIndex::event_hash_at(&op.key, event, place.digest())
            }
        }
    }

    /// The hash an index from before places were hashed knows a time-less
    /// event by (`None` for a timed one: its hash did not change).
    fn unplaced(self, op: &batchport_transform::Op) -> Option<u64> {
        self.file.map(|_| EventIndex::event_hash(&op.key, op.event.as_deref().unwrap_or_default()))
    }
}

/// The hand-off of a planned events batch: marked `Sent` in the ledger,
/// durably, just before its first request leaves.
pub(crate) fn handoff(store: Store, run_id: String, record: state::BatchRecord) -> crate::sending::send::HandOff {
    Box::new(move || {
        Box::pin(async move { blocking(move || store.mark_sent(&run_id, &record)).await.map_err(|e| format!("{e:#}")) })
    })
}

/// A new events run that replaced an unfinished one (its input changed)
/// takes over what that run did not know the outcome of: the rows of its
/// batches whose request had left are held in the event index, so this run
/// holds them again instead of sending them a second time.
async fn inherit_held(job: &Job, store: &Store, run: &Run, events: &EventIndex) -> Result<()> {
    let (s, id, dest) = (store.clone(), run.id.clone(), run.destination.clone());
    let Some((prev, batches)) = blocking(move || {
        let runs = s.runs()?;
        // Only at the same destination: elsewhere those rows were never sent.
        let prev = runs.iter().skip_while(|r| r.id != id).nth(1).filter(|r| {
            r.status == RunStatus::Abandoned && r.destination.as_ref().is_none_or(|d| Some(d) == dest.as_ref())
        });
        match prev {
            Some(p) => Ok::<_, state::StateError>(Some((p.clone(), s.batches(&p.id)?))),
            None => Ok(None),
        }
    })
    .await?
    else {
        return Ok(());
    };
    let marks_sent = matches!(&prev.progress, RunProgress::Import(p) if p.marks_sent);
    let mut ranges: Vec<(usize, u64, u64)> = batches
        .iter()
        .filter(|b| b.state == BatchState::Sent || (b.state == BatchState::Planned && !marks_sent))
        .map(|b| (b.file, b.first.record, b.last.record))
        .collect();
    if ranges.is_empty() {
        return Ok(());
    }
    ranges.sort_unstable();
    let (job, events) = (job.clone(), events.clone());
    let opts = job.source.as_ref().map(|s| s.options.clone()).unwrap_or_default();
    blocking(move || {
        let mut held = Vec::new();
        for (file, group) in ranges.chunk_by(|a, b| a.0 == b.0).map(|g| (g[0].0, g)) {
            let Some(print) = prev.inputs.get(file) else { continue };
            let path = print.path.clone();
            // Rewritten since: its rows are no longer at the record numbers the
            // ledger knows; reading there would hold other events and leave the
            // ones in flight to be sent again. Nothing of it is told apart.
            if !state::still_begins_as(print) {
                tracing::warn!(
                    run = %prev.id,
                    path = %path.display(),
                    "events were in flight when the abandoned run stopped, and the file was rewritten since: \
                     they cannot be found in it; if the new file holds them, they are sent again"
                );
                continue;
            }
            // Gone or unreadable: nothing of it can be read again either.
            let Ok(csv) = CsvSource::open(&path, &opts) else { continue };
            let t = Transformer::bind(&job, csv.headers(), &path)?;
            let key = EventKey::of(&job, &path);
            let last = group.iter().map(|r| r.2).max().unwrap_or(0);
            pipeline::for_each_chunk(csv, &t, |chunk| {
                let mut past = false;
                for op in chunk.results.iter().filter_map(|r| if let Mapped::Op(op) = r { Some(op) } else { None }) {
                    let r = op.pos.record;
                    past |= r > last;
                    if group.iter().any(|&(_, first, last)| first <= r && r <= last) {
                        held.push(key.hash(op));
                    }
                }
                !past
            })?;
        }
        tracing::info!(rows = held.len(), run = %prev.id, "held: in flight when the abandoned run stopped");
        events.record_held(&held)?;
        Ok::<_, anyhow::Error>(())
    })
    .await
}

impl super::Import {
    /// A run is continued over this input when every file it was about is
    /// still here, unchanged, and new files were added (a glob that grew):
    /// starting over would lose what it knows of the batches in flight.
    pub(crate) fn extends(&self, run: &Run) -> bool {
        run.inputs.len() < self.prints.len() && run.inputs.iter().all(|p| self.prints.contains(p))
    }

    /// Take `run`'s order of files, the new ones after (the ledger names
    /// files by their place in `run.inputs`).
    pub(super) fn adopt(&mut self, run: &mut Run) {
        if run.inputs == self.prints {
            return;
        }
        let mut prints = run.inputs.clone();
        prints.extend(self.prints.iter().filter(|p| !run.inputs.contains(p)).cloned());
        self.files = prints.iter().map(|p| p.path.clone()).collect();
        self.prints = prints.clone();
        run.inputs = prints;
        if let RunProgress::Import(p) = &mut run.progress {
            p.files_done.resize(run.inputs.len(), false);
        }
    }
}
