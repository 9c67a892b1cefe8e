//! `batchport validate JOB.toml`: read and transform everything as `run` would,
//! send nothing, write the rejects file, print the summary.

use crate::cli::Common;
use crate::exit::Status;
use anyhow::{Context, Result};
use batchport_engine::guard::Measured;
use batchport_engine::pipeline;
use batchport_engine::report::forecast::Consent;
use batchport_engine::report::{RejectsWriter, Summary};
use batchport_source::{self as source, CsvSource};
use batchport_transform::Transformer;
use batchport_transform::job::{self, Job};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub fn run(job_path: &Path, common: &Common) -> Result<i32> {
    let job = job::load(job_path)?;
    let run_id = format!("validate-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    let state = crate::paths::state_dir(common.state.clone());
    let rejects_dir = rejects_dir(&job, &state);
    let (mut summary, measured) = validate(&job, &run_id, &rejects_dir)?;
    if let Some(m) = measured {
        judge_guards(&job, &state, &m, &mut summary);
    }
    super::print_summary(&summary, common.json, common.quiet);
    Ok(summary.status.code())
}

/// Where rejects files go: `[job] rejects`, else `<state>/rejects`.
pub fn rejects_dir(job: &Job, state: &Path) -> PathBuf {
    job.rejects_dir.clone().unwrap_or_else(|| state.join("rejects"))
}

/// The whole validation, without printing: the summary says what happened,
/// with what the guards measure (`None`: a job that reads no input).
pub fn validate(job: &Job, run_id: &str, rejects_dir: &Path) -> Result<(Summary, Option<Measured>)> {
    let started = Instant::now();
    let Some(src) = job.source.as_ref() else {
        // An export reads nothing: loading the job file was the whole check
        // (a script validating every job of a folder must not fail on it).
        let mut summary = Summary::new(&job.name, run_id);
        summary.status = Status::Done;
        summary.note = Some(format!("the job file is valid; a {} job reads no input to validate", job.kind.as_str()));
        summary.elapsed_s = started.elapsed().as_secs_f64();
        return Ok((summary, None));
    };
    let files = source::expand_with(&src.pattern, &src.base_dir, &src.options)?;
    let mut summary = Summary::new(&job.name, run_id);
    summary.rows_valid = Some(0);
    let mut rejects = RejectsWriter::new(rejects_dir, &format!("{}-{run_id}-rejects", job.name));
    let mut forecast = batchport_engine::report::forecast::Tally::new(job);
    // What the guards measure, from this same pass (`validate` reads once).
    let mut clears = 0u64;
    let mut fixup = !files.is_empty();
    // Who opted out over every file, as `run` reads it ahead.
    let opt_outs = batchport_transform::optouts::of_run(job, &files)?;
    for file in &files {
        let csv = CsvSource::open(file, &src.options)?;
        fixup &= batchport_engine::guard::is_report_header(csv.headers());
        let t = Transformer::bind_rows(job, csv.headers(), file)?.with_opt_outs(opt_outs.clone());
        rejects.set_source(csv.raw_headers(), csv.delimiter());
        let mut write_err = None;
        // Only the consent values of a valid row are kept: the operations
        // themselves are never built.
        pipeline::for_each_checked(csv, &t, |chunk| {
            for r in chunk.results {
                summary.rows_read += 1;
                match r {
                    Ok((subs, dropped, line, cells)) => {
                        clears += u64::from(subs.clears);
                        let (email, sms) = (Consent::sent(subs.email), Consent::sent(subs.sms));
                        forecast.add_consent(email, sms);
                        forecast.add_consent_values(&cells, email, sms);
                        *summary.rows_valid.get_or_insert(0) += 1;
                        // Sent without its bad values: each is forecast, the row reported once.
                        if let Some(line) = line {
                            for (column, reason) in &dropped {
                                forecast.add_dropped(line.pos.line, column, reason);
                            }
                            summary.values_dropped += dropped.len() as u64;
                            if let Err(e) = rejects.write(&line) {
                                write_err = Some(e);
                                return false;
                            }
                        }
                    }
                    Err(rej) => {
                        forecast.add_reject(&rej);
                        summary.rows_rejected += 1;
                        if let Err(e) = rejects.write(&rej) {
                            write_err = Some(e);
                            return false;
                        }
                    }
                }
            }
            true
        })?;
        if let Some(e) = write_err {
            return Err(e).context(format!("cannot write the rejects file in {}", rejects_dir.display()));
        }
        summary.files.push(file.to_path_buf());
    }
    rejects.flush().context("cannot write the rejects file")?;
    summary.rejects_file = rejects.paths.first().cloned();
    summary.forecast = Some(forecast.finish());
    summary.status =
        if summary.rows_rejected > 0 || summary.values_dropped > 0 { Status::DoneWithRejects } else { Status::Done };
    // What `run` would refuse, `validate` says it would (issue 25: they agree).
    if let batchport_transform::job::Mapping::Audience(a) = &job.mapping
        && a.mode == batchport_transform::job::AudienceMode::Replace
        && !a.allow_empty
        && summary.rows_valid == Some(0)
    {
        summary.status = Status::Refused;
        summary.note = Some(format!(
            "audience `{}`: mode = \"replace\" with no row to send ({} read, {} rejected): run would refuse and leave \
             the audience as it is; fix the input, or set allow_empty = true in [audience] to empty it",
            a.name, summary.rows_read, summary.rows_rejected
        ));
    }
    let per_row = job.mapping.profile().map_or(0, |p| p.mapped_values()) as u64;
    let measured = Some(Measured {
        rows: summary.rows_read,
        rejects: summary.rows_rejected,
        clears,
        mapped: summary.rows_valid.unwrap_or(0) * per_row,
        partial: false,
        fixup,
    });
    summary.elapsed_s = started.elapsed().as_secs_f64();
    Ok((summary, measured))
}

/// The guards as `run` would judge this input, against the job's last
/// successful run in `state`: a guard that trips makes the summary
/// `refused` (exit 3), as `run` would be.
fn judge_guards(job: &Job, state: &Path, m: &Measured, summary: &mut Summary) {
    let started = Instant::now();
    let (guards, unchanged) = batchport_engine::guard::for_validate(job, state, m, &summary.files);
    summary.guards = guards;
    // `changed_only`: what a run would skip as unchanged, and send.
    if let Some(unchanged) = unchanged {
        summary.rows_unchanged = unchanged;
        let valid = summary.rows_valid.unwrap_or(0);
        let forecast = format!(
            "changed_only: about {} rows would be sent, {unchanged} skipped as unchanged (the change index of the last successful run)",
            valid.saturating_sub(unchanged)
        );
        summary.note = Some(summary.note.take().map_or(forecast.clone(), |n| format!("{n}; {forecast}")));
    }
    summary.elapsed_s += started.elapsed().as_secs_f64();
    if summary.status == Status::Refused {
        return;
    }
    let replace = matches!(&job.mapping, batchport_transform::job::Mapping::Audience(a)
        if a.mode == batchport_transform::job::AudienceMode::Replace);
    if let Some(reason) = batchport_engine::guard::refusal(&summary.guards, replace) {
        summary.status = Status::Refused;
        summary.note = Some(format!("run would refuse: {}", reason.replace("; nothing was sent", "")));
    }
}
