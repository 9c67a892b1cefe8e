//! Rows read in bulk: a `Block` holds the fields of many records in two
//! shared buffers (bytes, field ends) and is reused chunk after chunk, so the
//! reader allocates nothing per row. The transform reads a row through
//! [`Cells`], which a `csv::ByteRecord` also implements: one mapping code path
//! for rows in a block and for rows on their own (`RawRow`).

use super::Position;
use std::ops::Range;

/// A record's fields, wherever they are stored.
pub trait Cells {
    /// Number of fields.
    fn len(&self) -> usize;
    /// Whether the record has no field at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// All field bytes, one after the other.
    fn as_slice(&self) -> &[u8];
    /// Where field `i` is in [`Cells::as_slice`].
    fn range(&self, i: usize) -> Option<Range<usize>>;
    /// Field `i`; empty when there is no such field.
    fn field(&self, i: usize) -> &[u8] {
        self.range(i).map_or(&[][..], |r| &self.as_slice()[r])
    }
    /// An owned copy, for a reject or an operation that keeps its row.
    fn to_byte_record(&self) -> csv::ByteRecord {
        let mut rec = csv::ByteRecord::with_capacity(self.as_slice().len(), self.len());
        for i in 0..self.len() {
            rec.push_field(self.field(i));
        }
        rec
    }
}

impl Cells for csv::ByteRecord {
    fn len(&self) -> usize {
        csv::ByteRecord::len(self)
    }
    fn as_slice(&self) -> &[u8] {
        csv::ByteRecord::as_slice(self)
    }
    fn range(&self, i: usize) -> Option<Range<usize>> {
        csv::ByteRecord::range(self, i)
    }
    fn to_byte_record(&self) -> csv::ByteRecord {
        self.clone()
    }
}

/// One record of a block (or of the parser): its field bytes and the end of
/// each field in them.
#[derive(Debug, Clone, Copy)]
pub struct RowCells<'a> {
    bytes: &'a [u8],
    ends: &'a [usize],
}

impl<'a> RowCells<'a> {
    pub(crate) fn new(bytes: &'a [u8], ends: &'a [usize]) -> Self {
        RowCells { bytes, ends }
    }
}

impl Cells for RowCells<'_> {
    fn len(&self) -> usize {
        self.ends.len()
    }
    fn as_slice(&self) -> &[u8] {
        self.bytes
    }
    fn range(&self, i: usize) -> Option<Range<usize>> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(start..end)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    pos: Position,
    bytes: Range<usize>,
    ends: Range<usize>,
    flaw: Option<String>,
}

/// Many rows in input order, in buffers kept from one fill to the next.
#[derive(Debug, Default)]
pub struct Block {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    rows: Vec<Entry>,
    /// On-disk bytes of the file read when the block was filled, for progress.
    pub bytes_read: u64,
}

/// One row of a block, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct BlockRow<'a> {
    /// Where the row starts in its file.
    pub pos: Position,
    /// Its fields, in the block's buffers.
    pub cells: RowCells<'a>,
    /// What the reader found wrong with the row, as in `RawRow::flaw`.
    pub flaw: Option<&'a str>,
}

impl Block {
    /// Empty the block, keeping its buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.rows.clear();
        self.bytes_read = 0;
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the block holds no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `i` (in input order). Panics past the end, like slice indexing.
    pub fn row(&self, i: usize) -> BlockRow<'_> {
        let e = &self.rows[i];
        BlockRow {
            pos: e.pos,
            cells: RowCells::new(&self.bytes[e.bytes.clone()], &self.ends[e.ends.clone()]),
            flaw: e.flaw.as_deref(),
        }
    }

    /// Position of the last row.
    pub fn last_pos(&self) -> Option<Position> {
        self.rows.last().map(|e| e.pos)
    }

    /// Append a row: `ends` are relative to the start of `bytes`.
    pub(crate) fn push(&mut self, pos: Position, bytes: &[u8], ends: &[usize], flaw: Option<String>) {
        let b = self.bytes.len();
        let e = self.ends.len();
        self.bytes.extend_from_slice(bytes);
        self.ends.extend_from_slice(ends);
        self.rows.push(Entry { pos, bytes: b..b + bytes.len(), ends: e..e + ends.len(), flaw });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_as_pushed() {
        let mut b = Block::default();
        let pos = |record| Position { line: record + 2, byte: 0, record };
        b.push(pos(0), b"abc", &[1, 3], None);
        b.push(pos(1), b"", &[0], Some("flawed".into()));
        b.push(pos(2), b"xyz", &[0, 0, 3], None);
        assert_eq!(b.len(), 3);
        let r = b.row(0);
        assert_eq!((r.cells.field(0), r.cells.field(1), r.cells.len()), (&b"a"[..], &b"bc"[..], 2));
        assert_eq!(r.cells.to_byte_record(), csv::ByteRecord::from(vec!["a", "bc"]));
        assert_eq!(b.row(1).flaw, Some("flawed"));
        assert_eq!(b.row(1).cells.to_byte_record(), csv::ByteRecord::from(vec![""]));
        let r = b.row(2);
        assert_eq!(r.cells.to_byte_record(), csv::ByteRecord::from(vec!["", "", "xyz"]));
        assert_eq!(r.cells.field(7), b"");
        assert_eq!(b.last_pos(), Some(pos(2)));
        b.clear();
        assert!(b.is_empty() && b.last_pos().is_none());
    }
}
