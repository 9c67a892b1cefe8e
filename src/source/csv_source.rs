//! `CsvSource`, the streaming reader over one input: opens the byte stack
//! (`encoding`), sniffs the delimiter, reads the header, then hands out rows
//! with their positions, in chunks (`read_chunk`) or blocks (`read_block`).
//! It resumes after a position (seeking in a plain file), flags rows that
//! repeat the header, and checks at the end that a local file did not change
//! while it was read.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::reader::{self, Parser, Read1, ReadError, Start};
use super::{Block, Cells, Delimiter, Format, Position, RawRow, RowCells, SourceError, SourceOptions};
use super::{encoding, is_remote, ndjson, sniff};

/// What the file looked like when it was opened, to tell at its end whether
/// it changed under the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Snapshot {
    size: u64,
    mtime: Option<std::time::SystemTime>,
    head: u64,
}

impl Snapshot {
    fn take(path: &Path) -> std::io::Result<Snapshot> {
        use std::io::Read;
        let meta = std::fs::metadata(path)?;
        let mut head = Vec::with_capacity(encoding::HEAD_LEN);
        std::fs::File::open(path)?.take(encoding::HEAD_LEN as u64).read_to_end(&mut head)?;
        Ok(Snapshot { size: meta.len(), mtime: meta.modified().ok(), head: xxhash_rust::xxh3::xxh3_64(&head) })
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A streaming reader over one CSV file.
pub struct CsvSource {
    path: PathBuf,
    parser: Parser,
    headers: Vec<String>,
    raw_headers: csv::ByteRecord,
    /// The line of a header repeated in another column order, read last:
    /// the rows under it are rejected (`header_again`).
    reordered: Option<u64>,
    /// The first bytes (ASCII-lowercased, after spaces) of the header's names:
    /// a row whose first cell starts otherwise is no header, without more work.
    header_firsts: [bool; 256],
    delimiter: u8,
    encoding: &'static str,
    seekable: bool,
    rereadable: bool,
    file_size: u64,
    counter: Arc<AtomicU64>,
    next_record: u64,
    /// A local file's state when opened (objects: none, their ETag is pinned).
    opened: Option<Snapshot>,
    grew: Option<u64>,
    /// An error met after some rows of a chunk: those rows go out first.
    pending: Option<SourceError>,
    /// JSON lines: the header line is synthetic, so record lines are one less.
    ndjson: bool,
    /// JSON lines that were not objects, by line: those rows are rejects.
    json_flaws: ndjson::Flaws,
}

impl std::fmt::Debug for CsvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSource")
            .field("path", &self.path)
            .field("headers", &self.headers)
            .field("delimiter", &(self.delimiter as char))
            .field("encoding", &self.encoding)
            .field("seekable", &self.seekable)
            .field("next_record", &self.next_record)
            .finish_non_exhaustive()
    }
}

impl CsvSource {
    /// Open `path`: gunzip `.gz` (by magic bytes), detect the encoding (BOM,
    /// then a sniff of the head) and transcode to UTF-8 if needed, sniff the
    /// delimiter, read the header row.
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self, SourceError> {
        let opened = encoding::open(path, opts)?;
        // An object is pinned by its ETag instead (see `remote`).
        let snapshot =
            if is_remote(path) { None } else { Some(Snapshot::take(path).map_err(|e| SourceError::open(path, e))?) };
        let ndjson = match opts.format {
            Format::Ndjson => true,
            Format::Csv => false,
            // By name first: a `.jsonl` whose first line is broken is still
            // JSON lines (its bad lines rejected), never a one-column CSV.
            Format::Auto => ndjson::named(path) || ndjson::looks_like(&opened.head),
        };
        let rereadable = opened.rereadable && !ndjson;
        let json_flaws = ndjson::Flaws::default();
        let (mut parser, seekable) = if ndjson {
            use std::io::Read;
            // The file is read twice: once for its keys (the columns), once for its rows.
            let ahead = encoding::open(path, opts)?;
            let keys = ndjson::scan_keys(std::io::Cursor::new(ahead.head[ahead.skip..].to_vec()).chain(ahead.input))
                .map_err(|e| SourceError::read(path, 1, e))?;
            if keys.is_empty() {
                // (A transcoded file's head is not kept: it is not blank.)
                let head = &opened.head[opened.skip..];
                let blank = matches!(opened.detected, encoding::Detected::Utf8 { .. })
                    && head.iter().all(u8::is_ascii_whitespace);
                let path = path.to_path_buf();
                return Err(if blank {
                    SourceError::Empty { path }
                } else if head.contains(&0) {
                    SourceError::Binary { path }
                } else {
                    SourceError::NotJson { path }
                });
            }
            let rest = std::io::Cursor::new(opened.head[opened.skip..].to_vec()).chain(opened.input);
            let csv = ndjson::NdjsonToCsv::new(rest, keys, json_flaws.clone());
            (Parser::new(encoding::Input::Stream(Box::new(csv)), Vec::new(), 0), false)
        } else {
            (Parser::new(opened.input, opened.head, opened.skip), opened.seekable)
        };
        let (sample, complete) = parser.peek(encoding::HEAD_LEN).map_err(|e| SourceError::read(path, 1, e))?;
        // After decoding, text has (next to) no NULs: a file with several,
        // over 1% of its head, is not text. A stray one is a cell's problem.
        let nuls = memchr::memchr_iter(0, sample).count();
        if nuls >= 2 && nuls * 100 >= sample.len() {
            return Err(SourceError::Binary { path: path.to_path_buf() });
        }
        let excel_sep = if ndjson { None } else { sniff::excel_sep_line(sample) };
        let delimiter = match opts.delimiter {
            _ if ndjson => b',',
            Delimiter::Byte(b) => b,
            Delimiter::Auto => excel_sep.unwrap_or_else(|| sniff::sniff_delimiter(sample, complete)),
        };
        parser.set_delimiter(delimiter);
        let mut src = CsvSource {
            path: path.to_path_buf(),
            parser,
            headers: Vec::new(),
            raw_headers: csv::ByteRecord::new(),
            reordered: None,
            header_firsts: [false; 256],
            delimiter,
            encoding: opened.detected.name(),
            seekable,
            rereadable,
            file_size: opened.file_size,
            counter: opened.counter,
            next_record: 0,
            opened: snapshot,
            grew: None,
            pending: None,
            ndjson,
            json_flaws,
        };
        // Excel's `sep=;` line names the delimiter; the header follows it.
        if excel_sep.is_some() {
            src.next()?;
        }
        match src.next()? {
            None => return Err(SourceError::Empty { path: path.to_path_buf() }),
            Some(Read1 { flaw: Some(reason), .. }) => {
                return Err(SourceError::BadHeader { path: path.to_path_buf(), reason });
            }
            Some(_) => {}
        }
        src.raw_headers = src.parser.to_byte_record();
        for name in src.raw_headers.iter() {
            let name = name.strip_prefix(UTF8_BOM).unwrap_or(name).trim_ascii();
            if let Some(&b) = name.first() {
                src.header_firsts[usize::from(b.to_ascii_lowercase())] = true;
            }
        }
        src.headers = src
            .raw_headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let h = String::from_utf8_lossy(h);
                let h = if i == 0 { h.trim_start_matches('\u{FEFF}') } else { &h };
                h.trim().to_string()
            })
            .collect();
        Ok(src)
    }

    /// Open `path`, then continue just after `after` (a position this reader
    /// returned for this file: everything up to and including that record is
    /// done). A seekable file seeks to the record; otherwise records are read
    /// and discarded up to it. Either way the next row is record
    /// `after.record + 1`, with its right line.
    pub fn open_after(path: &Path, opts: &SourceOptions, after: Position) -> Result<Self, SourceError> {
        let mut src = Self::open(path, opts)?;
        let resume_err = |reason: String| SourceError::Resume {
            path: path.to_path_buf(),
            record: after.record,
            line: after.line,
            reason,
        };
        if src.seekable {
            if after.byte >= src.file_size {
                return Err(resume_err(format!(
                    "byte offset {} is past the end of the file ({} bytes)",
                    after.byte, src.file_size
                )));
            }
            let start = Start { line: after.line, byte: after.byte };
            src.parser.seek(start).map_err(resume_err)?;
            src.next_record = after.record;
        }
        // Read the record `after` itself (and, without seeking, all before it).
        while src.next_record <= after.record {
            if src.next()?.is_none() {
                return Err(resume_err(format!("the file has only {} data records", src.next_record)));
            }
            src.next_record += 1;
        }
        Ok(src)
    }

    /// `open`, or `open_after` when part of the file is already done.
    pub fn open_from(path: &Path, opts: &SourceOptions, after: Option<Position>) -> Result<Self, SourceError> {
        match after {
            Some(after) => Self::open_after(path, opts, after),
            None => Self::open(path, opts),
        }
    }

    /// Read the next record into the parser; map errors to `SourceError`.
    fn next(&mut self) -> Result<Option<Read1>, SourceError> {
        self.parser.next_record().map_err(|e| match e {
            ReadError::Io(e) => SourceError::read(&self.path, self.parser.line(), e),
            ReadError::TooLarge => SourceError::RecordTooLarge {
                path: self.path.clone(),
                line: self.parser.line(),
                limit: reader::MAX_RECORD,
            },
            ReadError::Unclosed { line } => SourceError::Unclosed { path: self.path.clone(), line },
        })
    }

    /// At the end of the file: did it change since it was opened? Shrunk or
    /// rewritten is an error (rows may be missing or cut); grown is noted.
    fn check_unchanged(&mut self) -> Result<(), SourceError> {
        let Some(was) = self.opened else { return Ok(()) };
        let changed = |what: String| SourceError::Changed { path: self.path.clone(), what };
        let now = Snapshot::take(&self.path).map_err(|e| changed(format!("it cannot be read again: {e}")))?;
        if now == was {
            return Ok(());
        }
        if now.size < was.size {
            return Err(changed(format!("it shrank from {} to {} bytes", was.size, now.size)));
        }
        if now.head != was.head {
            return Err(changed("its first bytes were rewritten".into()));
        }
        if now.size == was.size {
            return Err(changed("it was written to: same size, new modification time".into()));
        }
        let more = now.size - was.size;
        tracing::warn!(
            path = %self.path.display(),
            bytes = more,
            "the file grew by {more} bytes while it was read; rows appended after the reader reached them are not imported by this run"
        );
        self.grew = Some(more);
        Ok(())
    }

    /// Bytes the file grew by while it was read (known at its end).
    pub fn grew(&self) -> Option<u64> {
        self.grew
    }

    /// The file (or object URL) being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Header names: trimmed, BOM removed, invalid UTF-8 replaced. Duplicates
    /// are kept as they are.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The header row exactly as in the file (after transcoding; without a BOM).
    pub fn raw_headers(&self) -> &csv::ByteRecord {
        &self.raw_headers
    }

    /// The field delimiter in use: given, sniffed, or `,` for JSON lines.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// "utf-8", "utf-16le", "utf-16be" or "windows-1252".
    pub fn encoding_name(&self) -> &'static str {
        self.encoding
    }

    /// True when the file is JSON lines (read through `ndjson`).
    pub fn is_ndjson(&self) -> bool {
        self.ndjson
    }

    /// True for a plain (not gzip, not transcoded) file: `open_after` seeks.
    pub fn seekable(&self) -> bool {
        self.seekable
    }

    /// True for a plain local file: settling may read a row again at its
    /// byte offset (objects are not read twice).
    pub fn rereadable(&self) -> bool {
        self.seekable && self.rereadable
    }

    /// The record number of the next row read.
    pub fn next_record(&self) -> u64 {
        self.next_record
    }

    /// Continue at `next`, a row start this reader (or another reader of the
    /// same file) returned, skipping the rows before it unread. Only for a
    /// seekable file; the end-of-file check still tells if it changed.
    pub fn skip_to(&mut self, next: Position) -> Result<(), SourceError> {
        if !self.seekable {
            return Err(SourceError::Resume {
                path: self.path.clone(),
                record: next.record,
                line: next.line,
                reason: "the file cannot seek".into(),
            });
        }
        let start = Start { line: next.line, byte: next.byte };
        self.parser.seek(start).map_err(|reason| SourceError::Resume {
            path: self.path.clone(),
            record: next.record,
            line: next.line,
            reason,
        })?;
        self.next_record = next.record;
        // Progress: a plain file's bytes read are its offset; the rows sought
        // past count as read.
        self.counter.store(next.byte, Ordering::Relaxed);
        Ok(())
    }

    /// Size on disk, for progress and ETA.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// On-disk bytes read so far (read-ahead included), for progress.
    pub fn bytes_read(&self) -> u64 {
        self.counter.load(Ordering::Relaxed)
    }

    /// Append up to `max` rows to `out`; `Ok(false)` at end of file. Fields
    /// keep their bytes exactly: ragged rows and invalid UTF-8 are returned as
    /// they are, for the transform to reject.
    pub fn read_chunk(&mut self, max: usize, out: &mut Vec<RawRow>) -> Result<bool, SourceError> {
        out.reserve(max.min(1 << 16));
        self.read_rows(max, |parser, pos, flaw| out.push(RawRow { pos, record: parser.to_byte_record(), flaw }))
    }

    /// `read_chunk` into a block: the same rows, copied into the block's
    /// buffers instead of one allocated record each.
    pub fn read_block(&mut self, max: usize, block: &mut Block) -> Result<bool, SourceError> {
        let more = self.read_rows(max, |parser, pos, flaw| {
            let (fields, ends) = parser.record();
            block.push(pos, fields, ends, flaw);
        })?;
        block.bytes_read = self.bytes_read();
        Ok(more)
    }

    /// Hand up to `max` rows to `push` (the parser holds the row's fields);
    /// `Ok(false)` at end of file.
    fn read_rows(
        &mut self,
        max: usize,
        mut push: impl FnMut(&Parser, Position, Option<String>),
    ) -> Result<bool, SourceError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        for n in 0..max {
            let next = self.next().and_then(|r| {
                if r.is_none() {
                    self.check_unchanged()?;
                }
                Ok(r)
            });
            let Some(Read1 { at, mut flaw }) = (match next {
                Ok(r) => r,
                // The whole rows read before the error are handed out first.
                Err(e) if n > 0 => {
                    self.pending = Some(e);
                    return Ok(true);
                }
                Err(e) => return Err(e),
            }) else {
                return Ok(false);
            };
            // JSON lines: the header line is synthetic, so record lines are one less.
            let line = at.line - u64::from(self.ndjson);
            if flaw.is_none() {
                let (fields, ends) = self.parser.record();
                let cells = RowCells::new(fields, ends);
                // Most rows: neither under a reordered header nor starting like a header name or a BOM.
                let first = if cells.is_empty() { None } else { cells.field(0).trim_ascii_start().first() };
                let first = first.map_or(0, u8::to_ascii_lowercase);
                if self.reordered.is_some() || self.header_firsts[usize::from(first)] || first == UTF8_BOM[0] {
                    flaw = header_again(&self.raw_headers, &mut self.reordered, &cells, line);
                }
            }
            if self.ndjson && flaw.is_none() {
                flaw = self.json_flaws.lock().unwrap_or_else(|e| e.into_inner()).remove(&line);
            }
            push(&self.parser, Position { line, byte: at.byte, record: self.next_record }, flaw);
            self.next_record += 1;
        }
        Ok(true)
    }
}

/// A row that repeats the header `h` (files concatenated, each with its
/// header, maybe its BOM) or starts with a BOM is not data. Cheap: most rows
/// differ from the header in their first bytes.
///
/// The same names in another case are the header too; in another column
/// order, the rows after it would be read under the wrong columns: they are
/// rejected, each saying why, until the header comes back in its own order
/// (`reordered` keeps the line of such a header; a resume that starts past
/// it does not know it).
fn header_again(h: &csv::ByteRecord, reordered: &mut Option<u64>, record: &impl Cells, line: u64) -> Option<String> {
    if record.is_empty() {
        return None;
    }
    let first = record.field(0);
    let bom = first.starts_with(UTF8_BOM);
    let first = if bom { &first[UTF8_BOM.len()..] } else { first };
    let same = |a: &[u8], b: &[u8]| a.trim_ascii().eq_ignore_ascii_case(b.trim_ascii());
    let cell = |i: usize| if i == 0 { first } else { record.field(i) };
    if record.len() == h.len() && h.iter().any(|name| same(name, first)) {
        if (0..h.len()).all(|i| same(&h[i], cell(i))) {
            *reordered = None;
            return Some("the header row again (files joined together?): not data".into());
        }
        // Every name once, in another order.
        let mut unused: Vec<&[u8]> = h.iter().collect();
        let permuted = (0..h.len()).all(|i| match unused.iter().position(|n| same(n, cell(i))) {
            Some(at) => {
                unused.swap_remove(at);
                true
            }
            None => false,
        });
        if permuted {
            *reordered = Some(line);
            return Some(
                "the header row again, its columns in another order (files joined together?): not data; \
                     the rows under it are not imported (split the file here and import each part)"
                    .into(),
            );
        }
    }
    if let Some(at) = *reordered {
        return Some(format!(
            "under the header repeated at line {at} in another column order: read under the first \
                 header, its cells would go to the wrong columns; not imported (split the file at line {at})"
        ));
    }
    bom.then(|| {
        "the row starts with a byte order mark (U+FEFF), as a file does: files joined together? Not imported".into()
    })
}
