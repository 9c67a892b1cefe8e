//! The record parser: csv-core driven over our own buffer, so the exact start
//! of every record (physical line, byte offset) is known. `csv::Reader` only
//! reports where the previous record ended, which is wrong after a CRLF or
//! skipped blank lines; here the blank bytes are skipped (and counted) before
//! the record starts.

use std::io::{self, Read, Seek, SeekFrom};

use csv_core::ReadRecordResult;

use super::encoding::Input;

/// Read size and buffer capacity.
const BUF_LEN: usize = 256 * 1024;
/// A record larger than this is an error, not a reason to grow without bound.
pub(crate) const MAX_RECORD: usize = 64 * 1024 * 1024;

/// Where a record starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Start {
    pub line: u64,
    pub byte: u64,
}

/// Why a record could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    TooLarge,
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
    /// Stream offset of `buf[start]`.
    byte: u64,
    /// Physical line (1-based) of `buf[start]`.
    line: u64,
    /// The last record: field bytes and field end offsets.
    fields: Vec<u8>,
    ends: Vec<usize>,
    nfields: usize,
    nends: usize,
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
            byte: skip.min(end) as u64,
            line: 1,
            fields: vec![0; 4096],
            ends: vec![0; 64],
            nfields: 0,
            nends: 0,
        }
    }

    pub(crate) fn set_delimiter(&mut self, d: u8) {
        self.core = csv_core::ReaderBuilder::new().delimiter(d).build();
        self.core.set_line(self.line);
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
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((&self.buf[self.start..self.end], self.eof))
    }

    /// Refill the (fully consumed) buffer.
    fn fill(&mut self) -> io::Result<()> {
        self.start = 0;
        self.end = 0;
        loop {
            match self.input.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(k) => {
                    self.end = k;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The physical line the parser is at (for error messages).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Read the next record; `None` at end of stream. Its fields are then in
    /// `record()`.
    pub(crate) fn next_record(&mut self) -> Result<Option<Start>, ReadError> {
        // Blank lines and the LF of a CRLF are not part of any record; skipping
        // them here is what csv-core would do, but now we know where the
        // record really starts.
        loop {
            if self.start == self.end {
                if self.eof {
                    return Ok(None);
                }
                self.fill()?;
                continue;
            }
            let skip = self.buf[self.start..self.end]
                .iter()
                .position(|&b| b != b'\n' && b != b'\r')
                .unwrap_or(self.end - self.start);
            let blank = &self.buf[self.start..self.start + skip];
            self.line += blank.iter().filter(|&&b| b == b'\n').count() as u64;
            self.start += skip;
            self.byte += skip as u64;
            if self.start < self.end {
                break;
            }
        }
        let at = Start {
            line: self.line,
            byte: self.byte,
        };
        self.core.set_line(self.line);
        let (mut nout, mut nend) = (0, 0);
        loop {
            if self.start == self.end && !self.eof {
                self.fill()?;
            }
            let input = &self.buf[self.start..self.end];
            let empty = input.is_empty();
            let (res, nin, o, e) =
                self.core
                    .read_record(input, &mut self.fields[nout..], &mut self.ends[nend..]);
            self.start += nin;
            self.byte += nin as u64;
            nout += o;
            nend += e;
            match res {
                ReadRecordResult::InputEmpty if empty => break,
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    if self.fields.len() >= MAX_RECORD {
                        self.line = self.core.line();
                        return Err(ReadError::TooLarge);
                    }
                    let len = (self.fields.len() * 2).min(MAX_RECORD);
                    self.fields.resize(len, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len() * 2;
                    self.ends.resize(len, 0);
                }
                ReadRecordResult::Record => {
                    self.line = self.core.line();
                    self.nfields = nout;
                    self.nends = nend;
                    return Ok(Some(at));
                }
                ReadRecordResult::End => break,
            }
        }
        self.line = self.core.line();
        Ok(None)
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
        self.byte = at.byte;
        self.line = at.line;
        self.core.reset();
        self.core.set_line(at.line);
        Ok(())
    }
}
