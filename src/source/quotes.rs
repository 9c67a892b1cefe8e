//! Quote checking beside csv-core, which is lenient: it turns `"Bo"b` into
//! `Bob` (the quotes vanish) and lets an unclosed quote swallow the rest of
//! the file into one cell. This follows the same grammar over the bytes each
//! record consumed and reports what csv-core smooths over, so the row can be
//! rejected instead of imported altered.
//!
//! It stays off the per-field path: a stretch of a record without any `"` is
//! skipped with one `memchr` and only its last byte is looked at; so is the
//! inside of a quoted cell.

/// Where the record being read is, as far as quoting goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field: a `"` here opens a quoted field.
    FieldStart,
    /// Inside an unquoted field: a `"` here is kept as it is by csv-core.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a `"` inside a quoted field: the end of the field, or the
    /// first half of `""`.
    AfterQuote,
}

/// The quote checker of one record; `reset` before each record.
#[derive(Debug, Clone)]
pub(crate) struct QuoteCheck {
    delimiter: u8,
    state: State,
    /// Text after a closing quote in the same cell was seen.
    stray: bool,
}

impl QuoteCheck {
    pub(crate) fn new(delimiter: u8) -> Self {
        QuoteCheck { delimiter, state: State::FieldStart, stray: false }
    }

    pub(crate) fn reset(&mut self) {
        self.state = State::FieldStart;
        self.stray = false;
    }

    /// Follow `bytes`, the next bytes the record consumed. Only the quotes
    /// and the bytes around them are looked at: between two quotes the state
    /// depends on nothing but the last byte (outside a quoted field) or on
    /// nothing at all (inside one), so each stretch is one `memchr`. A byte
    /// loop here was the reader's costliest step on files with quoted cells.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                State::Quoted => match memchr::memchr(b'"', &bytes[i..]) {
                    Some(k) => {
                        self.state = State::AfterQuote;
                        i += k + 1;
                    }
                    None => return,
                },
                State::AfterQuote => {
                    self.after_quote(bytes[i]);
                    i += 1;
                }
                State::FieldStart | State::Unquoted => {
                    let rest = &bytes[i..];
                    let quote = memchr::memchr(b'"', rest);
                    let run = &rest[..quote.unwrap_or(rest.len())];
                    if let Some(&last) = run.last() {
                        self.state = if self.ends_field(last) { State::FieldStart } else { State::Unquoted };
                    }
                    let Some(k) = quote else { return };
                    // A quote opens a quoted field only at the start of a field;
                    // inside an unquoted one csv-core keeps it as it is.
                    if self.state == State::FieldStart {
                        self.state = State::Quoted;
                    }
                    i += k + 1;
                }
            }
        }
    }

    /// The byte after a quote that may have closed a quoted field.
    fn after_quote(&mut self, b: u8) {
        self.state = if b == b'"' {
            State::Quoted
        } else if self.ends_field(b) {
            State::FieldStart
        } else {
            // `"Bo"b`: csv-core keeps `Bo` and `b` and drops the quotes.
            self.stray = true;
            State::Unquoted
        };
    }

    fn ends_field(&self, b: u8) -> bool {
        b == self.delimiter || b == b'\n' || b == b'\r'
    }

    /// The record so far has text after a closing quote.
    pub(crate) fn stray(&self) -> bool {
        self.stray
    }

    /// The record ended inside a quoted field: its quote was never closed.
    pub(crate) fn open(&self) -> bool {
        self.state == State::Quoted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pieces: &[&[u8]]) -> (bool, bool) {
        let mut q = QuoteCheck::new(b',');
        for p in pieces {
            q.feed(p);
        }
        (q.stray(), q.open())
    }

    #[test]
    fn clean_records() {
        assert_eq!(check(&[b"a,b,c\n"]), (false, false));
        assert_eq!(check(&[b"a,\"b,\"\"x\"\"\",c\n"]), (false, false));
        assert_eq!(check(&[b"\"multi\nline\",2\n"]), (false, false));
        // A quote inside an unquoted cell is kept by csv-core: not a fault.
        assert_eq!(check(&[b"5'11\",x\n"]), (false, false));
        assert_eq!(check(&[b"a,\"\"\n"]), (false, false));
    }

    #[test]
    fn text_after_a_closing_quote() {
        assert_eq!(check(&[b"1,\"Bo\"b,2\n"]), (true, false));
        // Split across reads, wherever the cut falls.
        let whole: &[u8] = b"1,\"Bo\"b,2\n";
        for cut in 0..whole.len() {
            assert_eq!(check(&[&whole[..cut], &whole[cut..]]), (true, false), "cut at {cut}");
        }
    }

    #[test]
    fn unclosed_quote() {
        assert_eq!(check(&[b"u2,\"B\nu3,C\nu4,D\n"]), (false, true));
        let whole: &[u8] = b"x,\"ok\"\"\",\"open";
        for cut in 0..whole.len() {
            assert_eq!(check(&[&whole[..cut], &whole[cut..]]), (false, true), "cut at {cut}");
        }
    }

    /// The byte-at-a-time grammar `feed` skips through: both must agree on
    /// every input, however it is cut.
    fn reference(delimiter: u8, pieces: &[&[u8]]) -> (bool, bool) {
        let mut q = QuoteCheck::new(delimiter);
        for p in pieces {
            for &b in *p {
                match q.state {
                    State::FieldStart if b == b'"' => q.state = State::Quoted,
                    State::FieldStart | State::Unquoted => {
                        q.state = if q.ends_field(b) { State::FieldStart } else { State::Unquoted };
                    }
                    State::Quoted if b == b'"' => q.state = State::AfterQuote,
                    State::Quoted => {}
                    State::AfterQuote => q.after_quote(b),
                }
            }
        }
        (q.stray(), q.open())
    }

    #[test]
    fn same_as_the_byte_loop() {
        // Every string of up to 6 bytes over the alphabet that matters, cut
        // everywhere.
        let alphabet = b"\"a,\n";
        let mut input = Vec::new();
        for len in 0..=6u32 {
            for n in 0..alphabet.len().pow(len) {
                input.clear();
                let mut k = n;
                for _ in 0..len {
                    input.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                for cut in 0..=input.len() {
                    let (a, b) = input.split_at(cut);
                    let mut q = QuoteCheck::new(b',');
                    q.feed(a);
                    q.feed(b);
                    assert_eq!((q.stray(), q.open()), reference(b',', &[a, b]), "{:?} cut at {cut}", input);
                }
            }
        }
    }

    #[test]
    fn reset_between_records() {
        let mut q = QuoteCheck::new(b';');
        q.feed(b"\"a\"b;");
        assert!(q.stray());
        q.reset();
        q.feed(b"\"a\";b\n");
        assert!(!q.stray() && !q.open());
    }
}
