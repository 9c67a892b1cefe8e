//! The two sides of a verify, spilled to disk in hash partitions so that
//! memory stays flat whatever the number of profiles: every record of a
//! Custom ID goes to partition `hash(id) % n` of its side, and a partition of
//! the input side is then small enough to be held in memory while the same
//! partition of the export side streams past it.
//!
//! Records are length-prefixed binary frames in a private folder (0700, files
//! 0600: they hold people's data) removed when the verify ends.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Write buffers of one side's partitions, all together (at most 2,048
/// partitions of 4 KB past that).
const BUFFERS: usize = 8 << 20;

/// The partitions of one side.
pub(crate) struct Partitions {
    files: Vec<BufWriter<File>>,
    paths: Vec<PathBuf>,
    buf: Vec<u8>,
}

/// The partition of a Custom ID, by the hash both sides use.
pub(crate) fn id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

fn private_file(path: &Path) -> io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.create_new(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

impl Partitions {
    /// `n` empty partitions named `<side>-<i>.bin` in `dir`.
    pub(crate) fn create(dir: &Path, side: &str, n: usize) -> io::Result<Partitions> {
        let mut files = Vec::with_capacity(n);
        let mut paths = Vec::with_capacity(n);
        // Buffers of all the partitions together stay near BUFFERS.
        let each = (BUFFERS / n.max(1)).clamp(4 << 10, 64 << 10);
        for i in 0..n {
            let p = dir.join(format!("{side}-{i}.bin"));
            files.push(BufWriter::with_capacity(each, private_file(&p)?));
            paths.push(p);
        }
        Ok(Partitions { files, paths, buf: Vec::new() })
    }

    /// Append one frame, built by `fill`, to the partition of `hash`.
    pub(crate) fn push(&mut self, hash: u64, fill: impl FnOnce(&mut Frame)) -> io::Result<()> {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 4]);
        fill(&mut Frame(&mut self.buf));
        let len = (self.buf.len() - 4) as u32;
        self.buf[..4].copy_from_slice(&len.to_le_bytes());
        let n = self.files.len() as u64;
        self.files[(hash % n) as usize].write_all(&self.buf)
    }

    /// Where every partition ends now (flushed): a part downloaded again is
    /// cut back to it.
    pub(crate) fn mark(&mut self) -> io::Result<Vec<u64>> {
        self.files
            .iter_mut()
            .map(|f| {
                f.flush()?;
                f.get_mut().stream_position()
            })
            .collect()
    }

    /// Cut every partition back to `marks`.
    pub(crate) fn rewind(&mut self, marks: &[u64]) -> io::Result<()> {
        for (f, &m) in self.files.iter_mut().zip(marks) {
            f.flush()?;
            let file = f.get_mut();
            file.set_len(m)?;
            file.seek(io::SeekFrom::Start(m))?;
        }
        Ok(())
    }

    /// Flush and close; the paths, in partition order.
    pub(crate) fn finish(self) -> io::Result<Vec<PathBuf>> {
        for mut f in self.files {
            f.flush()?;
        }
        Ok(self.paths)
    }
}

/// One frame under construction.
pub(crate) struct Frame<'a>(&'a mut Vec<u8>);

impl Frame<'_> {
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.0.extend_from_slice(b);
        self
    }
}

/// Every frame of a partition file, in the order written.
pub(crate) fn read_frames(path: &Path, mut f: impl FnMut(&mut Fields<'_>) -> io::Result<()>) -> io::Result<()> {
    let mut r = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut frame = Vec::new();
    loop {
        let mut len = [0u8; 4];
        match r.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        frame.resize(u32::from_le_bytes(len) as usize, 0);
        r.read_exact(&mut frame)?;
        f(&mut Fields { rest: &frame })?;
    }
}

/// Reading a frame's fields back in the order they were written.
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
}

fn short() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "a verify spill file is damaged")
}

impl<'a> Fields<'a> {
    pub(crate) fn u64(&mut self) -> io::Result<u64> {
        let (head, rest) = self.rest.split_first_chunk::<8>().ok_or_else(short)?;
        self.rest = rest;
        Ok(u64::from_le_bytes(*head))
    }

    pub(crate) fn bytes(&mut self) -> io::Result<&'a [u8]> {
        let (head, rest) = self.rest.split_first_chunk::<4>().ok_or_else(short)?;
        let n = u32::from_le_bytes(*head) as usize;
        if rest.len() < n {
            return Err(short());
        }
        let (b, rest) = rest.split_at(n);
        self.rest = rest;
        Ok(b)
    }

    pub(crate) fn str(&mut self) -> io::Result<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| short())
    }
}

/// A private folder for the partitions, under `parent`, removed on drop.
pub(crate) fn work_dir(parent: &Path) -> io::Result<tempfile::TempDir> {
    std::fs::create_dir_all(parent)?;
    let dir = tempfile::Builder::new().prefix("verify-").tempdir_in(parent)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_back_per_partition_in_order() {
        let parent = tempfile::tempdir().unwrap();
        let dir = work_dir(parent.path()).unwrap();
        let mut p = Partitions::create(dir.path(), "x", 3).unwrap();
        for i in 0..30u64 {
            p.push(i, |f| {
                f.u64(i).bytes(format!("id{i}").as_bytes());
            })
            .unwrap();
        }
        let paths = p.finish().unwrap();
        let mut seen = Vec::new();
        read_frames(&paths[1], |f| {
            seen.push((f.u64()?, f.str()?.to_string()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 10);
        assert!(seen.iter().all(|(i, id)| i % 3 == 1 && *id == format!("id{i}")));
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&paths[0]).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777, 0o700);
        }
    }
}
