//! The `batchport` binary: parse the command line (`cli.rs`), run the command
//! (`commands/`), print, exit with the code JOBS.md promises. The work itself
//! is the library's; only this side prints or exits.

mod cli;
mod commands;

// The library's modules under their usual names, for `cli` and `commands`.
#[cfg(feature = "emulator")]
use batchport::internals::emulator;
use batchport::internals::{
    exit, init, job, paths, pipeline, report, run, schedule, source, state, testdata, transform,
};
use clap::Parser;
use cli::{Cli, Command};

fn main() {
    limit_malloc_arenas();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BATCHPORT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let result = match &cli.command {
        Command::Validate { job, common } => commands::validate::run(job, common),
        Command::Run { job, common } => commands::run::run(job, common),
        Command::Schedule { dir, once, now, common } => commands::schedule::run(dir, *once, now.as_deref(), common),
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => commands::emulator::run(args),
        #[cfg(not(feature = "emulator"))]
        Command::Emulator(_) => {
            Err(exit::UsageError("this batchport was built without the `emulator` feature".into()).into())
        }
        Command::Generate { out, rows, bad_every, seed } => commands::generate::run(out, *rows, *bad_every, *seed),
        Command::Status { job, common } => commands::status::run(job.as_deref(), common),
        Command::Reset { job, delta, common } => commands::status::reset(job, *delta, common),
        Command::Init { preset, file, common } => commands::init::run(file, *preset, common),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("batchport: {e:#}");
            exit::for_error(&e)
        }
    };
    std::process::exit(code);
}

/// glibc gives each thread that allocates its own arena; rows are allocated on
/// rayon threads and freed on tokio threads, which leaves freed memory stranded
/// in many arenas. Two arenas keep the peak close to what is live (measured:
/// about 15% less peak memory at the same speed).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets a tuning parameter, before any thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
