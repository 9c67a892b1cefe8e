//! `batchport run JOB.toml`: run the job, or resume its unfinished run over the
//! same input. Ctrl-C and SIGTERM stop reading, settle what is in flight, keep
//! progress, and exit 130.

use crate::cli::Common;
use crate::engine::{self, Options};
use crate::exit::Status;
use crate::export;
use crate::job::{self, Kind};
use anyhow::Result;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub fn run(job_path: &Path, common: &Common) -> Result<i32> {
    let job = job::load(job_path)?;
    let opts = Options {
        state_dir: crate::paths::state_dir(common.state.clone()),
        progress: !common.quiet && !common.json && std::io::stderr().is_terminal(),
        cancel: Arc::new(AtomicBool::new(false)),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let summary = rt.block_on(async {
        watch_signals(opts.cancel.clone());
        if job.kind == Kind::Export { export::run(&job, &opts).await } else { engine::run(&job, &opts).await }
    })?;
    summary.print(common.json, common.quiet);
    if job.kind == Kind::Export {
        // An export's note only says where it wrote: its status decides (ERROR = 1).
        return Ok(summary.status.code());
    }
    // An unchanged input that was already imported is a success for cron.
    Ok(if summary.nothing_to_do { 0 } else { summary.status.code() })
}

/// First signal: stop cleanly. Second: leave now (progress is in the ledger).
/// The handlers are registered before this returns; until then the early
/// handler (`process`) exits 130 at once.
fn watch_signals(cancel: Arc<AtomicBool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
            return;
        };
        crate::process::signals_handled();
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                count += 1;
                if count == 1 {
                    crate::say!("batchport: stopping: settling the batches in flight (again to quit at once)");
                    cancel.store(true, Ordering::SeqCst);
                } else {
                    std::process::exit(Status::Interrupted.code());
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = cancel;
}
