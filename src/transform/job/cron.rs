//! A job's `schedule`: checked when the job file is read, and the one
//! "when does it fire next" the scheduler asks.

use chrono::{DateTime, TimeZone, Timelike};
use croner::Cron;

/// Check a job's `schedule`: a cron expression that fires at least once.
/// `0 0 30 2 *` parses but no date matches it; refused, not left to wait
/// forever. The error reads after "`job.schedule `EXPR` ".
pub(crate) fn check_cron(expr: &str) -> Result<(), String> {
    let cron = Cron::new(expr).parse().map_err(|e| format!("is not a cron expression: {e}"))?;
    if next_after(&cron, &chrono::Utc::now(), true).is_none() {
        return Err("can never fire: no date matches it (such as 30 February); check the day and month fields".into());
    }
    Ok(())
}

/// Cron works in whole seconds; a sub-second `now` would make "at or after now"
/// miss the very second a job is due.
fn whole_second<Tz: TimeZone>(t: &DateTime<Tz>) -> DateTime<Tz> {
    t.with_nanosecond(0).unwrap_or_else(|| t.clone())
}

/// The first time `cron` fires after `now` (at `now` too when `inclusive`).
pub fn next_after<Tz: TimeZone>(cron: &Cron, now: &DateTime<Tz>, inclusive: bool) -> Option<DateTime<Tz>> {
    cron.find_next_occurrence(&whole_second(now), inclusive).ok()
}
