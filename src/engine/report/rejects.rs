//! The rejects file: the source's own header and rows, unchanged, plus `_line`,
//! `_column`, `_reason` and `_raw` (and `_file` when the input is several
//! files), so that a user can fix it and import it as it is. Every row has the
//! header's width: a row with more or fewer fields than the header keeps its
//! cells empty and its whole text in `_raw`, so `_line`/`_reason` never slide
//! under other columns.
//!
//! One file per source header: a glob whose files have two headers gets
//! `<stem>.csv` and `<stem>-2.csv`, and a third file with the first header
//! goes back to `<stem>.csv`. Every file is listed in `paths`, and `lens`
//! says how long each is, so a resumed run cuts each back to what its
//! ledger vouches for.

use batchport_transform::Reject;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// The columns a rejects (uncertain, partial) file adds after the source's own.
pub const REPORT_COLUMNS: [&str; 4] = ["_line", "_column", "_reason", "_raw"];
const FILE_COLUMN: &str = "_file";

struct Out {
    header: csv::ByteRecord,
    path: PathBuf,
    writer: Option<csv::Writer<BufWriter<File>>>,
}

/// Writes the rows of one report (rejects, uncertain or partial rows) to its
/// files, one per source header, created at the first row.
pub struct RejectsWriter {
    dir: PathBuf,
    stem: String,
    delimiter: u8,
    header: Option<csv::ByteRecord>,
    /// The source file the next rejects come from, for the `_file` column.
    source: Option<PathBuf>,
    /// Add a `_file` column (the input is several files).
    file_column: bool,
    outs: Vec<Out>,
    /// Index in `outs` of the current header's file, once known.
    current: Option<usize>,
    /// Every file written, in order (a glob whose headers differ gets several).
    pub paths: Vec<PathBuf>,
    /// Rows written by this writer (not those an earlier attempt wrote).
    pub count: u64,
}

impl RejectsWriter {
    /// Files are created only when the first reject arrives: `<dir>/<stem>.csv`.
    pub fn new(dir: &Path, stem: &str) -> Self {
        RejectsWriter {
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
            delimiter: b',',
            header: None,
            source: None,
            file_column: false,
            outs: Vec::new(),
            current: None,
            paths: Vec::new(),
            count: 0,
        }
    }

    /// Name the source file of each row in a `_file` column.
    pub(crate) fn with_file_column(mut self, on: bool) -> Self {
        self.file_column = on;
        self
    }

    /// The header (and delimiter) of the source the next rejects come from.
    pub fn set_source(&mut self, header: &csv::ByteRecord, delimiter: u8) {
        self.current = self.outs.iter().position(|o| o.header == *header);
        self.header = Some(header.clone());
        self.delimiter = delimiter;
    }

    /// The path of the source the next rejects come from (`_file`).
    pub(crate) fn set_source_path(&mut self, path: &Path) {
        self.source = Some(path.to_path_buf());
    }

    /// Write one row: its source cells, then `_line`, `_column`, `_reason`,
    /// `_raw` (and `_file`), to the file of the current source header.
    pub fn write(&mut self, r: &Reject) -> std::io::Result<()> {
        let i = match self.current {
            Some(i) => i,
            None => self.open()?,
        };
        let (delimiter, file_column) = (self.delimiter, self.file_column);
        let out = &mut self.outs[i];
        if out.writer.is_none() {
            // A file an earlier attempt wrote: append to what the ledger kept.
            let f = std::fs::OpenOptions::new().append(true).open(&out.path)?;
            out.writer = Some(writer(delimiter, f));
        }
        let width = out.header.len();
        let Some(w) = out.writer.as_mut() else { return Ok(()) };
        let (mut rec, raw) = if r.record.len() == width || width == 0 {
            (r.record.clone(), Vec::new())
        } else {
            let empty: csv::ByteRecord = std::iter::repeat_n(&b""[..], width).collect();
            (empty, raw_text(&r.record, delimiter)?)
        };
        rec.push_field(r.pos.line.to_string().as_bytes());
        rec.push_field(r.column.as_bytes());
        rec.push_field(r.reason.as_bytes());
        rec.push_field(&raw);
        if file_column {
            rec.push_field(self.source.as_deref().map(|p| p.to_string_lossy()).unwrap_or_default().as_bytes());
        }
        w.write_byte_record(&rec).map_err(csv_io)?;
        self.count += 1;
        Ok(())
    }

    fn name(&self, n: usize) -> PathBuf {
        self.dir.join(match n {
            0 => format!("{}.csv", self.stem),
            n => format!("{}-{}.csv", self.stem, n + 1),
        })
    }

    fn open(&mut self) -> std::io::Result<usize> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.name(self.outs.len());
        let mut w = writer(self.delimiter, File::create(&path)?);
        let header = self.header.clone().unwrap_or_default();
        let mut full = header.clone();
        for extra in REPORT_COLUMNS {
            full.push_field(extra.as_bytes());
        }
        if self.file_column {
            full.push_field(FILE_COLUMN.as_bytes());
        }
        w.write_byte_record(&full).map_err(csv_io)?;
        self.outs.push(Out { header, path: path.clone(), writer: Some(w) });
        self.paths.push(path);
        self.current = Some(self.outs.len() - 1);
        Ok(self.outs.len() - 1)
    }

    /// Bytes in each file (flushed), in order, for the ledger.
    pub(crate) fn lens(&self) -> Vec<u64> {
        self.paths.iter().map(|p| std::fs::metadata(p).map_or(0, |m| m.len())).collect()
    }

    /// Bytes in the first file (flushed).
    pub fn len(&self) -> u64 {
        self.lens().first().copied().unwrap_or(0)
    }

    /// Nothing in the first file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Continue the files an earlier attempt of the run wrote: cut each back
    /// to its length in `lens`, the lengths the ledger vouches for (what came
    /// after belongs to batches that will be redone), and append from there.
    /// Files past `lens` belong to batches that will be redone: removed.
    pub(crate) fn resume(&mut self, lens: &[u64]) -> std::io::Result<()> {
        for (n, &len) in lens.iter().enumerate() {
            let path = self.name(n);
            if len == 0 || !path.exists() {
                // Nothing vouched for: this and later files are redone whole.
                return self.remove_from(n);
            }
            let f = std::fs::OpenOptions::new().write(true).open(&path)?;
            f.set_len(len)?;
            drop(f);
            let header = self.read_header(&path)?;
            self.outs.push(Out { header, path: path.clone(), writer: None });
            self.paths.push(path);
        }
        self.remove_from(lens.len())
    }

    fn remove_from(&self, n: usize) -> std::io::Result<()> {
        for k in n.. {
            match std::fs::remove_file(self.name(k)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The source header of a rejects file: its first row without the added
    /// columns, read with the delimiter that precedes `_line` in it.
    fn read_header(&self, path: &Path) -> std::io::Result<csv::ByteRecord> {
        use std::io::BufRead;
        let mut line = Vec::new();
        std::io::BufReader::new(File::open(path)?).read_until(b'\n', &mut line)?;
        let delimiter = line
            .windows(REPORT_COLUMNS[0].len() + 1)
            .find(|w| &w[1..] == REPORT_COLUMNS[0].as_bytes())
            .map_or(b',', |w| w[0]);
        let mut b = csv::ReaderBuilder::new();
        b.has_headers(false).flexible(true).delimiter(delimiter);
        let mut first = csv::ByteRecord::new();
        b.from_reader(line.as_slice()).read_byte_record(&mut first).map_err(csv_io)?;
        let keep = first.len().saturating_sub(REPORT_COLUMNS.len() + usize::from(self.file_column));
        Ok(first.iter().take(keep).collect())
    }

    /// Hand every file's buffered rows to the OS, so that the files' lengths
    /// count them.
    pub fn flush(&mut self) -> std::io::Result<()> {
        for o in &mut self.outs {
            if let Some(w) = o.writer.as_mut() {
                w.flush()?;
            }
        }
        Ok(())
    }
}

fn writer(delimiter: u8, f: File) -> csv::Writer<BufWriter<File>> {
    csv::WriterBuilder::new().delimiter(delimiter).flexible(true).from_writer(BufWriter::new(f))
}

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
