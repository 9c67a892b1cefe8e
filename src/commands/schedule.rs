//! `batchport schedule DIR`: stay up and run every job in DIR that has a
//! `schedule` (see `crate::schedule`). A signal stops it cleanly: the import
//! in flight settles and checkpoints, and the command exits 0, because being
//! stopped is how a service ends (systemd counts anything else as a failure).
//! The interrupted run is logged as `interrupted` and resumed at the next start.

use super::serve::{self as schedule, Settings};
use crate::cli::Common;
use crate::exit::UsageError;
use anyhow::Result;
use chrono::{DateTime, Local};
use std::path::Path;
use tokio_util::sync::CancellationToken;

/// `--notify-url-env`, `--notify-events`, `--notify-format` as given.
pub struct Notify<'a> {
    pub url_env: Option<&'a str>,
    pub events: Option<&'a [String]>,
    pub format: Option<&'a str>,
}

pub fn run(dir: &Path, once: bool, now: Option<&str>, notify: Notify<'_>, common: &Common) -> Result<i32> {
    // Checked before anything runs, as a job file's [notify] is (exit 2).
    let notify = match notify.url_env {
        Some(name) => Some(
            batchport_transform::job::NotifySettings::from_flags(name, notify.events, notify.format)
                .map_err(|m| UsageError(format!("--notify-url-env: {m}")))?,
        ),
        None => None,
    };
    if !dir.is_dir() {
        return Err(UsageError(format!("{} is not a folder of job files", dir.display())).into());
    }
    let once = match (once, now) {
        (false, _) => None,
        (true, None) => Some(Local::now()),
        (true, Some(t)) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|e| UsageError(format!("--now `{t}` is not an RFC 3339 time: {e}")))?
                .with_timezone(&Local),
        ),
    };
    let settings = Settings {
        dir: dir.to_path_buf(),
        state_dir: crate::paths::state_dir(common.state.clone()),
        json: common.json,
        quiet: common.quiet,
        once,
        cancel: CancellationToken::new(),
        notify,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        schedule::watch_signals(settings.cancel.clone())?;
        schedule::serve(&settings).await
    })?;
    Ok(0)
}
