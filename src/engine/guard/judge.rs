//! Each guard's judgement of what the preflight measured, against the job's
//! last successful run to the same destination (the baseline).

use super::{GuardCheck, Measured, Verdict};
use batchport_state::Run;
use batchport_transform::job::Job;

/// `refuse_empty` for an input of `rows` rows (`partial`: at least).
pub(crate) fn empty_check(rows: u64, partial: bool, overrides: &[String]) -> GuardCheck {
    let empty = rows == 0;
    GuardCheck {
        name: "refuse_empty",
        limit: 1.0,
        measured: Some(rows as f64),
        verdict: match (empty, overrides.iter().any(|o| o == "refuse_empty")) {
            (false, _) => Verdict::Passed,
            (true, false) => Verdict::Tripped,
            (true, true) => Verdict::Overridden,
        },
        detail: if empty {
            "the input has no row".into()
        } else {
            format!("the input has rows ({}{rows})", if partial { "at least " } else { "" })
        },
    }
}

/// The share guards the job has on, unjudged: there is no baseline.
pub(crate) fn without_baseline(job: &Job) -> Vec<GuardCheck> {
    let g = &job.guard;
    let profile = job.mapping.profile();
    [
        ("min_rows_share", g.min_rows_share, true),
        ("max_rejects_share", g.max_rejects_share, true),
        ("max_changed_share", g.max_changed_share, profile.is_some_and(|p| p.changed_only)),
        ("max_clears_share", g.max_clears_share, profile.is_some_and(|p| p.clears_blanks())),
    ]
    .into_iter()
    .filter_map(|(name, limit, applies)| {
        Some(GuardCheck {
            name,
            limit: limit.filter(|_| applies)?,
            measured: None,
            verdict: Verdict::Skipped,
            detail: NO_BASELINE.into(),
        })
    })
    .collect()
}

const NO_BASELINE: &str = "no successful run of this job to this destination to compare with (a first run)";

/// Judge every guard the job has on. `unchanged`: the rows the change index
/// holds unchanged (`None`: not measured); `overrides`: guard names a person
/// accepted for this run.
pub fn judge(
    job: &Job,
    m: &Measured,
    unchanged: Option<u64>,
    baseline: Option<&Run>,
    overrides: &[String],
) -> Vec<GuardCheck> {
    let g = &job.guard;
    let mut out = Vec::new();
    let verdict = |name: &str, past: bool| match (past, overrides.iter().any(|o| o == name)) {
        (false, _) => Verdict::Passed,
        (true, false) => Verdict::Tripped,
        (true, true) => Verdict::Overridden,
    };
    let skipped = |name: &'static str, limit: f64, why: String| GuardCheck {
        name,
        limit,
        measured: None,
        verdict: Verdict::Skipped,
        detail: why,
    };
    let base_rows = baseline.map(|b| b.counters.rows_read);
    let against = |b: &Run| format!("the last successful run {} (read {} rows)", b.id, b.counters.rows_read);
    let empty = m.rows == 0;
    let share = |part: u64, whole: u64| if whole == 0 { 0.0 } else { part as f64 / whole as f64 };
    let pct = |x: f64| format!("{:.1}%", x * 100.0);

    if g.refuse_empty {
        out.push(empty_check(m.rows, m.partial, overrides));
    }
    let fixup = "the input is batchport's own rejects (or uncertain) file, fixed and imported again: \
                 few rows by nature, none acknowledged before";
    if let Some(min) = g.min_rows {
        out.push(if m.fixup {
            skipped("min_rows", min as f64, fixup.into())
        } else if empty {
            skipped("min_rows", min as f64, "the input is empty: refuse_empty decides".into())
        } else {
            let past = m.rows < min;
            GuardCheck {
                name: "min_rows",
                limit: min as f64,
                measured: Some(m.rows as f64),
                verdict: verdict("min_rows", past),
                detail: format!(
                    "{}{} rows read, at least {min} expected",
                    if m.partial { "at least " } else { "" },
                    m.rows
                ),
            }
        });
    }
    // The shares need the whole input and a run to compare with.
    let no_base = |name: &'static str, limit: f64| -> Option<GuardCheck> {
        if empty {
            return Some(skipped(name, limit, "the input is empty: refuse_empty decides".into()));
        }
        match baseline {
            None => Some(skipped(name, limit, NO_BASELINE.into())),
            Some(_) if m.partial => Some(skipped(name, limit, "the input was not read whole".into())),
            // A share of a handful of rows is chance (1 of 3 is 33%): the
            // rows judged are the baseline's for `min_rows_share`, the input's
            // for the others.
            Some(b) => {
                let rows = if name == "min_rows_share" { b.counters.rows_read } else { m.rows };
                (rows < g.min_rows_for_shares).then(|| {
                    skipped(
                        name,
                        limit,
                        format!(
                            "{} has {rows} rows, fewer than min_rows_for_shares = {}: its shares are not judged",
                            if name == "min_rows_share" { "the last successful run" } else { "the input" },
                            g.min_rows_for_shares
                        ),
                    )
                })
            }
        }
    };
    if let Some(limit) = g.min_rows_share {
        let fixed = m.fixup.then(|| skipped("min_rows_share", limit, fixup.into()));
        out.push(fixed.or_else(|| no_base("min_rows_share", limit)).unwrap_or_else(|| {
            let b = baseline.expect("judged with a baseline");
            let s = share(m.rows, base_rows.unwrap_or(0));
            let past = base_rows.unwrap_or(0) > 0 && s < limit;
            GuardCheck {
                name: "min_rows_share",
                limit,
                measured: Some(s),
                verdict: verdict("min_rows_share", past),
                detail: format!("{} rows read, {} of {}; at least {} expected", m.rows, pct(s), against(b), pct(limit)),
            }
        }));
    }
    if let Some(limit) = g.max_rejects_share {
        out.push(no_base("max_rejects_share", limit).unwrap_or_else(|| {
            let s = share(m.rejects, m.rows);
            GuardCheck {
                name: "max_rejects_share",
                limit,
                measured: Some(s),
                verdict: verdict("max_rejects_share", s > limit),
                detail: format!(
                    "{} of {} rows rejected ({}); at most {} allowed",
                    m.rejects,
                    m.rows,
                    pct(s),
                    pct(limit)
                ),
            }
        }));
    }
    if let Some(limit) = g.max_changed_share
        && job.mapping.profile().is_some_and(|p| p.changed_only)
    {
        let fixed = m.fixup.then(|| skipped("max_changed_share", limit, fixup.into()));
        out.push(fixed.or_else(|| no_base("max_changed_share", limit)).unwrap_or_else(|| {
            let b = baseline.expect("judged with a baseline");
            if !b.same_mapping(&job.mapping_print) {
                return skipped(
                    "max_changed_share",
                    limit,
                    "the [mapping] changed since the last successful run: every row is sent once".into(),
                );
            }
            // After a first import (nothing was unchanged yet), the first
            // rerun sends once more every ID with several rows, to record
            // them as one (README, "Nightly imports"): judged from the night after.
            if b.counters.rows_unchanged == 0 {
                return skipped(
                    "max_changed_share",
                    limit,
                    format!(
                        "the last successful run {} skipped no unchanged row (a first import, or every row changed): \
                         judged from the next night on",
                        b.id
                    ),
                );
            }
            let Some(unchanged) = unchanged else {
                return skipped(
                    "max_changed_share",
                    limit,
                    "not measured: the change index is empty (after `reset --delta`) or the input is an object".into(),
                );
            };
            let changed = m.rows.saturating_sub(m.rejects).saturating_sub(unchanged);
            let s = share(changed, m.rows);
            GuardCheck {
                name: "max_changed_share",
                limit,
                measured: Some(s),
                verdict: verdict("max_changed_share", s > limit),
                detail: format!(
                    "{changed} of {} rows changed since {} ({}); at most {} allowed",
                    m.rows,
                    against(b),
                    pct(s),
                    pct(limit)
                ),
            }
        }));
    }
    if let Some(limit) = g.max_clears_share
        && job.mapping.profile().is_some_and(|p| p.clears_blanks())
    {
        out.push(no_base("max_clears_share", limit).unwrap_or_else(|| {
            let s = share(m.clears, m.mapped);
            GuardCheck {
                name: "max_clears_share",
                limit,
                measured: Some(s),
                verdict: verdict("max_clears_share", s > limit),
                detail: format!(
                    "{} of the {} values the rows map would be deleted (blank = \"clear\", {}); at most {} allowed",
                    m.clears,
                    m.mapped,
                    pct(s),
                    pct(limit)
                ),
            }
        }));
    }
    out
}
