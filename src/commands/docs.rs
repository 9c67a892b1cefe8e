//! `batchport completions SHELL` and `batchport man`: generated from the clap
//! definitions, so they never disagree with the real flags.

use crate::cli::Cli;
use anyhow::Result;
use clap::CommandFactory;
use std::io::Write;

/// Print the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<i32> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "batchport", &mut out);
    print(&out)
}

/// Print the man page (roff) on stdout.
pub fn man() -> Result<i32> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    print(&out)
}

/// Written whole; a reader that goes away (`| head`) is not an error.
fn print(bytes: &[u8]) -> Result<i32> {
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}
