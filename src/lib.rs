//! batchport: move user data in and out of Batch (batch.com) through its 2.x
//! Project APIs. The binary in `main.rs` is a thin shell over this library.

pub mod api;
pub mod cli;
pub mod commands;
pub mod dispatch;
pub mod emulator;
pub mod engine;
pub mod exit;
pub mod export;
pub mod init;
pub mod job;
pub mod objstore;
pub mod paths;
pub mod pipeline;
pub mod report;
pub mod run;
pub mod schedule;
pub mod source;
pub mod state;
pub mod testdata;
pub mod transform;
