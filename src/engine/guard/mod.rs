//! Guards: what an unattended run must look like before its first request.
//!
//! A preflight pass (`measure`) reads and transforms the input as `validate`
//! does, and `judge` compares what it measured with the job's last successful
//! run to the same destination (the baseline). A guard that trips refuses the
//! run: nothing is sent, the run is `refused` (exit 3), and the summary's
//! `guards` says which guard, its limit and what was measured. A person can
//! accept one for a run (`--override-guard NAME`).
//!
//! What is judged when: `refuse_empty` and `min_rows` on every run; the
//! shares only against a baseline (a first run has nothing to compare with,
//! and is a migration someone watches); `max_changed_share` only for
//! `changed_only` jobs whose change index is not empty and whose mapping is
//! the baseline's (an edited mapping sends every row once, on purpose);
//! `max_clears_share` only for `blank = "clear"` jobs. A resumed run that
//! has sent batches is not judged again: it passed (or was accepted) on its
//! first attempt, and refusing it half-way would leave Batch half-updated.

mod judge;
mod measure;
pub(crate) mod preflight;

pub use judge::judge;
pub use measure::{Measured, Need, count_unchanged, is_report_header, measure};
pub use preflight::for_validate;

pub use crate::report::guards::{GuardCheck, Verdict};

/// Why the run is refused: the first guard that tripped, in words, with
/// what to do. `None`: every guard passed (or was overridden).
pub fn refusal(checks: &[GuardCheck], audience_replace: bool) -> Option<String> {
    let t = checks.iter().find(|c| c.verdict == Verdict::Tripped)?;
    let mut msg = format!(
        "guard {} tripped: {}; nothing was sent. Check the input; to send it once as it is: \
         `batchport run JOB.toml --override-guard {}`; to change the limit: `[guard] {}`",
        t.name, t.detail, t.name, t.name
    );
    let others: Vec<&str> =
        checks.iter().filter(|c| c.verdict == Verdict::Tripped && c.name != t.name).map(|c| c.name).collect();
    if !others.is_empty() {
        msg.push_str(&format!(" (also tripped: {})", others.join(", ")));
    }
    if audience_replace && t.name == "refuse_empty" {
        msg.push_str("; an audience replace that is meant to empty the audience says allow_empty = true in [audience]");
    }
    Some(msg)
}

/// The guards to keep in the run record: those past their limit.
pub fn notes(checks: &[GuardCheck]) -> Vec<batchport_state::GuardNote> {
    checks
        .iter()
        .filter(|c| c.past_limit())
        .map(|c| batchport_state::GuardNote {
            name: c.name.to_string(),
            limit: c.limit,
            measured: c.measured.unwrap_or(0.0),
            overridden: c.verdict == Verdict::Overridden,
        })
        .collect()
}
