//! The transform from outside: job files (`job_file.rs`) and rows to
//! operations (`rows.rs`).

mod job_file;
mod rows;
