//! `batchport generate OUT.csv`: a deterministic profile file of any size, and a
//! job file next to it that imports it into the emulator, for rehearsals.

use crate::testdata;
use anyhow::{Context, Result};
use std::io::{BufWriter, Write};
use std::path::Path;

pub fn run(out: &Path, rows: u64, bad_every: u64, seed: u64) -> Result<i32> {
    let file = std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let gz = out.extension().is_some_and(|e| e == "gz");
    let mut w: Box<dyn Write> = if gz {
        Box::new(flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast()))
    } else {
        Box::new(BufWriter::with_capacity(1 << 20, file))
    };
    testdata::write_profiles(&mut w, rows, seed, bad_every)
        .with_context(|| format!("cannot write {}", out.display()))?;
    w.flush()?;
    drop(w);
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("generated.csv");
    let stem = name.split('.').next().unwrap_or("generated");
    let job = out.with_file_name(format!("{stem}.toml"));
    if !job.exists() {
        std::fs::write(&job, testdata::profiles_job(stem, name, "base_url = \"emulator\""))?;
        crate::say!("wrote {} and {}", out.display(), job.display());
    } else {
        crate::say!("wrote {} ({} exists: left as it is)", out.display(), job.display());
    }
    Ok(0)
}
