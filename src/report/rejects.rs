//! The rejects file: the source's own header and rows, unchanged, plus `_line`,
//! `_column`, `_reason` and `_raw`, so that a user can fix it and import it as
//! it is. Every row has the header's width: a row with more or fewer fields
//! than the header (a stray delimiter or quote) keeps its cells empty and its
//! whole text in `_raw`, so `_line`/`_reason` never slide under other columns.

use crate::transform::Reject;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

pub struct RejectsWriter {
    dir: PathBuf,
    stem: String,
    delimiter: u8,
    header: Option<csv::ByteRecord>,
    writer: Option<csv::Writer<BufWriter<File>>>,
    /// Every file written, in order (a glob whose headers differ gets several).
    pub paths: Vec<PathBuf>,
    pub count: u64,
    resumed: bool,
}

impl RejectsWriter {
    /// Files are created only when the first reject arrives: `<dir>/<stem>.csv`.
    pub fn new(dir: &Path, stem: &str) -> Self {
        RejectsWriter {
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
            delimiter: b',',
            header: None,
            writer: None,
            paths: Vec::new(),
            count: 0,
            resumed: false,
        }
    }

    /// The header (and delimiter) of the source the next rejects come from.
    pub fn set_source(&mut self, header: &csv::ByteRecord, delimiter: u8) {
        if self.resumed {
            // The resumed file already has this source's header.
            self.resumed = false;
            self.header = Some(header.clone());
            if let Some(w) = self.writer.take() {
                let inner = w.into_inner().map_err(|e| e.into_error()).ok();
                self.writer =
                    inner.map(|f| csv::WriterBuilder::new().delimiter(delimiter).flexible(true).from_writer(f));
            }
        } else if self.header.as_ref() != Some(header) {
            // A different header cannot share a file: the next reject opens a new one.
            self.writer = None;
            self.header = Some(header.clone());
        }
        self.delimiter = delimiter;
    }

    pub fn write(&mut self, r: &Reject) -> std::io::Result<()> {
        if self.writer.is_none() {
            self.open()?;
        }
        let width = self.header.as_ref().map_or(r.record.len(), csv::ByteRecord::len);
        let Some(w) = self.writer.as_mut() else { return Ok(()) };
        let (mut rec, raw) = if r.record.len() == width {
            (r.record.clone(), Vec::new())
        } else {
            let empty: csv::ByteRecord = std::iter::repeat_n(&b""[..], width).collect();
            (empty, raw_text(&r.record, self.delimiter)?)
        };
        rec.push_field(r.pos.line.to_string().as_bytes());
        rec.push_field(r.column.as_bytes());
        rec.push_field(r.reason.as_bytes());
        rec.push_field(&raw);
        w.write_byte_record(&rec).map_err(csv_io)?;
        self.count += 1;
        Ok(())
    }

    fn open(&mut self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let name = match self.paths.len() {
            0 => format!("{}.csv", self.stem),
            n => format!("{}-{}.csv", self.stem, n + 1),
        };
        let path = self.dir.join(name);
        let mut w = csv::WriterBuilder::new()
            .delimiter(self.delimiter)
            .flexible(true)
            .from_writer(BufWriter::new(File::create(&path)?));
        let mut header = self.header.clone().unwrap_or_default();
        for extra in EXTRA_COLUMNS {
            header.push_field(extra.as_bytes());
        }
        w.write_byte_record(&header).map_err(csv_io)?;
        self.writer = Some(w);
        self.paths.push(path);
        Ok(())
    }

    /// Bytes in the current file (flushed), for the ledger.
    pub fn len(&self) -> u64 {
        self.paths.last().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Continue a file an earlier attempt of the run wrote: cut it back to
    /// `len`, the length the ledger vouches for (what came after belongs to
    /// batches that will be redone), and append from there.
    pub fn resume(&mut self, len: u64) -> std::io::Result<()> {
        let path = self.dir.join(format!("{}.csv", self.stem));
        if len == 0 || !path.exists() {
            return Ok(());
        }
        let f = std::fs::OpenOptions::new().write(true).open(&path)?;
        f.set_len(len)?;
        drop(f);
        let f = std::fs::OpenOptions::new().append(true).open(&path)?;
        self.writer =
            Some(csv::WriterBuilder::new().delimiter(self.delimiter).flexible(true).from_writer(BufWriter::new(f)));
        self.paths.push(path);
        self.resumed = true;
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        if let Some(w) = self.writer.as_mut() {
            w.flush()?;
        }
        Ok(())
    }
}

/// The columns a rejects file adds after the source's own.
pub const EXTRA_COLUMNS: [&str; 4] = ["_line", "_column", "_reason", "_raw"];

/// A record as one line of CSV text (quoted where needed, no line break): the
/// row as it was in the file, for `_raw`.
fn raw_text(record: &csv::ByteRecord, delimiter: u8) -> std::io::Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_byte_record(record).map_err(csv_io)?;
    let mut text = w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
    text.pop();
    Ok(text)
}

fn csv_io(e: csv::Error) -> std::io::Error {
    std::io::Error::other(e)
}
