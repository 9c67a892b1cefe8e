//! Exit codes, decided in one place (JOBS.md): scripts and cron depend on them.

use serde::Serialize;

/// How a run ended (`status` in the `--json` summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every row was sent (or there was nothing to do). Exit code 0.
    Done,
    /// Done, with rows in the rejects file. Exit code 3.
    DoneWithRejects,
    /// The run stopped on an error; it is resumed by the next run. Exit code 1.
    Failed,
    /// Stopped by a signal (or its cancellation token) after settling what
    /// was in flight; resumed by the next run. Exit code 130.
    Interrupted,
}

impl Status {
    /// The exit code JOBS.md gives this status.
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
    if let Some(e) = e.chain().find_map(|c| c.downcast_ref::<crate::facade::Error>()) {
        return e.exit_code();
    }
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
