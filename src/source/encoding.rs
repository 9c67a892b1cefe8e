//! The byte stack under the parser: open the file, count on-disk bytes for
//! progress, gunzip, detect the text encoding (BOM, then a sniff of the head)
//! and transcode to UTF-8 when the file is not UTF-8 already.

use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs_io::DecodeReaderBytesBuilder;
use flate2::read::MultiGzDecoder;

use super::remote::Raw;
use super::{Encoding, SourceError, SourceOptions};

/// How much of the (decompressed) head decides the encoding.
pub(crate) const HEAD_LEN: usize = 64 * 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The encoding a file turned out to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detected {
    /// `bom` is the length of a UTF-8 BOM to skip (0 or 3).
    Utf8 {
        bom: usize,
    },
    Utf16Le,
    Utf16Be,
    Windows1252,
}

impl Detected {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Detected::Utf8 { .. } => "utf-8",
            Detected::Utf16Le => "utf-16le",
            Detected::Utf16Be => "utf-16be",
            Detected::Windows1252 => "windows-1252",
        }
    }

    fn encoding_rs(self) -> &'static encoding_rs::Encoding {
        match self {
            Detected::Utf8 { .. } => encoding_rs::UTF_8,
            Detected::Utf16Le => encoding_rs::UTF_16LE,
            Detected::Utf16Be => encoding_rs::UTF_16BE,
            Detected::Windows1252 => encoding_rs::WINDOWS_1252,
        }
    }
}

/// Decide the encoding from the head of the stream. `eof` says the head is the
/// whole stream (so a multibyte character cut at its end is an error, not the
/// window's edge).
pub(crate) fn detect(head: &[u8], eof: bool, wanted: Encoding) -> Detected {
    let bom16 = if head.starts_with(b"\xFF\xFE") {
        Some(Detected::Utf16Le)
    } else if head.starts_with(b"\xFE\xFF") {
        Some(Detected::Utf16Be)
    } else {
        None
    };
    let utf8_bom = if head.starts_with(UTF8_BOM) { UTF8_BOM.len() } else { 0 };
    match wanted {
        Encoding::Utf8 => Detected::Utf8 { bom: utf8_bom },
        Encoding::Windows1252 => Detected::Windows1252,
        Encoding::Utf16 => bom16.or_else(|| utf16_by_nuls(head)).unwrap_or(Detected::Utf16Le),
        Encoding::Auto => {
            if utf8_bom > 0 {
                Detected::Utf8 { bom: utf8_bom }
            } else if let Some(d) = bom16.or_else(|| utf16_by_nuls(head)) {
                d
            } else if mostly_utf8(head, eof) {
                Detected::Utf8 { bom: 0 }
            } else {
                Detected::Windows1252
            }
        }
    }
}

/// UTF-8 if the head is valid (allowing one character cut by the window's
/// end), or if its valid multibyte characters are at least as many as its
/// invalid bytes: a UTF-8 file with a stray byte stays UTF-8 (the rows with it
/// are rejected, naming the encoding), while a Windows-1252 file, whose
/// accented letters are never valid UTF-8 sequences, has none.
fn mostly_utf8(head: &[u8], eof: bool) -> bool {
    let (mut valid_multi, mut invalid) = (0usize, 0usize);
    let mut rest = head;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                valid_multi += s.chars().filter(|c| c.len_utf8() > 1).count();
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                valid_multi += std::str::from_utf8(good).map_or(0, |s| s.chars().filter(|c| c.len_utf8() > 1).count());
                match e.error_len() {
                    Some(n) => {
                        invalid += 1;
                        rest = &bad[n..];
                    }
                    // Cut at the end of the head: the window's edge, unless
                    // the head is the whole file.
                    None => {
                        invalid += eof as usize;
                        break;
                    }
                }
            }
        }
    }
    invalid == 0 || (valid_multi > 0 && invalid <= valid_multi)
}

/// Text in UTF-16 without a BOM shows as NULs in every other byte (the high
/// byte of ASCII characters): NUL-heavy odd bytes mean LE, even bytes BE.
fn utf16_by_nuls(head: &[u8]) -> Option<Detected> {
    let pairs = head.len() / 2;
    if pairs < 2 {
        return None;
    }
    let (mut even, mut odd) = (0usize, 0usize);
    for p in head.chunks_exact(2) {
        even += (p[0] == 0) as usize;
        odd += (p[1] == 0) as usize;
    }
    let mostly = |n: usize| n * 10 >= pairs * 3;
    let rarely = |n: usize| n * 20 <= pairs;
    if mostly(odd) && rarely(even) {
        Some(Detected::Utf16Le)
    } else if mostly(even) && rarely(odd) {
        Some(Detected::Utf16Be)
    } else {
        None
    }
}

/// A reader that counts the bytes it hands out, shared so progress can be read
/// while the reader sits deep inside a decoder.
pub(crate) struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let at = self.inner.seek(pos)?;
        self.count.store(at, Ordering::Relaxed);
        Ok(at)
    }
}

/// The stream the parser reads: the file or object itself (seekable) or
/// anything stacked on it (gzip, transcoding).
pub(crate) enum Input {
    File(Counting<Raw>),
    Stream(Box<dyn Read + Send>),
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::File(f) => f.read(buf),
            Input::Stream(s) => s.read(buf),
        }
    }
}

/// An opened file ready for parsing: `head` holds the first bytes of `input`
/// already taken off it (UTF-8 text; the parser starts with them).
pub(crate) struct Opened {
    pub(crate) input: Input,
    pub(crate) head: Vec<u8>,
    /// Bytes at the start of `head` to skip (a UTF-8 BOM).
    pub(crate) skip: usize,
    pub(crate) detected: Detected,
    pub(crate) seekable: bool,
    /// A local file (settling may read rows again by position), not an object.
    pub(crate) rereadable: bool,
    pub(crate) file_size: u64,
    pub(crate) counter: Arc<AtomicU64>,
}

/// Read until `buf` is full or the stream ends; returns the length and whether
/// the stream ended.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> io::Result<bool> {
    let start = buf.len();
    buf.resize(start + want, 0);
    let mut n = start;
    let end = start + want;
    let eof = loop {
        if n == end {
            break false;
        }
        match r.read(&mut buf[n..end]) {
            Ok(0) => break true,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(n);
                return Err(e);
            }
        }
    };
    buf.truncate(n);
    Ok(eof)
}

/// Open `path` (a file or an object URL) and build the byte stack for it.
pub(crate) fn open(path: &Path, opts: &SourceOptions) -> Result<Opened, SourceError> {
    let wanted = opts.encoding;
    let (mut file, file_size) = Raw::open(path, opts)?;
    let rereadable = file.rereadable();
    let read_err = |e| SourceError::read(path, 1, e);

    let mut magic = Vec::with_capacity(2);
    read_full(&mut file, &mut magic, 2).map_err(read_err)?;
    file.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let gz = magic == GZIP_MAGIC;
    let gz_name = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if gz_name && !gz && file_size > 0 {
        return Err(SourceError::NotGzip { path: path.to_path_buf() });
    }

    let counter = Arc::new(AtomicU64::new(0));
    let counting = Counting { inner: file, count: Arc::clone(&counter) };
    let mut raw = if gz {
        let buffered = BufReader::with_capacity(64 * 1024, counting);
        Input::Stream(Box::new(MultiGzDecoder::new(buffered)))
    } else {
        Input::File(counting)
    };

    let mut head = Vec::with_capacity(HEAD_LEN);
    let mut seekable = !gz;
    let eof = match read_full(&mut raw, &mut head, HEAD_LEN) {
        Ok(eof) => eof,
        // A stream that breaks early (a truncated .gz): what came out of it is
        // still read, and the error comes after it.
        Err(e) if !head.is_empty() => {
            raw = Input::Stream(Box::new(Failing(Some(e))));
            seekable = false;
            false
        }
        Err(e) => return Err(read_err(e)),
    };
    let detected = detect(&head, eof, wanted);
    if let Detected::Utf8 { bom } = detected {
        return Ok(Opened { input: raw, head, skip: bom, detected, seekable, rereadable, file_size, counter });
    }
    // Transcode: the decoder re-reads the head, then the rest of the stream.
    let chained = io::Cursor::new(head).chain(raw);
    let decoder = DecodeReaderBytesBuilder::new()
        .encoding(Some(detected.encoding_rs()))
        .bom_sniffing(false)
        .build_with_buffer(chained, vec![0u8; 64 * 1024])
        .map_err(read_err)?;
    Ok(Opened {
        input: Input::Stream(Box::new(decoder)),
        head: Vec::new(),
        skip: 0,
        detected,
        seekable: false,
        rereadable: false,
        file_size,
        counter,
    })
}

/// A stream that failed: hands out its error once, then ends.
struct Failing(Option<io::Error>);

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}
