//! Hardening (issue 15, and 13.5/13.6 in the reader): hostile files, broken
//! environments and signals. Each test is named after the bug it pins down.

mod docs;
mod jobs;
mod output;
mod private;
mod process;
mod reader;
mod schedule;
mod secrets;
