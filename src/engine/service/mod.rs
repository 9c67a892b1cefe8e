//! What a run gives the kinds it executes: its options and events, the
//! connection (client, destination), the cancellation that stops it, the
//! blocking pool, and how a kind tells the lifecycle it ended. These sit
//! below the kinds (`crate::import`, `crate::export`, `crate::catalog`) and
//! the lifecycle above them (`crate::run`) drives the kinds: nothing here
//! calls up.

mod connect;
mod destination;
mod events;

pub(crate) use connect::Connection;
pub(crate) use destination::Destination;
pub use events::{Event, Events, Keys, Subscriber};

use anyhow::Result;
use batchport_dispatch::Driver;
use batchport_state::Store;
use batchport_transform::job::Job;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// How the caller wants the run done.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The state folder: each job's store (runs, ledger, indexes) is kept
    /// under it, and the rejects files unless the job names a folder.
    pub state_dir: PathBuf,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Cancelled from outside (Ctrl-C, SIGTERM): stop reading, stop waiting,
    /// settle what is in flight, keep progress.
    pub cancel: CancellationToken,
    /// The project's keys; `None`: from the environment variables the job names.
    pub keys: Option<Keys>,
    /// Where the run's events go (notices, progress).
    pub events: Events,
    /// Guards a person accepts for this run (`--override-guard NAME`).
    pub override_guards: Vec<String>,
    /// Write the run's Prometheus text here (wins over `[job] metrics_file`).
    pub metrics_file: Option<PathBuf>,
}

/// How a kind's execution ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Everything was done. `note`: what the user should know about it.
    Done { note: Option<String> },
    /// Stopped by the cancellation token after settling what was in flight.
    Interrupted,
    /// The run would do something the job did not allow (an audience replace
    /// with nothing to send): nothing was changed; `reason` says what to do.
    Refused { reason: String },
}

/// The run was cancelled while a kind waited (for the limiter, a retry, a
/// poll): not a failure. The lifecycle turns it into [`Ended::Interrupted`].
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("stopped by a signal")]
pub(crate) struct Interrupted;

/// A driver's stop as the run's error: cancellation becomes [`Interrupted`],
/// the rest say what was being done.
pub(crate) fn stopped<E: std::fmt::Display>(stop: batchport_dispatch::Stop<E>, doing: &str) -> anyhow::Error {
    match stop {
        batchport_dispatch::Stop::Cancelled => Interrupted.into(),
        other => anyhow::anyhow!("{doing}: {other}"),
    }
}

/// What the lifecycle hands a kind to execute with.
pub(crate) struct Context<'a> {
    pub(crate) job: &'a Job,
    pub(crate) options: &'a Options,
    pub(crate) store: &'a Store,
    pub(crate) connection: &'a Connection,
    /// The key of the job's records at this run's destination (change index,
    /// event index, per-file import records).
    pub(crate) scope: String,
    /// Every request of the run goes through it (or a clone of it for another endpoint: `Driver::for_endpoint`).
    pub(crate) driver: Driver,
}

/// Run blocking work (sled, fsync, file I/O) on tokio's blocking pool and wait
/// for it. The one way batchport leaves the async workers.
pub async fn blocking<T, E, F>(f: F) -> Result<T>
where
    F: FnOnce() -> std::result::Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<anyhow::Error> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Into::into),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(anyhow::anyhow!("a blocking task was cancelled: {e}")),
    }
}
