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
//! A run goes through the one run lifecycle (`batchport_engine::run`): open
//! or resume the job's run in its state folder, execute its kind, settle,
//! summarise. It works on any tokio runtime (blocking work goes to the
//! blocking pool) and stops cleanly when its [`CancellationToken`] is
//! cancelled. Keys come from [`RunOptions::keys`], or else from the
//! environment variables the job file names.
//!
//! With the default `emulator` feature, [`Emulator`] runs a local stand-in of
//! the API (what `base_url = "emulator"` and `batchport emulator` use).
//!
//! The work is done by the workspace's crates, each depending only on those
//! below it (the crate map is in docs/development.md): `batchport-engine` (the run
//! lifecycle and the kinds), `batchport-state` and `batchport-transform`,
//! `batchport-source`, `batchport-dispatch`, `batchport-api`, and
//! `batchport-emulator`. This crate is their facade, plus what only a
//! person at a terminal needs ([`init`], [`schedule`], [`exit`]); the command
//! line lives in the binary (`src/main.rs`, `src/cli.rs`, `src/commands/`).

mod facade;

pub mod exit;
pub mod init;
pub mod schedule;

pub use batchport_engine::report::Summary;
/// `validate`'s forecast, in [`Summary::forecast`]: plain data, part of the facade.
pub use batchport_engine::report::forecast::{ConsentCounts, ConsentValue, Forecast, RejectGroup};
pub use batchport_engine::service::{Event, Keys};
pub use exit::Status;
pub use facade::{Error, Job, RunOptions, load_job, run_job};
pub use tokio_util::sync::CancellationToken;

#[cfg(feature = "emulator")]
pub use batchport_emulator::{Emulator, EmulatorConfig, Faults};
