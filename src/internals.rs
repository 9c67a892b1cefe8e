//! Every module of the library, hidden behind the facade (see `lib.rs`). The
//! `#[path]`s keep the files where a newcomer looks for them (`src/state/`,
//! ...); inside the crate they are reached as `crate::state`.

#[path = "api/mod.rs"]
pub mod api;
#[path = "catalog.rs"]
pub mod catalog;
#[path = "dispatch/mod.rs"]
pub mod dispatch;
#[cfg(feature = "emulator")]
#[path = "emulator/mod.rs"]
pub mod emulator;
#[path = "engine/mod.rs"]
pub mod engine;
#[path = "exit.rs"]
pub mod exit;
#[path = "export/mod.rs"]
pub mod export;
#[path = "init/mod.rs"]
pub mod init;
#[path = "job/mod.rs"]
pub mod job;
#[path = "objstore/mod.rs"]
pub mod objstore;
#[path = "paths.rs"]
pub mod paths;
#[path = "pipeline.rs"]
pub mod pipeline;
#[path = "process.rs"]
pub mod process;
#[path = "report/mod.rs"]
pub mod report;
#[path = "run/mod.rs"]
pub mod run;
#[path = "schedule/mod.rs"]
pub mod schedule;
#[path = "source/mod.rs"]
pub mod source;
#[path = "state/mod.rs"]
pub mod state;
#[path = "testdata.rs"]
pub mod testdata;
#[path = "transform/mod.rs"]
pub mod transform;
