//! JSON lines (`format = "ndjson"`: one JSON object per line, as Braze's user
//! export and warehouse dumps write them) read as CSV, so the same parser,
//! positions, transform and rejects files serve both. Nested fields become
//! dotted columns (`custom_attributes.plan`); lists of values stay JSON
//! (`["a","b"]`, which the array type reads); `null` is a blank cell.
//!
//! The columns are every key of the file, in the order they first appear
//! (keys sorted within each object): the file is read once ahead for them,
//! keeping only the key set (at most `MAX_KEYS`), so a key first seen on line
//! 2,000,000 is a column like the others. The header is one synthetic line,
//! so CSV line N + 1 is JSON line N: `CsvSource` shifts positions back. A
//! line that is not a JSON object is a reject (its line, its reason: a
//! `Flaws` entry the source attaches to that row; the line itself is the
//! row's first cell, so the rejects file keeps it); the other lines go on.

use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};

/// Distinct keys a file may have: the columns of one import. Past this the
/// file is refused (a map keyed by ids, flattened, would make one column per id).
pub(crate) const MAX_KEYS: usize = 10_000;

/// Why JSON lines were not objects, by JSON line number: written by the
/// converter, taken by the source as it hands the row out (so it holds only
/// the lines read ahead, not yet handed out).
pub(crate) type Flaws = Arc<Mutex<HashMap<u64, String>>>;

/// Is `path` named as JSON lines (`.ndjson`, `.jsonl`, `.json`, each maybe
/// gzipped)?
pub(crate) fn named(path: &std::path::Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".ndjson", ".jsonl", ".json"].iter().any(|ext| name.ends_with(ext))
}

/// True when the head of a file looks like JSON lines (its first non-blank
/// byte opens an object).
pub(crate) fn looks_like(head: &[u8]) -> bool {
    head.iter().find(|b| !b.is_ascii_whitespace() && **b != 0xEF && **b != 0xBB && **b != 0xBF) == Some(&b'{')
}

/// Every key of `input` (a first reading of the file), in first-seen order.
/// Lines that are not objects are skipped here: the second reading rejects them.
pub(crate) fn scan_keys(input: impl Read) -> io::Result<Vec<String>> {
    let mut lines = BufReader::with_capacity(256 * 1024, input);
    let mut order: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut l = String::new();
    let mut flat = Vec::new();
    let mut line_no = 0u64;
    loop {
        l.clear();
        if lines.read_line(&mut l)? == 0 {
            return Ok(order);
        }
        line_no += 1;
        let Ok(obj) = parse(&l) else { continue };
        flat.clear();
        flatten("", &obj, &mut flat);
        for (k, _) in flat.drain(..) {
            if !seen.contains(&k) {
                if seen.len() == MAX_KEYS {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "JSON line {line_no} brings key {} past {MAX_KEYS} distinct keys: too many columns \
                             for one import (an object keyed by ids?)",
                            seen.len() + 1
                        ),
                    ));
                }
                seen.insert(k.clone());
                order.push(k);
            }
        }
    }
}

/// A reader of CSV bytes made from a reader of JSON lines.
pub(crate) struct NdjsonToCsv<R: Read> {
    lines: BufReader<R>,
    columns: HashMap<String, usize>,
    width: usize,
    /// CSV bytes ready to hand out, and how far they were read.
    out: Vec<u8>,
    at: usize,
    line: u64,
    done: bool,
    flaws: Flaws,
}

impl<R: Read> NdjsonToCsv<R> {
    /// A converter writing `keys` (from `scan_keys`) as the header line.
    pub(crate) fn new(input: R, keys: Vec<String>, flaws: Flaws) -> Self {
        let lines = BufReader::with_capacity(256 * 1024, input);
        let columns = keys.iter().enumerate().map(|(i, k)| (k.clone(), i)).collect();
        let mut out = Vec::new();
        write_record(&mut out, keys.iter().map(String::as_str));
        NdjsonToCsv { lines, width: keys.len(), columns, out, at: 0, line: 0, done: false, flaws }
    }

    /// Convert the next line into `out`; false at the end.
    fn next_line(&mut self) -> io::Result<bool> {
        let mut l = String::new();
        if self.lines.read_line(&mut l)? == 0 {
            return Ok(false);
        }
        self.line += 1;
        if l.trim().is_empty() {
            // Kept as a blank line, which the parser skips and counts.
            self.out.push(b'\n');
            return Ok(true);
        }
        let obj = match parse(&l) {
            Ok(obj) => obj,
            Err(reason) => {
                // A row holding the line as it is in its first cell (for the
                // rejects file), that the source flags with the reason.
                self.flaws.lock().unwrap_or_else(|e| e.into_inner()).insert(self.line, reason);
                let mut cells = vec![""; self.width.max(1)];
                cells[0] = l.trim_end_matches(['\n', '\r']);
                write_record(&mut self.out, cells.into_iter());
                return Ok(true);
            }
        };
        let mut flat = Vec::new();
        flatten("", &obj, &mut flat);
        let mut cells = vec![String::new(); self.width];
        for (k, v) in flat {
            if let Some(&i) = self.columns.get(&k) {
                cells[i] = v;
            }
        }
        write_record(&mut self.out, cells.iter().map(String::as_str));
        Ok(true)
    }
}

impl<R: Read> Read for NdjsonToCsv<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() && !self.done {
            self.out.clear();
            self.at = 0;
            if !self.next_line()? {
                self.done = true;
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A JSON object whose values are kept as their text: a number is read as
/// written (`18446744073709551617` stays itself, never a rounded float).
type Obj = std::collections::BTreeMap<String, Box<RawValue>>;

/// One line as an object, or why it is not one.
fn parse(line: &str) -> Result<Obj, String> {
    let text = line.trim_start_matches('\u{FEFF}');
    match serde_json::from_str::<Obj>(text) {
        Ok(m) => Ok(m),
        Err(_) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => {
            Err("this JSON line is not an object: each line of an ndjson source is one {...}".into())
        }
        Err(e) => Err(format!("this line is not valid JSON: {e}")),
    }
}

/// `{"a":{"b":1},"c":[1,2]}` → `a.b` = `1`, `c` = `[1,2]`. Numbers keep their
/// literal text (`1.0` stays `1.0`, `1e2` stays `1e2`).
fn flatten(prefix: &str, obj: &Obj, out: &mut Vec<(String, String)>) {
    for (k, v) in obj {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        let raw = v.get().trim();
        match raw.as_bytes().first() {
            Some(b'{') => match serde_json::from_str::<Obj>(raw) {
                Ok(inner) if !inner.is_empty() => flatten(&key, &inner, out),
                _ => out.push((key, "{}".into())),
            },
            Some(b'n') => out.push((key, String::new())),
            Some(b'"') => out.push((key, serde_json::from_str::<String>(raw).unwrap_or_default())),
            // Arrays in their compact form, as before.
            Some(b'[') => {
                out.push((key, serde_json::from_str::<Value>(raw).map(|v| v.to_string()).unwrap_or_default()))
            }
            // Numbers and booleans: as written.
            _ => out.push((key, raw.to_string())),
        }
    }
}

/// One CSV line, fields quoted when they must be.
fn write_record<'a>(out: &mut Vec<u8>, fields: impl Iterator<Item = &'a str>) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if f.contains([',', '"', '\n', '\r']) || f.starts_with(' ') || f.ends_with(' ') {
            out.push(b'"');
            out.extend_from_slice(f.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(f.as_bytes());
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 25: numbers past 64 bits were rounded to one float, merging
    /// two people; numbers keep the text they were written with.
    #[test]
    fn numbers_keep_their_literal_text() {
        let input = "{\"id\":18446744073709551616,\"n\":1.0}\n{\"id\":18446744073709551617,\"n\":1e2}\n";
        let (got, _) = convert(input).unwrap();
        assert_eq!(got, "id,n\n18446744073709551616,1.0\n18446744073709551617,1e2\n");
    }

    fn convert(input: &str) -> io::Result<(String, Flaws)> {
        let keys = scan_keys(input.as_bytes())?;
        let flaws = Flaws::default();
        let mut r = NdjsonToCsv::new(input.as_bytes(), keys, flaws.clone());
        let mut s = String::new();
        r.read_to_string(&mut s)?;
        Ok((s, flaws))
    }

    #[test]
    fn nested_fields_become_dotted_columns() {
        let (got, _) = convert(
            "{\"external_id\":\"u1\",\"custom_attributes\":{\"plan\":\"pro\"},\"tags\":[\"a\",\"b\"],\"x\":null}\n\n\
             {\"external_id\":\"u2\",\"email\":\"a,b@x.co\",\"n\":1.5,\"ok\":true}\n",
        )
        .unwrap();
        assert_eq!(
            got,
            "custom_attributes.plan,external_id,tags,x,email,n,ok\n\
             pro,u1,\"[\"\"a\"\",\"\"b\"\"]\",,,,\n\n\
             ,u2,,,\"a,b@x.co\",1.5,true\n"
        );
    }

    #[test]
    fn a_key_first_seen_late_is_a_column() {
        let mut input = String::new();
        for i in 0..3000 {
            input.push_str(&format!("{{\"id\":\"u{i}\"}}\n"));
        }
        input.push_str("{\"id\":\"late\",\"profile\":{\"plan\":\"pro\"}}\n");
        let (got, _) = convert(&input).unwrap();
        assert!(got.starts_with("id,profile.plan\n"), "{}", &got[..40]);
        assert!(got.ends_with("late,pro\n"));
    }

    #[test]
    fn a_bad_line_is_flagged_and_the_others_go_on() {
        let (got, flaws) = convert("{\"a\":1,\"b\":2}\n[1]\nnot json\n{\"a\":3}\n").unwrap();
        assert_eq!(got, "a,b\n1,2\n[1],\nnot json,\n3,\n", "the line kept for the rejects file");
        let flaws = flaws.lock().unwrap();
        assert!(flaws[&2].contains("not an object"), "{flaws:?}");
        assert!(flaws[&3].contains("not valid JSON"), "{flaws:?}");
        assert!(looks_like(b"  \n{\"a\":1}") && !looks_like(b"id,email\n"));
    }

    #[test]
    fn too_many_keys_is_refused_with_its_line() {
        let mut input = String::new();
        for i in 0..=MAX_KEYS {
            input.push_str(&format!("{{\"k{i}\":1}}\n"));
        }
        let e = scan_keys(input.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(&format!("JSON line {}", MAX_KEYS + 1)), "{e}");
    }
}
