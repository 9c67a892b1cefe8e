//! A small JSON writer for the hot path: operations are written straight into
//! byte buffers, without building a `serde_json::Value` per row. What it
//! writes to is an [`Out`]: a byte buffer for an import, or `Discard` for
//! `validate`, which runs the very same checks but keeps none of the JSON
//! (writing it was a fifth of `validate`'s time).

use std::io::Write;

/// Where the transform writes a row's JSON.
pub trait Out: Write {
    /// Append one byte.
    fn push(&mut self, b: u8);
    /// Append bytes as they are (JSON already).
    fn extend_from_slice(&mut self, b: &[u8]);
    /// Append `s` as a JSON string (quotes included).
    fn string(&mut self, s: &str);
    /// The value of the email (`email`) or SMS subscription member just
    /// written (`None`: `null`).
    fn subscription(&mut self, _email: bool, _value: Option<&'static str>) {}
    /// A member was just written `null` because its cell is blank
    /// (`blank = "clear"`): `validate` and the guards count them.
    fn cleared(&mut self) {}
    /// Bytes written so far, to go back to with `truncate` (a member whose
    /// value turned out bad is taken back out).
    fn written(&self) -> usize;
    /// Go back to `len` bytes written.
    fn truncate(&mut self, len: usize);
}

impl Out for Vec<u8> {
    #[inline]
    fn push(&mut self, b: u8) {
        Vec::push(self, b)
    }
    #[inline]
    fn extend_from_slice(&mut self, b: &[u8]) {
        Vec::extend_from_slice(self, b)
    }
    #[inline]
    fn string(&mut self, s: &str) {
        write_string(self, s)
    }
    fn written(&self) -> usize {
        Vec::len(self)
    }
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len)
    }
}

/// What a row sends of the email and SMS subscriptions: `None` where it
/// sends no such member, `Some(None)` where it sends `null`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Subscriptions {
    /// `$email_marketing`.
    pub email: Option<Option<&'static str>>,
    /// `$sms_marketing`.
    pub sms: Option<Option<&'static str>>,
    /// Members (attributes, natives, subscriptions) the row sends as `null`
    /// because their cell is blank (`blank = "clear"`): what it deletes.
    pub clears: u32,
}

/// Writes nothing; keeps the first email and SMS subscription values
/// written, as a reader of the JSON would find them.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Discard(pub Subscriptions);

impl Write for Discard {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Out for Discard {
    #[inline]
    fn push(&mut self, _: u8) {}
    #[inline]
    fn extend_from_slice(&mut self, _: &[u8]) {}
    #[inline]
    fn string(&mut self, _: &str) {}
    fn subscription(&mut self, email: bool, value: Option<&'static str>) {
        let slot = if email { &mut self.0.email } else { &mut self.0.sms };
        slot.get_or_insert(value);
    }
    fn cleared(&mut self) {
        self.0.clears += 1;
    }
    fn written(&self) -> usize {
        0
    }
    fn truncate(&mut self, _: usize) {}
}

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

/// Append `s` as a JSON string (quotes included), to whatever `out` is.
#[inline]
pub fn string<O: Out + ?Sized>(out: &mut O, s: &str) {
    out.string(s)
}

/// [`string`] into a byte buffer. Clean runs are copied whole: this is the
/// hottest function of the transform.
fn write_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(off) = find_escape(&bytes[start..]) {
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

/// The first byte of `bytes` that needs escaping. Eight bytes at a time
/// (one word: is any byte a control character, `"` or `\\`?), the last word
/// overlapping the one before, then byte by byte only in a word that has
/// one, and in strings under eight bytes.
#[inline]
fn find_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Bytes under 0x20, or equal to b, by the classic has-less / has-zero
    // tricks: may flag a byte after a real match, never misses one, and a
    // flagged word is scanned byte by byte.
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let flagged = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[at..at + 8]);
        let x = u64::from_le_bytes(w);
        x.wrapping_sub(ONES * 0x20) & !x & HIGHS
            | has_zero(x ^ (ONES * u64::from(b'"')))
            | has_zero(x ^ (ONES * u64::from(b'\\')))
            != 0
    };
    let mut i = 0;
    if bytes.len() >= 8 {
        while i + 8 <= bytes.len() {
            if flagged(i) {
                break;
            }
            i += 8;
        }
        // The tail, as the last eight bytes: most values end clean here.
        if i + 8 > bytes.len() && !flagged(bytes.len() - 8) {
            return None;
        }
    }
    bytes[i..].iter().position(|&b| ESCAPE[b as usize]).map(|k| i + k)
}

/// `"k":`, rendered once per mapping instead of once per row.
pub(crate) fn key_bytes(k: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(k.len() + 3);
    string(&mut out, k);
    out.push(b':');
    out
}

/// Writes the members of one JSON object, adding commas between them.
pub struct Object<'a, O: Out = Vec<u8>> {
    out: &'a mut O,
    first: bool,
}

impl<'a, O: Out> Object<'a, O> {
    /// Write `{` to `out`: the object's members follow.
    pub fn open(out: &'a mut O) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Start a member and return the buffer to write its value into.
    pub fn key(&mut self, k: &str) -> &mut O {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        string(self.out, k);
        self.out.push(b':');
        self.out
    }

    /// Like `key`, with the key already written as `"name":` by [`key_bytes`].
    pub(crate) fn raw_key(&mut self, k: &[u8]) -> &mut O {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(k);
        self.out
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first
    }

    /// Where the object stands, to `restore` if the next member goes bad.
    pub(crate) fn checkpoint(&self) -> (usize, bool) {
        (self.out.written(), self.first)
    }

    /// Take back everything written since `checkpoint`.
    pub(crate) fn restore(&mut self, (len, first): (usize, bool)) {
        self.out.truncate(len);
        self.first = first;
    }

    /// Write `}`: the object is complete.
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
    fn escapes_found_wherever_they_are() {
        // Every position in strings longer than a word, every kind of byte.
        for len in 0..40 {
            for at in 0..len {
                for b in [b'"', b'\\', 0u8, 0x1f, b'\n'] {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    assert_eq!(find_escape(&s), Some(at), "{b:#x} at {at} of {len}");
                }
                let clean: Vec<u8> =
                    (0..len).map(|i| [b' ', b'~', 0x7f, 0xc3, 0xa9, b'!', b'#', b'['][i % 8]).collect();
                assert_eq!(find_escape(&clean), None);
            }
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
