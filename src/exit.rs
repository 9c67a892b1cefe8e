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
    /// Every row settled, but some were held (outcome unknown, not resent):
    /// not every row is known to be delivered. Exit code 4.
    DoneWithUncertain,
    /// Refused before changing anything (an audience replace with nothing to
    /// send). Exit code 3.
    Refused,
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
            Status::DoneWithUncertain => 4,
            Status::Refused => 3,
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
    if e.chain().any(|c| c.is::<crate::job::JobError>() || c.is::<UsageError>() || bad_input(c) || no_credentials(c)) {
        USAGE
    } else {
        FAILED
    }
}

/// No credentials for an object store is a setup mistake, like a bad job file.
pub fn no_credentials(c: &(dyn std::error::Error + 'static)) -> bool {
    c.is::<crate::objstore::NoCredentials>()
}

/// A file that is not CSV at all is the wrong input for the job: as bad as a
/// job naming a column the file does not have (exit 2, like a job error).
pub fn bad_input(c: &(dyn std::error::Error + 'static)) -> bool {
    matches!(c.downcast_ref::<crate::source::SourceError>(), Some(crate::source::SourceError::Binary { .. }))
}

/// A mistake in how the command was called.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
