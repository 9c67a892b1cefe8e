//! `verify --repair`: the source rows of every profile that differs or is
//! missing, written to a repair file (the source's own header and rows, as a
//! rejects file is, so it imports like the original), then sent by a normal
//! run of the job over that file: rate limits, ledger, resume and summary
//! are the run's. All the rows of such a profile are sent, in input order,
//! so that Batch ends holding what the whole input says of it (a profile
//! whose later row leaves a cell blank keeps the earlier row's value).
//!
//! The run is recorded under `<job>-repair` (its own store, so the job's
//! runs and "already imported" records are left alone). A repair run that
//! stops part way is abandoned by the next `verify --repair`, which checks
//! again and sends only what still differs.

use crate::report::{RejectsWriter, Summary};
use crate::service::Options;
use anyhow::{Context as _, Result};
use batchport_source::{Delimiter, Encoding, Format, Position, SourceOptions};
use batchport_transform::Reject;
use batchport_transform::job::{Job, Mapping, SourceSettings};
use std::path::{Path, PathBuf};

use super::input::InputFile;

/// The repair rows, as they are found.
pub(crate) struct RepairFile {
    dir: PathBuf,
    writer: RejectsWriter,
    files: Vec<InputFile>,
    current: Option<usize>,
    /// Profiles whose rows were written.
    pub(crate) profiles: u64,
    /// Rows written.
    pub(crate) rows: u64,
}

/// Where the repair files of `job` go: `<state>/verify/<job>/`.
pub(crate) fn home(state_dir: &Path, job: &str) -> PathBuf {
    state_dir.join("verify").join(job)
}

impl RepairFile {
    /// A new repair folder under `home`; earlier ones (superseded: this verify
    /// checks again what they were to fix) are removed.
    pub(crate) fn create(home: &Path, files: Vec<InputFile>) -> Result<RepairFile> {
        if let Ok(entries) = std::fs::read_dir(home) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with("repair-") {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = home.join(format!("repair-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")));
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let several = files.len() > 1;
        let writer = RejectsWriter::new(&dir, "repair").with_file_column(several);
        Ok(RepairFile { dir, writer, files, current: None, profiles: 0, rows: 0 })
    }

    /// The rows of one profile, in input order.
    pub(crate) fn profile(&mut self, rows: &[(usize, u64, csv::ByteRecord)]) -> std::io::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.profiles += 1;
        for (file, line, record) in rows {
            if self.current != Some(*file) {
                let f = &self.files[*file];
                self.writer.set_source(&f.header, f.delimiter);
                self.writer.set_source_path(&f.path);
                self.current = Some(*file);
            }
            let pos = Position { line: *line, ..Position::default() };
            let r = Reject { pos, column: String::new(), reason: "repair".into(), record: record.clone() };
            self.writer.write(&r)?;
            self.rows += 1;
        }
        Ok(())
    }

    pub(crate) fn finish(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }

    /// Send the rows: a normal run of `job` over the repair files.
    pub(crate) async fn send(self, job: &Job, opts: &Options) -> Result<Summary> {
        let repair = repair_job(job, &self.dir);
        let summary = crate::run::execute(&repair, opts).await?;
        if summary.status == crate::status::Status::Done {
            // People's rows: not kept once they are in.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        Ok(summary)
    }
}

/// `job` over the repair files of `dir`, under its own name, sending every row.
fn repair_job(job: &Job, dir: &Path) -> Job {
    let mut j = job.clone();
    j.name = format!("{}-repair", job.name);
    j.schedule = None;
    j.source = Some(SourceSettings {
        // Relative to `base_dir`, which may itself be relative (a `--state` given so).
        pattern: "repair*.csv".into(),
        base_dir: dir.to_path_buf(),
        options: SourceOptions {
            delimiter: Delimiter::Auto,
            encoding: Encoding::Utf8,
            format: Format::Csv,
            endpoint: None,
            etag: None,
        },
    });
    if let Mapping::Profiles(m) = &mut j.mapping {
        // The repair is sent whatever the change index says.
        m.changed_only = false;
    }
    j
}
