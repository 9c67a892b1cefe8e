//! The head of the file that `init` reasons from: the header and up to
//! `SAMPLE_ROWS` rows, read by the same `CsvSource` that `validate` and `run`
//! use, so the guesses are made on the cells those commands will see.

use batchport_source::{CsvSource, RawRow, SourceError, SourceOptions};
use std::path::Path;

/// Enough rows to see most shapes of a column, few enough to answer at once.
pub const SAMPLE_ROWS: usize = 1_000;

#[derive(Debug)]
pub struct Sample {
    pub headers: Vec<String>,
    /// The sampled rows as read (for the final self-check through the transform).
    pub rows: Vec<RawRow>,
    /// `cells[c]`: column `c` of every sampled row with the right width, trimmed.
    pub cells: Vec<Vec<String>>,
    /// Sampled rows whose field count differs from the header's (skipped above).
    pub ragged: usize,
    /// True when the file has rows beyond the sample.
    pub more: bool,
    pub delimiter: u8,
    pub encoding: &'static str,
    /// JSON lines, read as CSV with dotted columns.
    pub ndjson: bool,
}

impl Sample {
    /// Sample `path`; for an object URL or URL glob, the head of the first
    /// object (credentials and endpoint from the environment).
    pub fn read(path: &Path) -> Result<Sample, SourceError> {
        let first;
        let path = match path.to_str().filter(|p| batchport_source::objstore::is_url(p)) {
            Some(url) => {
                first = batchport_source::expand_with(url, Path::new(""), &SourceOptions::default())?.remove(0);
                first.as_path()
            }
            None => path,
        };
        let mut src = CsvSource::open(path, &SourceOptions::default())?;
        let headers = src.headers().to_vec();
        let mut rows = Vec::new();
        let more = src.read_chunk(SAMPLE_ROWS, &mut rows)? && {
            // `read_chunk` says "maybe more" after a full chunk: look one row further.
            let mut probe = Vec::new();
            src.read_chunk(1, &mut probe)?;
            !probe.is_empty()
        };
        let mut cells = vec![Vec::with_capacity(rows.len()); headers.len()];
        let mut ragged = 0;
        for r in &rows {
            if r.record.len() != headers.len() {
                ragged += 1;
                continue;
            }
            for (c, field) in r.record.iter().enumerate() {
                cells[c].push(String::from_utf8_lossy(field).trim().to_string());
            }
        }
        Ok(Sample {
            headers,
            rows,
            cells,
            ragged,
            more,
            delimiter: src.delimiter(),
            encoding: src.encoding_name(),
            ndjson: src.is_ndjson(),
        })
    }

    /// Rows of the right width in the sample.
    pub fn len(&self) -> usize {
        self.rows.len() - self.ragged
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The non-blank cells of column `c`.
    pub fn values(&self, c: usize) -> Vec<&str> {
        self.cells[c].iter().map(String::as_str).filter(|v| !v.is_empty()).collect()
    }

    /// "200 sampled rows" or "the first 1000 rows", for comments.
    pub fn describe(&self) -> String {
        if self.more { format!("the first {} rows", self.rows.len()) } else { format!("all {} rows", self.rows.len()) }
    }
}
