//! The `batchport` binary: parse the command line (`cli.rs`), run the command
//! (`commands/`), print, exit with the code JOBS.md promises. The work itself
//! is the library's; only this side prints or exits.

mod cli;
mod commands;

// The library's modules under their usual names, for `cli` and `commands`.
#[cfg(feature = "emulator")]
use batchport::internals::emulator;
use batchport::internals::{
    exit, init, job, paths, pipeline, process, report, run, schedule, source, state, testdata, transform,
};
// Printing that never panics on a closed stdout/stderr, as `crate::say!` / `crate::out!`.
#[allow(unused_imports)]
use batchport::{out, say};
use clap::Parser;
use cli::{Cli, Command};

// mimalloc: rows are mapped on the rayon workers and their buffers freed on
// the sending side; glibc's malloc spent a fifth of an import in malloc/free
// (cross-thread frees, consolidation). The library leaves the choice to its users.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Before anything else: a signal from now on exits 130, a panic exits 1.
    process::install_early_signals();
    process::install_panic_exit();
    limit_malloc_arenas();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    process::init_logging();
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
        Command::Completions { shell } => commands::docs::completions(*shell),
        Command::Man => commands::docs::man(),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            let code = exit::for_error(&e);
            say!("batchport: {e:#}");
            if wants_json(&cli.command) {
                // `--json` promises one object on stdout, failure or not.
                let failure = serde_json::json!({ "status": "failed", "error": format!("{e:#}"), "exit_code": code });
                use std::io::Write as _;
                let _ = writeln!(std::io::stdout(), "{failure}");
            }
            code
        }
    };
    std::process::exit(code);
}

/// Whether the command was asked for a JSON summary on stdout.
fn wants_json(c: &Command) -> bool {
    match c {
        Command::Validate { common, .. }
        | Command::Run { common, .. }
        | Command::Schedule { common, .. }
        | Command::Status { common, .. }
        | Command::Reset { common, .. }
        | Command::Init { common, .. } => common.json,
        _ => false,
    }
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
