//! `batchport emulator`: serve the local Batch API until Ctrl-C or SIGTERM.

use crate::cli::EmulatorArgs;
use crate::emulator::{self, EmulatorConfig, Faults};
use crate::exit::UsageError;
use anyhow::Result;
use std::time::Duration;

pub fn run(a: &EmulatorArgs) -> Result<i32> {
    for (name, v) in [("--error-rate", a.error_rate), ("--lost-answer-rate", a.lost_answer_rate)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(UsageError(format!("{name} must be between 0 and 1, not {v}")).into());
        }
    }
    let defaults = EmulatorConfig::default();
    let event_max_age = match batchport::internals::api::check::parse_age(&a.event_max_age) {
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
    emulator::serve_cli(config, a.port)?;
    Ok(0)
}
