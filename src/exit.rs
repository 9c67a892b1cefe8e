//! Exit codes, decided in one place (JOBS.md): scripts and cron depend on them.

pub use batchport_engine::status::{Status, UsageError};

/// Bad usage or a bad job file.
pub const USAGE: i32 = 2;
/// Anything else that stops a command.
pub const FAILED: i32 = 1;

/// The exit code for an error that ended a command.
pub fn for_error(e: &anyhow::Error) -> i32 {
    if let Some(e) = e.chain().find_map(|c| c.downcast_ref::<crate::facade::Error>()) {
        return e.exit_code();
    }
    if e.chain().any(|c| {
        c.is::<batchport_transform::job::JobError>() || c.is::<UsageError>() || bad_input(c) || no_credentials(c)
    }) {
        USAGE
    } else {
        FAILED
    }
}

/// No credentials for an object store is a setup mistake, like a bad job file.
pub fn no_credentials(c: &(dyn std::error::Error + 'static)) -> bool {
    c.is::<batchport_source::objstore::NoCredentials>()
}

/// An input that is not the job's kind of file (empty, a directory, not the
/// gzip its name says, binary: `SourceError::is_wrong_kind`) is as bad as a
/// job naming a column the file does not have: exit 2, like a job error.
pub fn bad_input(c: &(dyn std::error::Error + 'static)) -> bool {
    c.downcast_ref::<batchport_source::SourceError>().is_some_and(batchport_source::SourceError::is_wrong_kind)
}
