//! The one integration test binary: each module below owns one area.
mod common;
mod delta;
mod dispatch;
mod emulator;
mod export;
mod init;
mod job_file;
mod kinds;
mod objstore;
mod resume;
mod run;
mod schedule;
mod source;
mod state;
mod transform;
mod validate;
mod waits;
