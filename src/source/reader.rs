//! The record parser: csv-core driven over our own buffer, so the exact start
//! of every record (physical line, byte offset) is known. `csv::Reader` only
//! reports where the previous record ended, which is wrong after a CRLF or
//! skipped blank lines; here the blank bytes are skipped (and counted) before
//! the record starts.
//!
//! Beside csv-core it also: counts lines in files that end lines with a bare
//! CR (csv-core counts LFs only); checks quoting (`quotes`); stops at the last
//! whole record when the stream fails part way (a truncated `.gz`), so what
//! came before is read; and, in a plain file, steps over a quote that is
//! never closed to read the lines after it.

use std::io::{self, Read, Seek, SeekFrom};

use csv_core::ReadRecordResult;

use super::encoding::Input;
use super::quotes::QuoteCheck;
use super::split::next_of;

/// Read size and buffer capacity.
const BUF_LEN: usize = 256 * 1024;
/// A record larger than this is an error, not a reason to grow without bound.
pub(crate) const MAX_RECORD: usize = 64 * 1024 * 1024;

/// Where a record starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Start {
    pub(crate) line: u64,
    pub(crate) byte: u64,
}

/// Why a record could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    TooLarge,
    /// A quote opened at `line` is never closed, and the stream cannot go back
    /// to read the lines after it.
    Unclosed {
        line: u64,
    },
}

/// A record read: where it starts, and what is wrong with it if the reader
/// saw something the fields alone do not show.
#[derive(Debug, Clone)]
pub(crate) struct Read1 {
    pub(crate) at: Start,
    pub(crate) flaw: Option<String>,
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

pub(crate) struct Parser {
    core: csv_core::Reader,
    input: Input,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// A read error met after some data: reported once the whole records
    /// before it have been handed out.
    pending: Option<io::Error>,
    /// Stream offset of `buf[start]`.
    byte: u64,
    /// Physical line (1-based) of `buf[start]`.
    line: u64,
    /// Lines end with a bare CR (decided from the first data): count CRs.
    cr_lines: Option<bool>,
    delimiter: u8,
    quotes: QuoteCheck,
    /// The last record: field bytes and field end offsets.
    fields: Vec<u8>,
    ends: Vec<usize>,
    nfields: usize,
    nends: usize,
    /// csv-core has read a record: it has made its one check for a BOM, so a
    /// record may now be split without it (`split_plain`).
    core_used: bool,
}

impl Parser {
    /// A parser over `input` whose first bytes were already taken off it into
    /// `head`; the first `skip` bytes of `head` (a BOM) are not CSV.
    pub(crate) fn new(input: Input, mut head: Vec<u8>, skip: usize) -> Self {
        let end = head.len();
        if head.capacity() < BUF_LEN {
            head.reserve_exact(BUF_LEN - end);
        }
        let cap = head.capacity();
        head.resize(cap, 0);
        Parser {
            core: csv_core::Reader::new(),
            input,
            buf: head,
            start: skip.min(end),
            end,
            eof: false,
            pending: None,
            byte: skip.min(end) as u64,
            line: 1,
            cr_lines: None,
            delimiter: b',',
            quotes: QuoteCheck::new(b','),
            fields: vec![0; 4096],
            ends: vec![0; 64],
            nfields: 0,
            nends: 0,
            core_used: false,
        }
    }

    pub(crate) fn set_delimiter(&mut self, d: u8) {
        self.core = csv_core::ReaderBuilder::new().delimiter(d).build();
        self.core.set_line(self.line);
        self.delimiter = d;
        self.quotes = QuoteCheck::new(d);
    }

    /// One read into `buf[end..]`; an error after data is kept for later.
    fn read_more(&mut self) -> io::Result<()> {
        loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // What was read before the failure is still parsed.
                    self.pending = Some(e);
                    self.eof = true;
                }
            }
            return Ok(());
        }
    }

    /// Make sure at least `n` unread bytes are buffered (fewer at end of
    /// stream) without consuming any; returns them and whether that is all.
    pub(crate) fn peek(&mut self, n: usize) -> io::Result<(&[u8], bool)> {
        let n = n.min(self.buf.len());
        if self.end - self.start < n && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while !self.eof && self.end - self.start < n {
            self.read_more()?;
        }
        if self.start == self.end
            && let Some(e) = self.pending.take()
        {
            return Err(e);
        }
        Ok((&self.buf[self.start..self.end], self.eof))
    }

    /// Refill the (fully consumed) buffer.
    fn fill(&mut self) -> io::Result<()> {
        self.start = 0;
        self.end = 0;
        self.read_more()
    }

    /// The physical line the parser is at (for error messages).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Lines in `bytes`, the way this file ends them.
    fn count_lines(&self, bytes: &[u8]) -> u64 {
        let eol = if self.cr_lines == Some(true) { b'\r' } else { b'\n' };
        memchr::memchr_iter(eol, bytes).count() as u64
    }

    /// Read the next record; `None` at end of stream. Its fields are then in
    /// `record()`.
    pub(crate) fn next_record(&mut self) -> Result<Option<Read1>, ReadError> {
        // Blank lines and the LF of a CRLF are not part of any record; skipping
        // them here is what csv-core would do, but now we know where the
        // record really starts.
        loop {
            if self.start == self.end {
                if self.eof {
                    return match self.pending.take() {
                        Some(e) => Err(ReadError::Io(e)),
                        None => Ok(None),
                    };
                }
                self.fill()?;
                continue;
            }
            if self.cr_lines.is_none() {
                // Decided once, on the first buffer: LFs anywhere mean LF lines.
                let data = &self.buf[self.start..self.end];
                self.cr_lines = Some(memchr::memchr(b'\n', data).is_none() && memchr::memchr(b'\r', data).is_some());
            }
            let skip = self.buf[self.start..self.end]
                .iter()
                .position(|&b| b != b'\n' && b != b'\r')
                .unwrap_or(self.end - self.start);
            self.line += self.count_lines(&self.buf[self.start..self.start + skip]);
            self.start += skip;
            self.byte += skip as u64;
            if self.start < self.end {
                break;
            }
        }
        let at = Start { line: self.line, byte: self.byte };
        let cr = self.cr_lines == Some(true);
        if !cr && self.split_plain() {
            return Ok(Some(Read1 { at, flaw: None }));
        }
        self.core.set_line(self.line);
        self.core_used = true;
        self.quotes.reset();
        let (mut nout, mut nend) = (0, 0);
        loop {
            if self.start == self.end && !self.eof {
                self.fill()?;
            }
            let input = &self.buf[self.start..self.end];
            let empty = input.is_empty();
            let (res, nin, o, e) = self.core.read_record(input, &mut self.fields[nout..], &mut self.ends[nend..]);
            self.quotes.feed(&input[..nin]);
            if cr {
                self.line += self.count_lines(&input[..nin]);
            }
            self.start += nin;
            self.byte += nin as u64;
            nout += o;
            nend += e;
            match res {
                ReadRecordResult::InputEmpty if empty => break,
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    if self.fields.len() >= MAX_RECORD {
                        if self.quotes.open() && matches!(self.input, Input::File(_)) {
                            // Most likely a quote never closed: step over it.
                            return self.unclosed(at).map(Some);
                        }
                        return self.skip_record(at).map(Some);
                    }
                    let len = (self.fields.len() * 2).min(MAX_RECORD);
                    self.fields.resize(len, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len() * 2;
                    self.ends.resize(len, 0);
                }
                ReadRecordResult::Record => {
                    self.sync_line();
                    self.nfields = nout;
                    self.nends = nend;
                    if empty {
                        // Ended by the end of the stream, not by a line break.
                        if let Some(e) = self.pending.take() {
                            // Cut short by a failed read: a part of a row is not a row.
                            self.line = at.line;
                            return Err(ReadError::Io(e));
                        }
                        if self.quotes.open() {
                            return self.unclosed(at).map(Some);
                        }
                    }
                    let flaw = self.quotes.stray().then(|| {
                        "a cell has text after its closing quote (as in `\"Bo\"b`), which would be dropped: \
                         quote the whole cell and double the quotes inside it"
                            .to_string()
                    });
                    return Ok(Some(Read1 { at, flaw }));
                }
                ReadRecordResult::End => break,
            }
        }
        self.sync_line();
        match self.pending.take() {
            Some(e) => Err(ReadError::Io(e)),
            None => Ok(None),
        }
    }

    /// The rest of a record too long to hold (past `MAX_RECORD`), read to its
    /// end and thrown away: it comes out as a row without cells, flagged with
    /// why, and the rows after it are read as usual (one oversized cell is
    /// one reject, not the end of the file).
    fn skip_record(&mut self, at: Start) -> Result<Read1, ReadError> {
        let cr = self.cr_lines == Some(true);
        let (mut fields, mut ends) = (vec![0u8; 64 << 10], vec![0usize; 1 << 10]);
        let mut skipped = self.fields.len() as u64;
        loop {
            if self.start == self.end && !self.eof {
                self.fill()?;
            }
            let input = &self.buf[self.start..self.end];
            let empty = input.is_empty();
            let (res, nin, _, _) = self.core.read_record(input, &mut fields, &mut ends);
            if cr {
                self.line += self.count_lines(&input[..nin]);
            }
            self.start += nin;
            self.byte += nin as u64;
            skipped += nin as u64;
            match res {
                ReadRecordResult::InputEmpty if empty => break,
                ReadRecordResult::Record | ReadRecordResult::End => break,
                _ => {}
            }
        }
        self.sync_line();
        (self.nfields, self.nends) = (0, 0);
        let flaw = format!(
            "a row of {} MB, past the {} MB a row may hold: not imported (a cell that never ends? a file that is \
             not CSV?)",
            skipped >> 20,
            MAX_RECORD >> 20
        );
        Ok(Read1 { at, flaw: Some(flaw) })
    }

    /// The record at `start`, if it is a whole line in the buffer whose
    /// fields are plain (no `"`) or wholly quoted (`"..."`, no `""` inside,
    /// no line break): its fields are then exactly what csv-core would give,
    /// found a word at a time (`split::next_of`) instead of by csv-core's
    /// byte-at-a-time machine (a fifth of `validate`). Anything else (a doubled quote, text after a
    /// closing quote, a quote inside a plain field, a quoted line break) is
    /// left to csv-core, which then reads the record from its start. csv-core
    /// stays at a record boundary meanwhile. Lines ended by CRs only keep to it.
    fn split_plain(&mut self) -> bool {
        if !self.core_used {
            return false;
        }
        let input = &self.buf[self.start..self.end];
        let Some(len) = memchr::memchr2(b'\n', b'\r', input) else { return false };
        let line = &input[..len];
        if self.fields.len() < len {
            self.fields.resize(len.next_power_of_two(), 0);
        }
        let (d, mut nout, mut nend, mut i) = (self.delimiter, 0, 0, 0);
        loop {
            let (field, next) = if line.get(i) == Some(&b'"') {
                let close = next_of(line, i + 1, b'"', b'"');
                if close == len {
                    return false;
                }
                (&line[i + 1..close], close + 1)
            } else {
                let k = next_of(line, i, d, b'"');
                (&line[i..k], k)
            };
            self.fields[nout..nout + field.len()].copy_from_slice(field);
            nout += field.len();
            if nend == self.ends.len() {
                self.ends.resize(self.ends.len() * 2, 0);
            }
            self.ends[nend] = nout;
            nend += 1;
            match line.get(next) {
                None => break,
                Some(&b) if b == d => i = next + 1,
                // `""`, text after a closing quote, a quote in a plain field.
                Some(_) => return false,
            }
        }
        // The terminator is consumed with the record, as csv-core does; the LF
        // of a CRLF is skipped (and counted) before the next record.
        self.line += u64::from(input[len] == b'\n');
        self.start += len + 1;
        self.byte += len as u64 + 1;
        self.nfields = nout;
        self.nends = nend;
        true
    }

    /// After csv-core consumed input: take its line count (LF files).
    fn sync_line(&mut self) {
        if self.cr_lines != Some(true) {
            self.line = self.core.line();
        }
    }

    /// The record starting at `at` ran to the end of the stream inside a
    /// quoted field. In a plain file, read its first physical line again as
    /// the (rejected) record and carry on from the next line; otherwise there
    /// is no way back: fail.
    fn unclosed(&mut self, at: Start) -> Result<Read1, ReadError> {
        let Input::File(f) = &mut self.input else {
            return Err(ReadError::Unclosed { line: at.line });
        };
        let mut line = Vec::new();
        let mut chunk = [0u8; 8192];
        f.seek(SeekFrom::Start(at.byte))?;
        let (len, eol) = loop {
            let k = f.read(&mut chunk)?;
            if k == 0 {
                break (line.len(), 0);
            }
            if let Some(i) = chunk[..k].iter().position(|&b| b == b'\n' || b == b'\r') {
                line.extend_from_slice(&chunk[..i]);
                // A CRLF is one line break.
                let crlf = chunk[i] == b'\r' && chunk.get(i + 1) == Some(&b'\n');
                break (line.len(), if crlf { 2 } else { 1 });
            }
            line.extend_from_slice(&chunk[..k]);
            if line.len() > MAX_RECORD {
                return Err(ReadError::TooLarge);
            }
        };
        // The line alone, split the way csv-core would (its open quote runs to
        // the end of the line).
        let mut core = csv_core::ReaderBuilder::new().delimiter(self.delimiter).build();
        let (mut nout, mut nend) = (0, 0);
        let mut input: &[u8] = &line;
        loop {
            let (res, nin, o, e) = core.read_record(input, &mut self.fields[nout..], &mut self.ends[nend..]);
            input = &input[nin..];
            nout += o;
            nend += e;
            match res {
                ReadRecordResult::OutputFull => {
                    let len = self.fields.len() * 2;
                    self.fields.resize(len, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len() * 2;
                    self.ends.resize(len, 0);
                }
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::Record | ReadRecordResult::End => break,
            }
        }
        self.nfields = nout;
        self.nends = nend;
        let next = Start { line: at.line + 1, byte: at.byte + len as u64 + eol };
        f.seek(SeekFrom::Start(next.byte))?;
        self.start = 0;
        self.end = 0;
        self.eof = false;
        self.byte = next.byte;
        self.line = next.line;
        self.core.reset();
        self.core_used = false;
        self.core.set_line(next.line);
        let flaw = format!(
            "quote opened at line {} is never closed; this line is rejected and the lines after it are read on their own",
            at.line
        );
        Ok(Read1 { at, flaw: Some(flaw) })
    }

    /// The fields of the last record read: all field bytes, and the end offset
    /// of each field in them.
    pub(crate) fn record(&self) -> (&[u8], &[usize]) {
        (&self.fields[..self.nfields], &self.ends[..self.nends])
    }

    /// Copy the last record into a `csv::ByteRecord` sized for it.
    pub(crate) fn to_byte_record(&self) -> csv::ByteRecord {
        let (fields, ends) = self.record();
        let mut rec = csv::ByteRecord::with_capacity(fields.len(), ends.len());
        let mut s = 0;
        for &e in ends {
            rec.push_field(&fields[s..e]);
            s = e;
        }
        rec
    }

    /// Move to `at`, the start of a record, in a seekable (plain file) stream.
    /// Checks that the byte before is a line break, as before any record.
    pub(crate) fn seek(&mut self, at: Start) -> Result<(), String> {
        let Input::File(f) = &mut self.input else {
            return Err("the stream cannot seek".into());
        };
        if at.byte == 0 {
            return Err("byte offset 0 is the header, not a data record".into());
        }
        let mut before = [0u8; 1];
        f.seek(SeekFrom::Start(at.byte - 1))
            .and_then(|_| f.read_exact(&mut before))
            .map_err(|e| format!("cannot seek to byte {}: {e}", at.byte))?;
        if before[0] != b'\n' && before[0] != b'\r' {
            return Err(format!("byte {} is not the start of a line", at.byte));
        }
        self.start = 0;
        self.end = 0;
        self.eof = false;
        self.pending = None;
        self.byte = at.byte;
        self.line = at.line;
        self.core.reset();
        self.core_used = false;
        self.core.set_line(at.line);
        Ok(())
    }
}
