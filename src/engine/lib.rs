//! The run, and one module per kind of work. Top-down:
//!
//! - [`run`]: the lifecycle: connect, open or resume the job's run, execute
//!   its kind, settle, summarise. It drives the kinds.
//! - the kinds: [`import`] (profiles, events, audiences, catalogs),
//!   [`export`], `catalog` (a catalog's creation); [`pipeline`] is the
//!   reading-and-mapping stage they share and `sending` the batches, bodies
//!   and sender of imports.
//! - [`guard`]: the preflight pass and the guards judged before a run's
//!   first request; `notify`: the webhook told how a run ended.
//! - [`service`]: what a run gives the kinds (options, events, connection,
//!   cancellation, the blocking pool, how a kind ended), below them all;
//!   [`report`] and [`status`]: the summary, rejects files and forecasts.
//!
//! - [`verify`]: a profiles job's input against what Batch holds; above the
//!   lifecycle, since its repair is a run.
//!
//! Nothing calls up this list: a kind never reaches into the lifecycle.
//!
//! Public is what the `batchport` crate, its binary, benches and tests use;
//! everything else is `pub(crate)` or private.

pub(crate) mod catalog;
pub mod export;
pub mod guard;
pub mod import;
pub(crate) mod notify;
pub mod pipeline;
pub mod report;
pub mod run;
pub(crate) mod sending;
pub mod service;
pub mod status;
pub mod verify;
