//! Delimiter sniffing: pick among `,` `;` `\t` `|` the one that splits the
//! first records (outside quotes) into a consistent number of fields > 1.

/// Candidates, in order of preference when two score the same.
pub(crate) const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
/// How many records of the head are looked at.
const MAX_RECORDS: usize = 50;

/// The delimiter an Excel `sep=X` first line names (Excel writes it, and
/// reads it, to say which delimiter the file uses), if the sample opens so.
pub(crate) fn excel_sep_line(sample: &[u8]) -> Option<u8> {
    let rest = sample.strip_prefix(b"sep=").or_else(|| sample.strip_prefix(b"SEP="))?;
    match rest {
        [d, b'\n', ..] | [d, b'\r', b'\n', ..] | [d] if *d != b'\r' && *d != b'\n' && *d != b'"' => Some(*d),
        _ => None,
    }
}

/// Choose the delimiter for `sample` (the head of the decoded text). `complete`
/// says the sample is the whole file, so its last record is not cut short.
/// A file where no candidate appears in the header is single-column: `,`.
pub(crate) fn sniff_delimiter(sample: &[u8], complete: bool) -> u8 {
    let mut best: Option<(f64, usize, u8)> = None;
    for &d in &CANDIDATES {
        let counts = delimiter_counts(sample, d, complete);
        let Some(&header) = counts.first() else {
            continue;
        };
        if header == 0 {
            continue;
        }
        let same = counts.iter().filter(|&&c| c == header).count();
        let consistency = same as f64 / counts.len() as f64;
        let better = match best {
            None => true,
            Some((bc, bh, _)) => consistency > bc || (consistency == bc && header > bh),
        };
        if better {
            best = Some((consistency, header, d));
        }
    }
    best.map_or(b',', |(_, _, d)| d)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: either the end or the first of `""`.
    QuoteInQuoted,
}

/// Delimiters outside quotes in each non-blank record of `sample`, the way
/// the CSV parser will see them with delimiter `d` (a quote opens a quoted
/// field only at the start of a field; `""` inside one is a quote).
fn delimiter_counts(sample: &[u8], d: u8, complete: bool) -> Vec<usize> {
    let mut counts = Vec::new();
    let mut state = State::FieldStart;
    let mut count = 0;
    let mut nonblank = false;
    for &b in sample {
        if state == State::QuoteInQuoted {
            if b == b'"' {
                state = State::Quoted;
                continue;
            }
            state = State::Unquoted;
        }
        match state {
            State::Quoted => {
                if b == b'"' {
                    state = State::QuoteInQuoted;
                }
            }
            _ if b == b'\n' || b == b'\r' => {
                if nonblank {
                    counts.push(count);
                    if counts.len() == MAX_RECORDS {
                        return counts;
                    }
                }
                count = 0;
                nonblank = false;
                state = State::FieldStart;
            }
            _ => {
                nonblank = true;
                if b == d {
                    count += 1;
                    state = State::FieldStart;
                } else if b == b'"' && state == State::FieldStart {
                    state = State::Quoted;
                } else {
                    state = State::Unquoted;
                }
            }
        }
    }
    // The last record counts only if it is whole; a cut-off one would skew the
    // vote, unless it is all there is.
    if nonblank && (complete || counts.is_empty()) {
        counts.push(count);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_consistent_one() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n", true), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2,5;3\n\"x;y\";2;3\n", true), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n", true), b'\t');
        assert_eq!(sniff_delimiter(b"a|b\n1|2\n", true), b'|');
    }

    #[test]
    fn excel_semicolons_with_commas_in_cells() {
        let s = b"id;name;note\r\n1;Doe, John;a,b,c\r\n2;\"Roe; Jane\";x\r\n";
        assert_eq!(sniff_delimiter(s, true), b';');
    }

    #[test]
    fn quoted_newlines_and_escaped_quotes() {
        let s = b"a,b\n\"x\n;y;z\",\"say \"\"hi\"\"; ok\"\n1,2\n";
        assert_eq!(sniff_delimiter(s, true), b',');
    }

    #[test]
    fn single_column_and_empty() {
        assert_eq!(sniff_delimiter(b"email\na@b.c\n", true), b',');
        assert_eq!(sniff_delimiter(b"", true), b',');
    }

    #[test]
    fn cut_off_last_record_is_ignored() {
        assert_eq!(sniff_delimiter(b"a;b\n1;2\n3", false), b';');
    }
}
