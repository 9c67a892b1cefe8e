//! One file per subcommand; each takes its parsed arguments and returns the exit code.

pub mod docs;
pub mod emulator;
pub mod generate;
pub mod init;
pub mod run;
pub mod schedule;
pub mod status;
pub mod validate;
