//! `batchport emulator`: serve the local Batch API until Ctrl-C or SIGTERM.

use crate::cli::EmulatorArgs;
use crate::exit::UsageError;
use anyhow::Result;
use batchport_emulator::{self as emulator, EmulatorConfig, Faults};
use std::io::Write;
use std::time::Duration;

pub fn run(a: &EmulatorArgs) -> Result<i32> {
    for (name, v) in [
        ("--error-rate", a.error_rate),
        ("--lost-answer-rate", a.lost_answer_rate),
        ("--silent-drop-rate", a.silent_drop_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(UsageError(format!("{name} must be between 0 and 1, not {v}")).into());
        }
    }
    let defaults = EmulatorConfig::default();
    let event_max_age = match batchport_api::check::parse_age(&a.event_max_age) {
        Ok(Some(d)) => d,
        Ok(None) => return Err(UsageError("--event-max-age: use --lax-event-time for no window".into()).into()),
        Err(m) => return Err(UsageError(format!("--event-max-age: {m}")).into()),
    };
    let config = EmulatorConfig {
        rest_key: a.rest_key.clone(),
        project_key: a.project_key.clone(),
        update_rate: match (a.update_rate, a.update_burst) {
            (None, None) => None,
            (r, b) => Some((r.unwrap_or(300), b.unwrap_or(1_000))),
        },
        mass_update_rate: a.mass_update_rate.map(|r| (r, r)),
        audience_rate: a.audience_rate_limit.then_some((1, 1)),
        unlimited: a.unlimited,
        faults: Faults {
            error_rate: a.error_rate,
            lost_answer_rate: a.lost_answer_rate,
            latency: Duration::from_millis(a.latency_ms),
            jitter: Duration::from_millis(a.jitter_ms),
            storm_429: a.storm_secs.map(Duration::from_secs),
            seed: a.seed,
            refuse_marker: a.refuse_marker.clone(),
            refuse_attribute: a.refuse_attribute.clone(),
            drop_rate: a.silent_drop_rate,
            drop_ids: a.silent_drop_id.clone(),
        },
        export_duration: Duration::from_secs(a.export_secs),
        export_part_size: a.export_part_size.max(1),
        export_fail: a.export_fail,
        strict_event_time: !a.lax_event_time,
        event_max_age,
        strict_event_attributes: !a.lax_event_attributes,
        shared_rate: a.shared_rate,
        ..defaults
    };
    serve(config, a.port)?;
    Ok(0)
}

/// The `batchport emulator` command: serve until SIGINT or SIGTERM.
fn serve(config: EmulatorConfig, port: u16) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let (rest, project) = (config.rest_key.clone(), config.project_key.clone());
        let emulator = emulator::Emulator::start(config, ([127, 0, 0, 1], port).into()).await?;
        {
            // The first line is what scripts read; the rest is for a person
            // rehearsing: the stand-in's own keys (never a real project's).
            // Best effort: a reader that closed the pipe after the first line
            // must not stop the server.
            let url = emulator.base_url();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "batchport emulator listening on {url}").and_then(|()| out.flush());
            let _ = writeln!(
                out,
                "its keys (a stand-in's, not a Batch project's): in the shell that runs batchport,\n  \
                 export BATCH_REST_KEY={rest} BATCH_PROJECT_KEY={project}\n\
                 and in the job file: [api] base_url = \"{url}\"\n\
                 what it holds: curl -s {url}/_emulator/stats; Ctrl-C stops it"
            )
            .and_then(|()| out.flush());
        }
        wait_for_signal().await?;
        emulator.shutdown();
        anyhow::Ok(())
    })
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        crate::process::signals_handled();
        tokio::select! {
            _ = int.recv() => Ok(()),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
