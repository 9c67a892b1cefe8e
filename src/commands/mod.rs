//! One file per subcommand; each takes its parsed arguments and returns the
//! exit code. This is the binary's side: printing and exiting happen here, the
//! work is the library's.

pub mod docs;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod generate;
pub mod history;
pub mod init;
pub mod run;
pub mod schedule;
mod serve;
pub mod status;
pub mod validate;
pub mod verify;

use crate::exit::Status;
use batchport_engine::report::Summary;

/// Print a summary as the user asked: JSON on stdout, or lines on stderr
/// (with `--quiet`, only when the run did not end `done`).
/// JSON or lines for people, either way on stdout: the command's result
/// (progress and logs go to stderr). A closed stdout (`| head`) loses it,
/// never panics.
pub fn print_summary(summary: &Summary, json: bool, quiet: bool) {
    if json {
        match serde_json::to_string(summary) {
            Ok(s) => crate::out!("{s}"),
            Err(e) => crate::say!("batchport: cannot write the summary: {e}"),
        }
    } else if !quiet || summary.status != Status::Done {
        crate::out!("{}", summary.human());
    }
}

/// The run's notices on stderr, as the binary has always said them.
pub fn notices_to_stderr() -> batchport_engine::service::Events {
    batchport_engine::service::Events::to(|event| {
        if let batchport::Event::Notice(message) = event {
            crate::say!("batchport: {message}");
        }
    })
}
