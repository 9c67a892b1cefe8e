//! Finding the ends of cells in a line without csv-core, for the reader's
//! fast path (`Parser::split_plain`): cells are short, so a word at a time
//! beats both a byte loop and memchr's set-up per cell.

/// The first byte of `line` at or after `from` that is `a` or `b`, else
/// `line.len()`. Cells are short: eight bytes at a time in a word (exact
/// zero-byte test) beats both a byte loop and memchr's set-up.
#[inline]
pub(crate) fn next_of(line: &[u8], from: usize, a: u8, b: u8) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // The high bit of each byte of `x` that is zero, and only those.
    let zeros = |x: u64| !(((x & LOW7) + LOW7) | x | LOW7);
    let (aa, bb) = (u64::from_le_bytes([a; 8]), u64::from_le_bytes([b; 8]));
    let hits = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&line[at..at + 8]);
        let x = u64::from_le_bytes(w);
        zeros(x ^ aa) | zeros(x ^ bb)
    };
    let len = line.len();
    let mut i = from;
    while i + 8 <= len {
        let m = hits(i);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    if i >= len {
        return len;
    }
    if len >= 8 {
        // The tail as the line's last word, without the bytes before `i`.
        let base = len - 8;
        let m = hits(base) & (u64::MAX << ((i - base) * 8));
        return if m == 0 { len } else { base + (m.trailing_zeros() / 8) as usize };
    }
    line[i..].iter().position(|&c| c == a || c == b).map_or(len, |k| i + k)
}

#[cfg(test)]
mod tests {
    use super::next_of;

    #[test]
    fn next_of_finds_the_first_of_either_byte_from_any_start() {
        for len in 0..40 {
            for at in 0..len {
                for (k, byte) in [b',', b'"'].into_iter().enumerate() {
                    let mut line = vec![b'a'; len];
                    line[at] = byte;
                    // A byte of the other kind before `from` is not seen.
                    if at > 0 {
                        line[at - 1] = [b'"', b','][k];
                    }
                    for from in 0..=at {
                        let want = if from < at { at - 1 } else { at };
                        assert_eq!(next_of(&line, from, b',', b'"'), want, "{line:?} from {from}");
                    }
                    assert_eq!(next_of(&line, at + 1, b',', b'"'), len, "nothing after {at} in {len}");
                }
            }
            // 0x80 and 0xff bytes, and zeros, are not mistaken for either.
            let line: Vec<u8> = (0..len).map(|i| [0u8, 0x80, 0xff, b'+', 0xac][i % 5]).collect();
            assert_eq!(next_of(&line, 0, b',', b'"'), len);
        }
    }
}
