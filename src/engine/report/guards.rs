//! What the summary says of the guards and notifications of a run (kept
//! here, below the lifecycle and the guards that fill them in).

use serde::Serialize;

/// How one guard judged a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within its limit.
    Passed,
    /// Past its limit: the run is refused.
    Tripped,
    /// Past its limit, accepted for this run by `--override-guard`.
    Overridden,
    /// Not judged (no baseline, not this kind of job, ...): `detail` says why.
    Skipped,
}

/// One guard's judgement, as the summary's `guards` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardCheck {
    /// The guard's name (its `[guard]` key).
    pub name: &'static str,
    /// Its limit: rows for `refuse_empty` and `min_rows`, a share (0 to 1)
    /// for the others.
    pub limit: f64,
    /// What was measured, in the limit's unit; `None` when skipped.
    pub measured: Option<f64>,
    /// How it judged.
    pub verdict: Verdict,
    /// The figures behind it, for people.
    pub detail: String,
}

impl GuardCheck {
    /// A guard that tripped, overridden or not.
    pub fn past_limit(&self) -> bool {
        matches!(self.verdict, Verdict::Tripped | Verdict::Overridden)
    }
}

/// One notification of a run (`[notify]`), as the summary's `notifications`
/// lists it. The webhook URL is never in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notified {
    /// The events told (`failed`, `refused`, `rejects`, `uncertain`, `recovered`).
    pub events: Vec<&'static str>,
    /// The webhook answered with a success.
    pub delivered: bool,
    /// Requests made (retries included).
    pub attempts: u64,
    /// Why it was not delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
