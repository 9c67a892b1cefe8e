//! Cutting an export file part into its records as the bytes arrive, whichever
//! of the two shapes Batch sends (API.md does not say): one JSON array of
//! objects, or one object per line. Only one record is held at a time, so a
//! 100 MB part costs the memory of its largest record, not of the part.
//!
//! The splitter only tracks strings, escapes and bracket depth; each record it
//! hands out is then parsed by serde_json, which does the real validation.

/// Why a part is not a stream of JSON objects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SplitError {
    #[error("byte {offset}: expected a JSON object or array, found `{found}`")]
    Unexpected { offset: u64, found: char },
    #[error("the file ends inside a record (byte {offset}): it was cut")]
    Truncated { offset: u64 },
    #[error("the file ends before the closing `]` of its array: it was cut")]
    Unclosed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Nothing but whitespace seen yet.
    Start,
    /// Inside a top-level `[`: records are its elements.
    Array,
    /// Records follow each other (NDJSON, or concatenated objects).
    Lines,
    /// After the `]` of a top-level array.
    Closed,
}

/// An incremental splitter: [`feed`](Splitter::feed) it chunks in order, then
/// call [`finish`](Splitter::finish).
#[derive(Debug)]
pub(crate) struct Splitter {
    shape: Shape,
    /// Open brackets of the record being read; 0 between records.
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// The record so far, when it spans chunks.
    record: Vec<u8>,
    /// Bytes fed so far, for messages.
    offset: u64,
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Splitter {
    pub(crate) fn new() -> Self {
        Splitter { shape: Shape::Start, depth: 0, in_string: false, escaped: false, record: Vec::new(), offset: 0 }
    }

    /// Scan `chunk`; `emit` gets each complete record's bytes (one JSON object).
    pub(crate) fn feed<E>(&mut self, chunk: &[u8], mut emit: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E>
    where
        E: From<SplitError>,
    {
        // Where the record in progress starts within this chunk, if it does.
        let mut start: Option<usize> = if self.depth > 0 { Some(0) } else { None };
        for (i, &b) in chunk.iter().enumerate() {
            if self.depth == 0 {
                self.between(b, i)?;
                if self.depth > 0 {
                    start = Some(i);
                }
                continue;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        let from = start.take().unwrap_or(0);
                        if self.record.is_empty() {
                            emit(&chunk[from..=i])?;
                        } else {
                            self.record.extend_from_slice(&chunk[from..=i]);
                            let record = std::mem::take(&mut self.record);
                            emit(&record)?;
                            // Keep the allocation for the next long record.
                            self.record = record;
                            self.record.clear();
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(from) = start {
            self.record.extend_from_slice(&chunk[from..]);
        }
        self.offset += chunk.len() as u64;
        Ok(())
    }

    /// The byte `b` at `i` in the current chunk, outside any record.
    fn between(&mut self, b: u8, i: usize) -> Result<(), SplitError> {
        let offset = self.offset + i as u64;
        match (self.shape, b) {
            (_, b' ' | b'\n' | b'\r' | b'\t') => {}
            // A UTF-8 byte order mark before anything else.
            (Shape::Start, 0xEF | 0xBB | 0xBF) if offset < 3 => {}
            (Shape::Start | Shape::Closed, b'[') => self.shape = Shape::Array,
            (Shape::Array, b',') => {}
            (Shape::Array, b']') => self.shape = Shape::Closed,
            (Shape::Start | Shape::Lines | Shape::Array, b'{') => {
                if self.shape == Shape::Start {
                    self.shape = Shape::Lines;
                }
                self.depth = 1;
            }
            (_, other) => {
                return Err(SplitError::Unexpected {
                    offset,
                    found: if other.is_ascii() { other as char } else { char::REPLACEMENT_CHARACTER },
                });
            }
        }
        Ok(())
    }

    /// The part ended: was it whole?
    pub(crate) fn finish(&self) -> Result<(), SplitError> {
        if self.depth > 0 {
            Err(SplitError::Truncated { offset: self.offset })
        } else if self.shape == Shape::Array {
            Err(SplitError::Unclosed)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split_in(chunks: &[&[u8]]) -> Result<Vec<String>, SplitError> {
        let mut s = Splitter::new();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |r| {
                out.push(String::from_utf8(r.to_vec()).unwrap());
                Ok::<(), SplitError>(())
            })?;
        }
        s.finish()?;
        Ok(out)
    }

    fn split(text: &str) -> Result<Vec<String>, SplitError> {
        split_in(&[text.as_bytes()])
    }

    #[test]
    fn both_shapes_give_the_same_records() {
        let a = r#"[{"a":1},{"b":"x"}]"#;
        let l = "{\"a\":1}\n{\"b\":\"x\"}\n";
        assert_eq!(split(a).unwrap(), vec![r#"{"a":1}"#, r#"{"b":"x"}"#]);
        assert_eq!(split(l).unwrap(), split(a).unwrap());
        assert_eq!(split(" [\n {\"a\":1} ,\n {\"b\":\"x\"}\n ]\n").unwrap(), split(a).unwrap());
    }

    #[test]
    fn brackets_and_quotes_inside_strings_do_not_count() {
        let r = r#"{"s":"}]{[\"\\","n":{"deep":[1,{"x":"é"}]}}"#;
        assert_eq!(split(&format!("[{r}]")).unwrap(), vec![r]);
        assert_eq!(split(r).unwrap(), vec![r]);
    }

    #[test]
    fn empty_parts_and_a_bom_are_fine() {
        assert!(split("").unwrap().is_empty());
        assert!(split("[]").unwrap().is_empty());
        assert!(split(" \n").unwrap().is_empty());
        assert_eq!(split("\u{feff}[{\"a\":1}]").unwrap().len(), 1);
    }

    #[test]
    fn cut_files_and_stray_values_are_errors() {
        assert_eq!(split("[{\"a\":1}"), Err(SplitError::Unclosed));
        assert!(matches!(split("{\"a\":[1,"), Err(SplitError::Truncated { .. })));
        assert!(matches!(split("[1,2]"), Err(SplitError::Unexpected { offset: 1, found: '1' })));
        assert!(matches!(split("{\"a\":1}\nnull"), Err(SplitError::Unexpected { found: 'n', .. })));
    }

    proptest! {
        /// However the bytes are cut into chunks, the records are the same.
        #[test]
        fn chunking_does_not_matter(cuts in proptest::collection::vec(0usize..200, 0..12), lines in any::<bool>()) {
            let records: Vec<String> = (0..7)
                .map(|i| serde_json::json!({"identifiers": {"custom_id": format!("u{i}")},
                    "attributes": {"s": "a \"q\" }] \\ é", "n": i, "arr": [i, {"k": [i]}]}}).to_string())
                .collect();
            let text = if lines { records.join("\n") } else { format!("[{}]", records.join(",")) };
            let bytes = text.as_bytes();
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            points.sort();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for p in points.into_iter().chain([bytes.len()]) {
                chunks.push(&bytes[prev..p]);
                prev = p;
            }
            prop_assert_eq!(split_in(&chunks).unwrap(), records);
        }
    }
}
