//! Process-wide set-up for the binary, done first thing in `main`: signals
//! that arrive before a command can handle them, panics on any thread, and
//! logging to a stderr that may be a closed pipe or not a terminal.
//!
//! - Signals: until a command says it handles SIGINT/SIGTERM itself
//!   (`signals_handled`), either one ends the process at once with 130, the
//!   code for "interrupted, progress kept" (the default action would give 143
//!   and no cleanup is owed yet).
//! - Panics: a panic on any thread (reader, rayon, tokio) prints one line and
//!   ends the process with exit 1. Waiting for the other threads could hang
//!   (a channel nobody drains, a store flushing on drop); the ledger makes an
//!   abrupt end as safe as a kill.
//! - Files: created private to their owner (`private_files`: umask 077).
//! - Open files: the soft limit is raised to the hard one (`raise_open_files`):
//!   a `changed_only` rerun's scan spills to 512 files at once, past macOS's
//!   default soft limit of 256.
//! - Logs: `BATCHPORT_LOG` sets the filter (default `warn`); colours only on
//!   a terminal and never with `NO_COLOR`; a write to a closed stderr (`2>&1 |
//!   head`) is dropped, never a panic.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the running command handles SIGINT/SIGTERM itself.
static HANDLED: AtomicBool = AtomicBool::new(false);

/// Exit code of an interrupted command (JOBS.md).
const INTERRUPTED: i32 = 130;

/// Make every file and folder this process creates private to its owner
/// (umask 077: folders 0700, files 0600): the state folder, rejects,
/// uncertain and partial files, spills and exports hold people's rows, and
/// the usual umask 022 would let every local account read them. Called first
/// thing in `main`, before any thread starts (the mask is process-wide).
pub fn private_files() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file mode creation mask.
    unsafe {
        libc::umask(0o077);
    }
}

/// Raise the soft limit on open files to the hard limit (on macOS, at most
/// `OPEN_MAX`, which `setrlimit` caps it to). Best effort: a limit that cannot
/// be raised stays, and a scan that meets it says what to do.
pub fn raise_open_files() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 || lim.rlim_cur >= lim.rlim_max {
            return;
        }
        let mut want = lim.rlim_max;
        if cfg!(target_os = "macos") {
            want = want.min(10_240);
        }
        if want > lim.rlim_cur {
            lim.rlim_cur = want;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Install the early SIGINT/SIGTERM handler. Call before anything else.
pub fn install_early_signals() {
    #[cfg(unix)]
    {
        extern "C" fn on_signal(_: libc::c_int) {
            if !HANDLED.load(Ordering::SeqCst) {
                // SAFETY: _exit is async-signal-safe.
                unsafe { libc::_exit(INTERRUPTED) };
            }
        }
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a plain handler that only reads an atomic and calls
            // _exit; installed before any other thread exists.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                libc::sigemptyset(&mut action.sa_mask);
                action.sa_flags = libc::SA_RESTART;
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
        // A parent may have blocked them (they stay blocked across exec):
        // a signal sent already is delivered now, to the handler above.
        // SAFETY: plain signal-mask calls on a local set.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

/// The command now handles SIGINT/SIGTERM (its own handlers are registered;
/// they are called before the early one, which from now on does nothing).
pub fn signals_handled() {
    HANDLED.store(true, Ordering::SeqCst);
}

/// A panic anywhere ends the process: one line on stderr, exit 1.
pub fn install_panic_exit() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        let _ = writeln!(
            io::stderr(),
            "batchport: internal error on thread `{name}`: {info}; this is a bug: progress is kept, run again to resume"
        );
        // SAFETY: ends the process without running destructors or atexit
        // handlers, which could wait on the thread that panicked.
        unsafe { libc::_exit(1) };
    }));
}

/// Whether stderr may carry colours: a terminal, and `NO_COLOR` unset or empty.
pub fn stderr_colours() -> bool {
    io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Log to stderr, filtered by `BATCHPORT_LOG` (default `warn`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BATCHPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_writer(|| QuietStderr)
        .with_ansi(stderr_colours())
        .with_env_filter(filter)
        .try_init();
}

/// stderr that drops what cannot be written (a closed pipe): logs are never
/// worth a panic or an error.
pub struct QuietStderr;

impl Write for QuietStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}

/// `eprintln!` that never panics: a closed stderr loses the line, nothing more.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `println!` that never panics: a closed stdout (`| head`) ends the output,
/// not the command.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
