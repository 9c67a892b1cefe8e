//! The change index's base file: every (id hash, op hash) pair the API last
//! acknowledged, sorted by id hash, one pair per id, 16 bytes each.
//!
//! Layout: a 32-byte header (magic, pair count, checksum of the fences), the
//! pairs, then the fences: the id hash of every `FENCE_EVERY`-th pair. The
//! fences are kept on the heap (8 bytes per 64 ids: 12.5 MB at 100 M ids); a
//! lookup binary-searches them, then reads one 1 KB block of the pairs.
//!
//! Random lookups (`get`) are for inputs read once (objects): one `pread` of
//! a block each. A local file is checked as a whole instead, by ranges
//! (`pairs_between`, see `scan.rs`). The file is not memory-mapped: a mapping
//! either grows the RSS to the index size or, with its pages dropped as it
//! goes, costs a page fault per lookup (measured on the 2-core VM, 10 M ids:
//! 6.8 µs a lookup and 147 MB of RSS with a mapping; see docs/performance.md).
//!
//! The file is immutable: a merge writes a new one beside it and renames it in
//! (see `change.rs`), so a reader never sees a half-written base.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

pub(crate) const PAIR: usize = 16;
/// Pairs per block: one `pread` of 1 KB per lookup.
pub(crate) const FENCE_EVERY: usize = 64;
const HEADER: usize = 32;
const MAGIC: &[u8; 8] = b"BPCHIDX1";

pub(crate) type Pair = (u64, u64);

/// An open base file, shared by the lookup threads.
pub(crate) struct Base {
    file: File,
    count: u64,
    fences: Vec<u64>,
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Pair `i` of raw pairs (as `Base::blocks_for` returns them).
pub(crate) fn pair_at(raw: &[u8], i: usize) -> Pair {
    (u64_at(raw, i * PAIR), u64_at(raw, i * PAIR + 8))
}

/// A pair as every index file stores it: id hash, then op hash, little endian
/// (the inverse of [`pair_at`]).
pub(crate) fn pair_bytes((id, op): Pair) -> [u8; PAIR] {
    let mut b = [0u8; PAIR];
    b[..8].copy_from_slice(&id.to_le_bytes());
    b[8..].copy_from_slice(&op.to_le_bytes());
    b
}

impl Base {
    /// Open a base file written by [`Writer`], reading its header and fences.
    pub(crate) fn open(path: &Path) -> io::Result<Base> {
        let mut file = File::open(path)?;
        let mut head = [0u8; HEADER];
        file.read_exact(&mut head)?;
        if &head[..8] != MAGIC {
            return Err(invalid("not a batchport change index (bad magic)"));
        }
        let count = u64_at(&head, 8);
        let n_fences = count.div_ceil(FENCE_EVERY as u64);
        let expect_len = HEADER as u64 + count * PAIR as u64 + n_fences * 8;
        if file.metadata()?.len() != expect_len {
            return Err(invalid(format!("length is not {expect_len} bytes for {count} pairs")));
        }
        file.seek(SeekFrom::Start(HEADER as u64 + count * PAIR as u64))?;
        let mut r = BufReader::with_capacity(64 << 10, &file);
        let mut sum = xxhash_rust::xxh3::Xxh3::new();
        let mut fences = Vec::with_capacity(n_fences as usize);
        let mut b = [0u8; 8];
        for _ in 0..n_fences {
            r.read_exact(&mut b)?;
            sum.update(&b);
            fences.push(u64::from_le_bytes(b));
        }
        drop(r);
        if sum.digest() != u64_at(&head, 16) {
            return Err(invalid("its fences do not match their checksum"));
        }
        Ok(Base { file, count, fences })
    }

    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    /// The op hash recorded for `id`, if any: one `pread` of its block.
    pub(crate) fn get(&self, id: u64) -> io::Result<Option<u64>> {
        use std::os::unix::fs::FileExt;
        let block = self.fences.partition_point(|&f| f <= id);
        if block == 0 {
            return Ok(None);
        }
        let first = (block - 1) * FENCE_EVERY;
        let n = (self.count as usize - first).min(FENCE_EVERY);
        let mut raw = [0u8; FENCE_EVERY * PAIR];
        let buf = &mut raw[..n * PAIR];
        self.file.read_exact_at(buf, (HEADER + first * PAIR) as u64)?;
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let at = u64_at(buf, mid * PAIR);
            match at.cmp(&id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Some(u64_at(buf, mid * PAIR + 8))),
            }
        }
        Ok(None)
    }

    /// The blocks that may hold ids in `[lo, hi)` (`hi` none: to the end).
    fn block_range(&self, lo: u64, hi: Option<u64>) -> std::ops::Range<usize> {
        let start = self.fences.partition_point(|&f| f < lo).saturating_sub(1);
        let end = hi.map_or(self.fences.len(), |hi| self.fences.partition_point(|&f| f < hi));
        start..end.max(start)
    }

    /// How many blocks `blocks_for(lo, hi)` reads.
    pub(crate) fn blocks_between(&self, lo: u64, hi: Option<u64>) -> usize {
        self.block_range(lo, hi).len()
    }

    /// The pairs of the blocks that may hold ids in `[lo, hi)`, in order,
    /// raw (16 bytes each, as in the file: see `pair_at`), read in one
    /// `pread`. Some may lie outside the range, at both ends.
    pub(crate) fn blocks_for(&self, lo: u64, hi: Option<u64>) -> io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let blocks = self.block_range(lo, hi);
        if blocks.is_empty() {
            return Ok(Vec::new());
        }
        let first = blocks.start * FENCE_EVERY;
        let n = (blocks.end * FENCE_EVERY).min(self.count as usize) - first;
        let mut raw = vec![0u8; n * PAIR];
        self.file.read_exact_at(&mut raw, (HEADER + first * PAIR) as u64)?;
        Ok(raw)
    }

    /// Every pair in id order, read sequentially with a small buffer.
    pub(crate) fn pairs(&self) -> io::Result<PairReader<BufReader<File>>> {
        let mut f = self.file.try_clone()?;
        f.seek(SeekFrom::Start(HEADER as u64))?;
        Ok(PairReader { inner: BufReader::with_capacity(256 * 1024, f), left: self.count })
    }
}

/// Reads `left` pairs from a stream of raw little-endian pairs.
pub(crate) struct PairReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> PairReader<R> {
    pub(crate) fn new(inner: R, count: u64) -> Self {
        PairReader { inner, left: count }
    }

    pub(crate) fn next_pair(&mut self) -> io::Result<Option<Pair>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut b = [0u8; PAIR];
        self.inner.read_exact(&mut b)?;
        self.left -= 1;
        Ok(Some((u64_at(&b, 0), u64_at(&b, 8))))
    }
}

/// Bytes written between two requests to start writing back (not waiting):
/// the `fsync` at the end then finds most of the file on disk already
/// (measured: 160 MB take 1.1 s to reach this VM's disk).
const WRITE_BACK_EVERY: u64 = 8 << 20;

/// Writes a base file from pairs given in strictly increasing id order.
pub(crate) struct Writer {
    out: BufWriter<File>,
    count: u64,
    last: Option<u64>,
    fences: Vec<u64>,
    written_back: u64,
}

impl Writer {
    pub(crate) fn create(path: &Path) -> io::Result<Writer> {
        let mut out = BufWriter::with_capacity(256 * 1024, File::create(path)?);
        out.write_all(&[0u8; HEADER])?;
        Ok(Writer { out, count: 0, last: None, fences: Vec::new(), written_back: 0 })
    }

    pub(crate) fn push(&mut self, (id, op): Pair) -> io::Result<()> {
        if self.last.is_some_and(|l| l >= id) {
            return Err(invalid("pairs out of order while writing the change index"));
        }
        if self.count % FENCE_EVERY as u64 == 0 {
            self.fences.push(id);
        }
        self.last = Some(id);
        self.out.write_all(&pair_bytes((id, op)))?;
        self.count += 1;
        let end = HEADER as u64 + self.count * PAIR as u64;
        if end - self.written_back >= WRITE_BACK_EVERY {
            self.out.flush()?;
            let fd = self.out.get_ref().as_raw_fd();
            let (from, len) = (self.written_back as libc::off64_t, (end - self.written_back) as libc::off64_t);
            // SAFETY: a hint on our own open file descriptor; failure only costs time.
            unsafe { libc::sync_file_range(fd, from, len, libc::SYNC_FILE_RANGE_WRITE) };
            self.written_back = end;
        }
        Ok(())
    }

    /// Write the fences and the header, and make the file durable.
    pub(crate) fn finish(self) -> io::Result<u64> {
        let Writer { mut out, count, fences, .. } = self;
        // Streamed: at 100 M ids the fences are 12.5 MB, not to be copied.
        let mut sum = xxhash_rust::xxh3::Xxh3::new();
        for f in &fences {
            out.write_all(&f.to_le_bytes())?;
            sum.update(&f.to_le_bytes());
        }
        drop(fences);
        let mut head = [0u8; HEADER];
        head[..8].copy_from_slice(MAGIC);
        head[8..16].copy_from_slice(&count.to_le_bytes());
        head[16..24].copy_from_slice(&sum.digest().to_le_bytes());
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&head)?;
        file.sync_all()?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_across_blocks_and_edges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.idx");
        let mut w = Writer::create(&path).unwrap();
        // 1000 ids: 15 full blocks and a partial one.
        for i in 0..1000u64 {
            w.push((10 + i * 7, i)).unwrap();
        }
        assert!(w.push((5, 0)).is_err(), "order is checked");
        w.finish().unwrap();
        let b = Base::open(&path).unwrap();
        assert_eq!(b.len(), 1000);
        for i in 0..1000u64 {
            assert_eq!(b.get(10 + i * 7).unwrap(), Some(i));
            assert_eq!(b.get(11 + i * 7).unwrap(), None);
        }
        assert_eq!(b.get(0).unwrap(), None);
        assert_eq!(b.get(u64::MAX).unwrap(), None);
        let mut r = b.pairs().unwrap();
        let mut n = 0;
        while let Some((id, op)) = r.next_pair().unwrap() {
            assert_eq!((id, op), (10 + n * 7, n));
            n += 1;
        }
        assert_eq!(n, 1000);
        // Ranges read in one go: exactly the pairs in [lo, hi).
        for (lo, hi) in [(0, Some(10)), (10, Some(11)), (100, Some(800)), (3000, None), (7000, None), (0, None)] {
            let want: Vec<(u64, u64)> = (0..1000u64)
                .map(|i| (10 + i * 7, i))
                .filter(|&(id, _)| id >= lo && hi.is_none_or(|h| id < h))
                .collect();
            let raw = b.blocks_for(lo, hi).unwrap();
            let got: Vec<(u64, u64)> = (0..raw.len() / PAIR)
                .map(|i| pair_at(&raw, i))
                .filter(|&(id, _)| id >= lo && hi.is_none_or(|h| id < h))
                .collect();
            assert_eq!(got, want, "[{lo}, {hi:?})");
            assert!(b.blocks_between(lo, hi) * FENCE_EVERY >= want.len());
        }
    }

    #[test]
    fn a_damaged_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.idx");
        let mut w = Writer::create(&path).unwrap();
        for i in 0..100u64 {
            w.push((i, i)).unwrap();
        }
        w.finish().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(Base::open(&path).is_err());
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(Base::open(&path).is_err());
        // An empty index is a valid one.
        Writer::create(&path).unwrap().finish().unwrap();
        assert_eq!(Base::open(&path).unwrap().get(3).unwrap(), None);
    }
}
