//! The one integration test binary: each module below owns one area.
mod common;
mod dispatch;
mod emulator;
mod init;
mod job_file;
mod resume;
mod run;
mod schedule;
mod source;
mod state;
mod transform;
mod validate;
