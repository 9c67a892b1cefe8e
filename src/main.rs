//! The `batchport` binary: parse the command line (`cli.rs`), run the command
//! (`commands/`), print, exit with the code JOBS.md promises. The work itself
//! is the library's; only this side prints or exits.

mod cli;
mod commands;
mod paths;
mod process;

// Under the names `crate::exit`, ... for `cli` and `commands`.
use batchport::{exit, init, schedule};
use batchport_testdata as testdata;
use clap::Parser;
use cli::{Cli, Command};

// mimalloc: rows are mapped on the rayon workers and their buffers freed on
// the sending side; glibc's malloc spent a fifth of an import in malloc/free
// (cross-thread frees, consolidation): a 10 M-row import into a null API took
// 35.6 s with it, 19.8 s with mimalloc. The library leaves the choice to its users.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Before anything else: a signal from now on exits 130, a panic exits 1.
    process::install_early_signals();
    process::install_panic_exit();
    process::raise_open_files();
    process::private_files();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    // The emulator (a stand-in server, whose memory no one budgets) keeps
    // mimalloc's default: purging at once slowed it by half.
    #[cfg(feature = "emulator")]
    let serving = matches!(cli.command, Command::Emulator(_));
    #[cfg(not(feature = "emulator"))]
    let serving = false;
    if !serving {
        tune_allocator();
    }
    process::init_logging();
    let result = match &cli.command {
        Command::Validate { job, common } => commands::validate::run(job, common),
        Command::Run { job, override_guard, metrics_file, common } => {
            commands::run::run(job, override_guard, metrics_file.as_deref(), common)
        }
        Command::Schedule { dir, once, now, notify_url_env, notify_events, notify_format, common } => {
            let notify = commands::schedule::Notify {
                url_env: notify_url_env.as_deref(),
                events: notify_events.as_deref(),
                format: notify_format.as_deref(),
            };
            commands::schedule::run(dir, *once, now.as_deref(), notify, common)
        }
        Command::Verify { job, args, common } => commands::verify::run(job, args, common),
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => commands::emulator::run(args),
        #[cfg(not(feature = "emulator"))]
        Command::Emulator(_) => {
            Err(exit::UsageError("this batchport was built without the `emulator` feature".into()).into())
        }
        Command::Generate { out, rows, bad_every, seed } => commands::generate::run(out, *rows, *bad_every, *seed),
        Command::Status { job, history, common } => match history {
            Some(n) => commands::history::run(job.as_deref(), *n, common),
            None => commands::status::run(job.as_deref(), common),
        },
        Command::Reset { job, delta, common } => commands::status::reset(job, *delta, common),
        Command::Init { preset, preset_file, kind, file, common } => {
            commands::init::run(file, *preset, preset_file.as_deref(), *kind, common)
        }
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
        | Command::Verify { common, .. }
        | Command::Schedule { common, .. }
        | Command::Status { common, .. }
        | Command::Reset { common, .. }
        | Command::Init { common, .. } => common.json,
        _ => false,
    }
}

/// mimalloc's `purge_delay` (option 15 in mimalloc.h): freed memory goes
/// back to the OS at once instead of after a second (mimalloc 3's default).
/// Batches of megabytes are allocated and freed many times a second; with the
/// delay the peak RSS of a 10 M-row 1% nightly was 64–66 MB (glibc: 53 MB),
/// without it 48 MB, and a 1 M-row import 75–83 MB against 55 MB, for about
/// 0.7 s of system time more per million rows sent (page faults); the import
/// still takes about half glibc's time.
fn tune_allocator() {
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // mimalloc's own variable, when set, wins (for measuring the trade-off).
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: sets one allocator option before the command starts any
    // worker (mimalloc's options are not thread safe to set).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}
