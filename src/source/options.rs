//! How to read a source: `SourceOptions` and the settings it holds (field
//! delimiter, text encoding, file format), each parsed from its job-file
//! spelling.

use std::str::FromStr;

/// The field delimiter: sniffed from the head of the file, or given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delimiter {
    /// Sniffed: of `,` `;` tab and `|`, the one that splits the first records
    /// into the most consistent number of fields (`,` when none appears).
    #[default]
    Auto,
    /// This byte, whatever the file looks like.
    Byte(u8),
}

impl FromStr for Delimiter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Delimiter::Auto),
            "," | "comma" => Ok(Delimiter::Byte(b',')),
            ";" | "semicolon" => Ok(Delimiter::Byte(b';')),
            "\t" | "\\t" | "tab" => Ok(Delimiter::Byte(b'\t')),
            "|" | "pipe" => Ok(Delimiter::Byte(b'|')),
            _ => Err(format!(
                "unknown delimiter `{}`: use \"auto\", \",\", \";\", \"\\t\" (tab) or \"|\"",
                s.escape_debug()
            )),
        }
    }
}

/// The text encoding: detected (BOM, then a sniff of the head), or given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Detected: a BOM decides; without one, UTF-16 shows by its NULs, and
    /// a head that is (mostly) valid UTF-8 is UTF-8; anything else is read
    /// as Windows-1252.
    #[default]
    Auto,
    /// UTF-8 (a BOM, if any, is skipped); invalid bytes are left for the
    /// transform to reject.
    Utf8,
    /// UTF-16; the BOM says LE or BE (without one, the content is sniffed,
    /// then LE).
    Utf16,
    /// Windows-1252 (which `latin1` also names), transcoded to UTF-8.
    Windows1252,
}

impl FromStr for Encoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Encoding::Auto),
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "utf-16" | "utf16" => Ok(Encoding::Utf16),
            "windows-1252" | "cp1252" | "latin1" => Ok(Encoding::Windows1252),
            _ => Err(format!(
                "unknown encoding `{}`: use \"auto\", \"utf-8\", \"utf-16\" or \"windows-1252\"",
                s.escape_debug()
            )),
        }
    }
}

/// The file format: CSV, or JSON lines (read as CSV with dotted columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// JSON lines when the file starts with `{`, else CSV.
    #[default]
    Auto,
    /// Delimited text with a header row.
    Csv,
    /// One JSON object per line; nested keys become dotted columns.
    Ndjson,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Format::Auto),
            "csv" => Ok(Format::Csv),
            "ndjson" | "jsonl" | "json-lines" => Ok(Format::Ndjson),
            _ => Err(format!("unknown format `{}`: use \"auto\", \"csv\" or \"ndjson\"", s.escape_debug())),
        }
    }
}

/// How to read a source file.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// The job's `delimiter`; ignored for JSON lines.
    pub delimiter: Delimiter,
    /// The job's `encoding`.
    pub encoding: Encoding,
    /// The job's `format`.
    pub format: Format,
    /// The job's `endpoint` for object URLs (S3-compatible stores, Azurite).
    pub endpoint: Option<String>,
    /// The object version (ETag) the run pinned when it fingerprinted its
    /// inputs; an object found at another version is not read.
    pub etag: Option<String>,
}
