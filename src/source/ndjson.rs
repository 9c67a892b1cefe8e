//! JSON lines (`format = "ndjson"`: one JSON object per line, as Braze's user
//! export and warehouse dumps write them) read as CSV, so the same parser,
//! positions, transform and rejects files serve both. Nested fields become
//! dotted columns (`custom_attributes.plan`); lists of values stay JSON
//! (`["a","b"]`, which the array type reads); `null` is a blank cell.
//!
//! The columns are the keys of the first `HEAD_LINES` lines, in the order they
//! first appear (keys sorted within each object); a key seen only later is not
//! a column (the job could not name it anyway). The header is one synthetic line, so CSV line N + 1 is
//! JSON line N: `CsvSource` shifts positions back. A line that is not a JSON
//! object stops the read with its line number.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};

/// Lines read ahead to learn the columns.
pub(crate) const HEAD_LINES: usize = 1_000;

/// True when the head of a file looks like JSON lines (its first non-blank
/// byte opens an object).
pub(crate) fn looks_like(head: &[u8]) -> bool {
    head.iter().find(|b| !b.is_ascii_whitespace() && **b != 0xEF && **b != 0xBB && **b != 0xBF) == Some(&b'{')
}

/// A reader of CSV bytes made from a reader of JSON lines.
pub(crate) struct NdjsonToCsv<R: Read> {
    lines: BufReader<R>,
    columns: HashMap<String, usize>,
    width: usize,
    /// CSV bytes ready to hand out, and how far they were read.
    out: Vec<u8>,
    at: usize,
    /// Lines read ahead while learning the columns, not yet converted.
    pending: std::collections::VecDeque<String>,
    line: u64,
    done: bool,
}

impl<R: Read> NdjsonToCsv<R> {
    /// Learn the columns from the head, and queue the header line.
    pub fn new(input: R) -> io::Result<Self> {
        let mut lines = BufReader::with_capacity(256 * 1024, input);
        let mut pending = std::collections::VecDeque::new();
        let mut order: Vec<String> = Vec::new();
        let mut columns = HashMap::new();
        let mut line_no = 0u64;
        while pending.len() < HEAD_LINES {
            let mut l = String::new();
            if lines.read_line(&mut l)? == 0 {
                break;
            }
            line_no += 1;
            if !l.trim().is_empty() {
                let obj = parse(&l, line_no)?;
                let mut flat = Vec::new();
                flatten("", &obj, &mut flat);
                for (k, _) in flat {
                    if !columns.contains_key(&k) {
                        columns.insert(k.clone(), order.len());
                        order.push(k);
                    }
                }
            }
            pending.push_back(l);
        }
        let mut out = Vec::new();
        write_record(&mut out, order.iter().map(String::as_str));
        Ok(NdjsonToCsv { lines, width: order.len(), columns, out, at: 0, pending, line: 0, done: false })
    }

    /// Convert the next line into `out`; false at the end.
    fn next_line(&mut self) -> io::Result<bool> {
        let l = match self.pending.pop_front() {
            Some(l) => l,
            None => {
                let mut l = String::new();
                if self.lines.read_line(&mut l)? == 0 {
                    return Ok(false);
                }
                l
            }
        };
        self.line += 1;
        if l.trim().is_empty() {
            // Kept as a blank line, which the parser skips and counts.
            self.out.push(b'\n');
            return Ok(true);
        }
        let obj = parse(&l, self.line)?;
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

fn parse(line: &str, line_no: u64) -> io::Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(line.trim_start_matches('\u{FEFF}')) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("JSON line {line_no} is not an object: each line of an ndjson source is one {{...}}"),
        )),
        Err(e) => {
            Err(io::Error::new(io::ErrorKind::InvalidData, format!("JSON line {line_no} is not valid JSON: {e}")))
        }
    }
}

/// `{"a":{"b":1},"c":[1,2]}` → `a.b` = `1`, `c` = `[1,2]`.
fn flatten(prefix: &str, obj: &Map<String, Value>, out: &mut Vec<(String, String)>) {
    for (k, v) in obj {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            Value::Object(inner) if !inner.is_empty() => flatten(&key, inner, out),
            Value::Null => out.push((key, String::new())),
            Value::String(s) => out.push((key, s.clone())),
            Value::Bool(b) => out.push((key, b.to_string())),
            Value::Number(n) => out.push((key, n.to_string())),
            other => out.push((key, other.to_string())),
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

    fn convert(input: &str) -> io::Result<String> {
        let mut r = NdjsonToCsv::new(input.as_bytes())?;
        let mut s = String::new();
        r.read_to_string(&mut s)?;
        Ok(s)
    }

    #[test]
    fn nested_fields_become_dotted_columns() {
        let got = convert(
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
    fn a_bad_line_names_its_number() {
        let e = convert("{\"a\":1}\n[1]\n").unwrap_err();
        assert!(e.to_string().contains("JSON line 2"), "{e}");
        assert!(looks_like(b"  \n{\"a\":1}") && !looks_like(b"id,email\n"));
    }
}
