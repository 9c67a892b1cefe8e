//! What a verify found, as `batchport verify` prints it (`--json`: one
//! object), and the differences file: one line per attribute that differs
//! (or per profile missing from Batch), with the source file and line of the
//! row that set it.

use super::compare::{Difference, Tally};
use super::input::InputFile;
use crate::export::output::escape_formula;
use crate::report::Summary;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// How a verify ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyStatus {
    /// Every profile checked matches the input. Exit code 0.
    Match,
    /// Some profiles differ or are missing. Exit code 3.
    Differ,
    /// The verify could not finish (the export failed...). Exit code 1.
    Failed,
    /// Stopped by a signal. Exit code 130.
    Interrupted,
}

impl VerifyStatus {
    /// The exit code JOBS.md gives it.
    pub fn code(self) -> i32 {
        match self {
            VerifyStatus::Match => 0,
            VerifyStatus::Differ => 3,
            VerifyStatus::Failed => 1,
            VerifyStatus::Interrupted => 130,
        }
    }
}

/// What `batchport verify` prints.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The job's name.
    pub job: String,
    /// How it ended; [`VerifyStatus::code`] is the exit code.
    pub status: VerifyStatus,
    /// Rows read from the input.
    pub rows_read: u64,
    /// Rows the transform rejects (never sent, so not expected in Batch).
    pub rows_rejected: u64,
    /// `--sample N`: the N asked for; `None`: every profile.
    pub sample: Option<u64>,
    /// The sample's seed (`--seed` repeats a sample).
    pub sample_seed: Option<u64>,
    /// Distinct Custom IDs checked.
    pub profiles_checked: u64,
    /// Profiles whose every expected attribute matches.
    pub profiles_matching: u64,
    /// Profiles Batch does not have at all.
    pub profiles_missing: u64,
    /// Profiles Batch has with at least one attribute that differs (consent included).
    pub profiles_differing: u64,
    /// Profiles whose `$email_marketing` or `$sms_marketing` differs.
    pub profiles_consent_differing: u64,
    /// Differing profiles per attribute (consent attributes apart).
    pub differing_by_attribute: BTreeMap<String, u64>,
    /// Differing profiles per consent attribute.
    pub consent_differing: BTreeMap<String, u64>,
    /// The differences file (created only when something differs).
    pub differences_file: Option<PathBuf>,
    /// The export read.
    pub export_id: Option<String>,
    /// Records in it.
    pub export_records: u64,
    /// `--repair`: the repair run's summary (a normal run of the rows that
    /// differ or are missing).
    pub repair: Option<Summary>,
    /// `--repair`: Custom IDs whose rows were sent again.
    pub profiles_repaired: Option<u64>,
    /// `--rebuild-index`: Custom IDs recorded in the change index (those
    /// that match, and with `--repair` those its run repaired when it ended
    /// `done`; the others are sent by the next `changed_only` run).
    pub index_rebuilt: Option<u64>,
    /// Seconds from start to end.
    pub elapsed_s: f64,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// What the user should know.
    pub note: Option<String>,
}

impl VerifyReport {
    pub(crate) fn new(job: &str) -> VerifyReport {
        VerifyReport {
            job: job.to_string(),
            status: VerifyStatus::Failed,
            rows_read: 0,
            rows_rejected: 0,
            sample: None,
            sample_seed: None,
            profiles_checked: 0,
            profiles_matching: 0,
            profiles_missing: 0,
            profiles_differing: 0,
            profiles_consent_differing: 0,
            differing_by_attribute: BTreeMap::new(),
            consent_differing: BTreeMap::new(),
            differences_file: None,
            export_id: None,
            export_records: 0,
            repair: None,
            profiles_repaired: None,
            index_rebuilt: None,
            elapsed_s: 0.0,
            error: None,
            note: None,
        }
    }

    pub(crate) fn count(&mut self, t: Tally) {
        self.profiles_checked = t.checked;
        self.profiles_matching = t.matching;
        self.profiles_missing = t.missing;
        self.profiles_differing = t.differing;
        self.profiles_consent_differing = t.consent_differing;
        self.differing_by_attribute = t.by_attribute;
        self.consent_differing = t.consent;
    }

    /// The report for people.
    pub fn human(&self) -> String {
        let mut s = format!("verify {}: {}\n", self.job, self.status_text());
        let sampled = match self.sample {
            Some(n) => format!(" (a sample of {n}, seed {})", self.sample_seed.unwrap_or_default()),
            None => String::new(),
        };
        s += &format!(
            "  rows read          {} ({} rejected by the job, not expected)\n",
            self.rows_read, self.rows_rejected
        );
        s += &format!("  profiles checked   {}{sampled}\n", self.profiles_checked);
        s += &format!("  matching           {}\n", self.profiles_matching);
        s += &format!("  missing from Batch {}\n", self.profiles_missing);
        s += &format!("  differing          {}\n", self.profiles_differing);
        for (a, n) in &self.differing_by_attribute {
            s += &format!("    {a:<16} {n}\n");
        }
        if !self.consent_differing.is_empty() {
            s += &format!("  consent differing  {}\n", self.profiles_consent_differing);
            for (a, n) in &self.consent_differing {
                s += &format!("    {a:<16} {n}\n");
            }
        }
        if let Some(p) = &self.differences_file {
            s += &format!("  differences        {}\n", p.display());
        }
        if let Some(id) = &self.export_id {
            s += &format!("  export             {id} ({} records)\n", self.export_records);
        }
        if let (Some(r), Some(ids)) = (&self.repair, self.profiles_repaired) {
            s += &format!(
                "  repair             {} rows of {ids} profiles sent again by run {} ({})\n",
                r.rows_sent,
                r.run_id,
                serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
            );
        }
        if let Some(n) = self.index_rebuilt {
            s += &format!("  change index       rebuilt: {n} profiles recorded as in Batch\n");
        }
        if let Some(e) = &self.error {
            s += &format!("  error              {e}\n");
        }
        if let Some(n) = &self.note {
            s += &format!("  note               {n}\n");
        }
        s += &format!("  elapsed            {:.1} s", self.elapsed_s);
        s
    }

    fn status_text(&self) -> &'static str {
        match self.status {
            VerifyStatus::Match => "everything checked matches",
            VerifyStatus::Differ => "differences found",
            VerifyStatus::Failed => "failed",
            VerifyStatus::Interrupted => "interrupted",
        }
    }
}

/// The differences file, created (private) at its first line.
pub(crate) struct DifferencesFile {
    path: PathBuf,
    files: Vec<InputFile>,
    writer: Option<csv::Writer<BufWriter<File>>>,
}

impl DifferencesFile {
    pub(crate) fn new(path: PathBuf, files: Vec<InputFile>) -> DifferencesFile {
        DifferencesFile { path, files, writer: None }
    }

    /// The file, if anything was written.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.writer.as_ref().map(|_| self.path.as_path())
    }

    pub(crate) fn write(&mut self, d: &Difference<'_>) -> std::io::Result<()> {
        if self.writer.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut o = std::fs::OpenOptions::new();
            o.create(true).write(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            let mut w = csv::Writer::from_writer(BufWriter::new(o.open(&self.path)?));
            w.write_record(["file", "line", "custom_id", "attribute", "expected", "found"])?;
            self.writer = Some(w);
        }
        let file = self.files.get(d.file).map(|f| f.path.to_string_lossy().into_owned()).unwrap_or_default();
        // Opened in spreadsheets: a value is shown, never run as a formula.
        let row = [
            file,
            d.line.to_string(),
            escape_formula(d.id),
            d.attribute.unwrap_or("(profile)").to_string(),
            escape_formula(&d.expected),
            escape_formula(&d.found),
        ];
        if let Some(w) = self.writer.as_mut() {
            w.write_record(&row)?;
        }
        Ok(())
    }

    pub(crate) fn finish(&mut self) -> std::io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}
