//! How a run ended, as the summary and the exit code say it (JOBS.md), and
//! the error for a command used wrongly: the facade re-exports both.

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

/// A mistake in how the command was called.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
