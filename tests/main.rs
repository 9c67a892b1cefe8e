//! The one integration test binary: each module below owns one area.
mod common;
mod dispatch;
mod job_file;
mod source;
mod state;
mod transform;
mod validate;
