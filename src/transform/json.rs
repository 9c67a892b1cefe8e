//! A small JSON writer for the hot path: operations are written straight into
//! byte buffers, without building a `serde_json::Value` per row.

use std::io::Write;

/// Bytes that need escaping inside a JSON string.
const ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Append `s` as a JSON string (quotes included). Clean runs are copied whole:
/// this is the hottest function of the transform.
pub fn string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(off) = bytes[start..].iter().position(|&b| ESCAPE[b as usize]) {
        let i = start + off;
        out.extend_from_slice(&bytes[start..i]);
        match bytes[i] {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b => {
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// `"k":`, rendered once per mapping instead of once per row.
pub fn key_bytes(k: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(k.len() + 3);
    string(&mut out, k);
    out.push(b':');
    out
}

/// Writes the members of one JSON object, adding commas between them.
pub struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Start a member and return the buffer to write its value into.
    pub fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        string(self.out, k);
        self.out.push(b':');
        self.out
    }

    /// Like `key`, with the key already written as `"name":` by [`key_bytes`].
    pub fn raw_key(&mut self, k: &[u8]) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(k);
        self.out
    }

    pub fn is_empty(&self) -> bool {
        self.first
    }

    pub fn close(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        for s in ["plain", "quote \" and \\ back", "new\nline\ttab\r", "\u{1}ctl", "é€😀"] {
            let mut out = Vec::new();
            string(&mut out, s);
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn object_commas() {
        let mut out = Vec::new();
        let mut o = Object::open(&mut out);
        string(o.key("a"), "x");
        o.key("b").extend_from_slice(b"1");
        o.close();
        assert_eq!(out, br#"{"a":"x","b":1}"#);
    }
}
