//! The `batchport` binary: parse the command line, run the command, exit with
//! the code JOBS.md promises. Everything else lives in the library.

use batchport::cli::{Cli, Command};
use batchport::{commands, exit};
use clap::Parser;

/// Rows are allocated on rayon threads and freed on others: with glibc's
/// malloc that took a quarter of the transform's CPU (perf, 10 M rows), with
/// mimalloc a few percent.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Command::Emulator(args) => commands::emulator::run(args),
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
