//! `batchport run JOB.toml`: run the job, or resume its unfinished run over the
//! same input. Ctrl-C and SIGTERM stop reading, settle what is in flight, keep
//! progress, and exit 130.

use crate::cli::Common;
use crate::exit::Status;
use anyhow::Result;
use batchport::{Event, RunOptions};
use std::io::IsTerminal;
use std::path::Path;
use tokio_util::sync::CancellationToken;

/// Through the library's facade, like any program using batchport.
pub fn run(job_path: &Path, overrides: &[String], metrics_file: Option<&Path>, common: &Common) -> Result<i32> {
    let job = batchport::load_job(job_path)?;
    let mut opts =
        RunOptions::new(crate::paths::state_dir(common.state.clone())).override_guards(overrides.iter().cloned());
    if let Some(p) = metrics_file {
        opts = opts.metrics_file(p);
    }
    let opts = opts.progress_bar(!common.quiet && !common.json && std::io::stderr().is_terminal()).on_event(|event| {
        if let Event::Notice(message) = event {
            crate::say!("batchport: {message}");
        }
    });
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let summary = rt.block_on(async {
        watch_signals(opts.cancel_token().clone());
        batchport::run_job(&job, &opts).await
    })?;
    super::print_summary(&summary, common.json, common.quiet);
    // The summary (stdout) carries the error too; stderr says it to the
    // person or the log watching the command.
    if let Some(e) = &summary.error {
        crate::say!("batchport: {e}");
    }
    // An unchanged input that was already imported is `done`: a success for cron.
    Ok(summary.status.code())
}

/// First signal: stop cleanly. Second: leave now (progress is in the ledger).
/// The handlers are registered before this returns; until then the early
/// handler (`process`) exits 130 at once.
pub(super) fn watch_signals(cancel: CancellationToken) {
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
                    cancel.cancel();
                } else {
                    std::process::exit(Status::Interrupted.code());
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = cancel;
}
