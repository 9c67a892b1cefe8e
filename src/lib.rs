//! batchport: move user data in and out of Batch (batch.com) through its 2.x
//! Project APIs.
//!
//! The `batchport` binary is one user of this library; this is the other way
//! in, for programs that import or export from their own code:
//!
//! ```no_run
//! # async fn demo() -> Result<(), batchport::Error> {
//! let job = batchport::load_job("nightly.toml")?;
//! let options = batchport::RunOptions::new("/var/lib/batchport")
//!     .keys(batchport::Keys::new("REST_KEY", "PROJECT_KEY"))
//!     .on_event(|event| eprintln!("{event:?}"));
//! let summary = batchport::run_job(&job, &options).await?;
//! println!("{} rows sent, exit code {}", summary.rows_sent, summary.status.code());
//! # Ok(()) }
//! ```
//!
//! A run goes through the one run lifecycle (see `src/run/mod.rs`): open or
//! resume the job's run in its state folder, execute its kind, settle,
//! summarise. It works on any tokio runtime (blocking work goes to the
//! blocking pool) and stops cleanly when its [`CancellationToken`] is
//! cancelled. Keys come from [`RunOptions::keys`], or else from the
//! environment variables the job file names.
//!
//! With the default `emulator` feature, [`Emulator`] runs a local stand-in of
//! the API (what `base_url = "emulator"` and `batchport emulator` use).
//!
//! Source layout, top-down: `run` (the lifecycle), `engine` (imports), `export`,
//! `dispatch` (batches, bodies, the limiter, the retry driver, sending),
//! `state` (the sled store: runs, ledger, change index), `source` (CSV),
//! `transform` (row → operation), `job` (job files), `api` (the HTTP client and
//! the API's limits), `report`, `schedule`, `init`, `emulator`. The command
//! line lives in the binary (`src/main.rs`, `src/cli.rs`, `src/commands/`).
#![warn(missing_docs)]

mod facade;

// The modules live in `internals` (hidden) so that batchport's own binary,
// benches and white-box tests can reach them; inside the crate they keep
// their short paths (`crate::state`, ...).
use internals::{
    api, catalog, dispatch, engine, exit, export, job, objstore, pipeline, report, run, schedule, source, state,
    transform,
};
#[cfg(feature = "emulator")]
use internals::{emulator, process};

pub use exit::Status;
pub use facade::{Error, Event, Job, Keys, RunOptions, load_job, run_job};
pub use report::Summary;
/// `validate`'s forecast, in [`Summary::forecast`]: plain data, part of the facade.
pub use report::forecast::{ConsentCounts, Forecast, RejectGroup};
pub use tokio_util::sync::CancellationToken;

#[cfg(feature = "emulator")]
pub use emulator::{Emulator, EmulatorConfig, Faults};

/// The modules behind the facade, for batchport's own binary, benches and
/// white-box integration tests. Not a stable interface: anything here may
/// change in any release.
#[doc(hidden)]
pub mod internals;
