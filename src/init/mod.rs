//! `batchport init`: write a job file for an export from another tool. The
//! header and a sample of rows are read (`sample`), each column is matched to
//! the tool's documented export (`presets`: shipped TOML files, or the user's
//! own with `--preset-file`) or guessed from its values
//! (`infer`), checked against the sample and limited to what Batch takes
//! (`plan`, `names`), then printed as a commented job file (`render`). The
//! result is checked by parsing it as `validate` would and running the sample
//! through the transform, so what `init` prints is a job `validate` accepts.

mod consent;
mod consent_plan;
mod events;
mod ids;
mod infer;
mod names;
mod plan;
mod presets;
mod render;
mod sample;

use batchport_source::SourceError;
use batchport_transform::Transformer;
use batchport_transform::job;
use std::path::Path;

pub use presets::PresetError;
pub use sample::SAMPLE_ROWS;

/// What kind of job `init` writes (`--kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum InitKind {
    /// Events when the file has an event-name column beside a time column
    /// (and no preset is given); profiles otherwise.
    #[default]
    Auto,
    /// A profiles job: one row per person.
    Profiles,
    /// An events job: one row per event.
    Events,
}

/// The tools `--preset` knows; `plain` infers everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Preset {
    /// No preset: every column's role is inferred from its name and values.
    #[default]
    Plain,
    /// Mailchimp's audience exports (subscribed, unsubscribed, cleaned).
    Mailchimp,
    /// Klaviyo's profile export.
    Klaviyo,
    /// Braze's user exports (segment CSV, users NDJSON).
    Braze,
    /// OneSignal's subscriptions export.
    Onesignal,
    /// Customer.io's people export.
    Customerio,
    /// HubSpot's contacts export.
    Hubspot,
    /// Brevo's (Sendinblue's) contacts export.
    Brevo,
    /// Shopify's customers export.
    Shopify,
    /// Airship's channels export.
    Airship,
    /// CleverTap's profiles export.
    Clevertap,
}

impl Preset {
    /// The name `--preset` takes (and the embedded preset file's).
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Plain => "plain",
            Preset::Mailchimp => "mailchimp",
            Preset::Klaviyo => "klaviyo",
            Preset::Braze => "braze",
            Preset::Onesignal => "onesignal",
            Preset::Customerio => "customerio",
            Preset::Hubspot => "hubspot",
            Preset::Brevo => "brevo",
            Preset::Shopify => "shopify",
            Preset::Airship => "airship",
            Preset::Clevertap => "clevertap",
        }
    }
}

/// Why `init` wrote no job file.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The file cannot be read as CSV or NDJSON.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The `--preset-file` cannot be read or used (a usage error).
    #[error(transparent)]
    Preset(#[from] PresetError),
    /// Only the Custom ID column fits: a profiles job would send nothing.
    #[error("{path}: no column besides the Custom ID `{id}`: a profiles job needs something to send")]
    NothingToSend {
        /// The file, as the user named it.
        path: String,
        /// The column chosen as the Custom ID.
        id: String,
    },
    /// `--kind events` on a file with no column named like an event.
    #[error("{path}: no column names the event (event, event_name, event_type, action); its columns are: {headers}")]
    NoEventColumn {
        /// The file, as the user named it.
        path: String,
        /// Its header.
        headers: String,
    },
    /// A bug in `init`: the job it wrote does not load. Never expected.
    #[error("the job file written for {path} does not load ({message}); please report this")]
    Invalid {
        /// The file, as the user named it.
        path: String,
        /// The job loader's error.
        message: String,
    },
}

/// A job file, and what the self-check found on the sample.
#[derive(Debug)]
pub struct Generated {
    /// The job file's text, comments and all.
    pub text: String,
    /// Columns mapped (Custom ID, natives, attributes, consent).
    pub mapped: usize,
    /// Of them, native attributes (`$email_address`, ...).
    pub natives: usize,
    /// Columns left out (listed, with why, in the job file).
    pub not_mapped: usize,
    /// Rows sampled to choose and check the mapping.
    pub sampled: usize,
    /// Sampled rows the job would reject, with line, column and reason of the first few.
    pub rejected: usize,
    /// The first of those rejects, as `line N, column: reason`.
    pub first_rejects: Vec<String>,
}

/// Write a job for `path` (as the user gave it: it goes into `[source] path`)
/// with a shipped preset (`plain`: none).
pub fn generate(path: &str, preset: Preset) -> Result<Generated, InitError> {
    generate_as(path, preset, InitKind::Auto)
}

/// `generate`, for the kind of job asked for (`--kind`).
pub fn generate_as(path: &str, preset: Preset, kind: InitKind) -> Result<Generated, InitError> {
    let tool = presets::tool(preset.as_str());
    let how = match kind {
        InitKind::Auto => format!("--preset {}", preset.as_str()),
        k => {
            format!("--preset {} --kind {}", preset.as_str(), if k == InitKind::Events { "events" } else { "profiles" })
        }
    };
    write(path, tool.as_ref(), &how, kind)
}

/// Write a job for `path` with the user's preset file (`--preset-file`): a
/// tool batchport does not ship, described in the shipped presets' format.
pub fn generate_with_file(path: &str, preset_file: &Path) -> Result<Generated, InitError> {
    let tool = presets::from_file(preset_file)?;
    write(path, Some(&tool), &format!("--preset-file {}", preset_file.display()), InitKind::Profiles)
}

/// `how`: the flags that chose the preset, for the job file's first line.
fn write(path: &str, tool: Option<&presets::Tool>, how: &str, kind: InitKind) -> Result<Generated, InitError> {
    let csv = Path::new(path);
    let sample = sample::Sample::read(csv)?;
    let events = match kind {
        InitKind::Profiles => None,
        InitKind::Auto => events::find(&sample).filter(|c| tool.is_none() && c.time.is_some()),
        InitKind::Events => Some(
            events::find(&sample)
                .ok_or_else(|| InitError::NoEventColumn { path: path.into(), headers: sample.headers.join(", ") })?,
        ),
    };
    if let Some(cols) = events {
        let ids = ids::choose(&sample, None);
        let text = events::render(&sample, &cols, &ids, path, how);
        let attributes = sample.headers.len().saturating_sub(2 + usize::from(cols.time.is_some()));
        return check(path, csv, &sample, text, 2 + usize::from(cols.time.is_some()) + attributes, 0, 0);
    }
    let plan = plan::Plan::build(&sample, tool, path);
    if plan.natives.is_empty() && plan.attrs.is_empty() {
        return Err(InitError::NothingToSend { path: path.into(), id: plan.custom_id[0].0.clone() });
    }
    let cx = render::Context {
        how,
        tool: tool.map(|t| t.name.as_str()),
        path,
        job_name: &names::job_name(csv),
        native_hint: if plan.natives.iter().any(|m| m.target.is_email_marketing()) {
            ""
        } else {
            tool.map(|t| t.native_hint.as_str()).unwrap_or("")
        },
        consent: consent_summary(&plan),
    };
    let text = render::render(&plan, &sample, &cx);
    let mapped = plan.natives.len() + plan.attrs.len();
    check(path, csv, &sample, text, mapped, plan.natives.len(), plan.left.len())
}

/// The job `text` checked as `validate` would: it loads, and the sample's
/// rows go through its transform (the rejects are counted, the first shown).
fn check(
    path: &str,
    csv: &Path,
    sample: &sample::Sample,
    text: String,
    mapped: usize,
    natives: usize,
    not_mapped: usize,
) -> Result<Generated, InitError> {
    let invalid = |message: String| InitError::Invalid { path: path.into(), message };
    // Anchor the check next to the CSV, where the comments say the job belongs.
    let job_path = csv.parent().unwrap_or(Path::new("")).join("job.toml");
    let job = job::parse(&text, &job_path).map_err(|e| invalid(e.to_string()))?;
    // The sample's rows one by one: no need to read the whole file for opt-outs.
    let t = Transformer::bind_rows(&job, &sample.headers, csv).map_err(|e| invalid(e.to_string()))?;
    let mut rejected = 0;
    let mut first_rejects = Vec::new();
    for row in &sample.rows {
        if let Err(r) = t.map_row(row.clone()) {
            rejected += 1;
            if first_rejects.len() < 3 {
                first_rejects.push(format!("line {} `{}`: {}", r.pos.line, r.column, r.reason));
            }
        }
    }
    Ok(Generated { text, mapped, natives, not_mapped, sampled: sample.rows.len(), rejected, first_rejects })
}

/// One line per channel for the top of the job file: what consent it sends.
fn consent_summary(plan: &plan::Plan) -> Vec<String> {
    let mut out = Vec::new();
    for (wire, email) in [("$email_marketing", true), ("$sms_marketing", false)] {
        let m = plan.natives.iter().find(|m| match &m.target {
            plan::Target::Native(job::NativeKind::EmailMarketing(_)) => email,
            plan::Target::Native(job::NativeKind::SmsMarketing(_)) => !email,
            _ => false,
        });
        out.push(match m {
            None => format!("{wire}: NOT SENT (nothing in this file decides it; see the notes)"),
            Some(m) => {
                let mut parts = Vec::new();
                if let Some(c) = &m.extra.constant {
                    parts.push(format!("{c} for every row"));
                } else if !m.column.is_empty() {
                    parts.push(format!("from `{}`", m.column));
                }
                if !m.extra.suppressed_by.is_empty() {
                    parts.push(format!("unsubscribed wherever {} is set", m.extra.suppressed_by.join(" / ")));
                }
                for (c, w, except) in &m.extra.suppressed_when {
                    let but = if *except { "set but not " } else { "" };
                    parts.push(format!("unsubscribed wherever {c} is {but}{}", w.join(" / ")));
                }
                if m.column.is_empty() && m.extra.constant.is_none() {
                    parts.push("nothing sent on other rows".into());
                }
                format!("{wire}: {}", parts.join("; "))
            }
        });
    }
    out
}

impl plan::Target {
    fn is_email_marketing(&self) -> bool {
        matches!(self, plan::Target::Native(job::NativeKind::EmailMarketing(_)))
    }
}
