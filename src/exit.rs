//! Exit codes, decided in one place (JOBS.md): scripts and cron depend on them.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Done,
    DoneWithRejects,
    Failed,
    Interrupted,
}

impl Status {
    pub fn code(self) -> i32 {
        match self {
            Status::Done => 0,
            Status::DoneWithRejects => 3,
            Status::Failed => 1,
            Status::Interrupted => 130,
        }
    }
}

/// Bad usage or a bad job file.
pub const USAGE: i32 = 2;
/// Anything else that stops a command.
pub const FAILED: i32 = 1;

/// The exit code for an error that ended a command.
pub fn for_error(e: &anyhow::Error) -> i32 {
    // No credentials for an object store is a setup mistake, like a bad job file.
    let usage = |c: &(dyn std::error::Error + 'static)| {
        c.is::<crate::job::JobError>() || c.is::<UsageError>() || c.is::<crate::objstore::NoCredentials>()
    };
    if e.chain().any(usage) { USAGE } else { FAILED }
}

/// A mistake in how the command was called.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
