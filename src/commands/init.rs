//! `batchport init --preset NAME FILE.csv` (or `--preset-file TOOL.toml`):
//! print a job file for FILE.csv on stdout (so it can be redirected into
//! place); what was guessed and what the sample check found go to stderr, for
//! people. A preset file that cannot be used is a usage error (exit 2).

use crate::cli::Common;
use crate::exit::UsageError;
use crate::init::{self, InitError, InitKind, Preset};
use anyhow::Result;
use std::io::Write;
use std::path::Path;

pub fn run(file: &Path, preset: Preset, preset_file: Option<&Path>, kind: InitKind, common: &Common) -> Result<i32> {
    if common.json {
        return Err(UsageError("init prints a job file (TOML) on stdout; --json does not apply".into()).into());
    }
    let path = file.to_string_lossy();
    let g = match preset_file {
        None => init::generate_as(&path, preset, kind),
        Some(_) if kind == InitKind::Events => {
            return Err(
                UsageError("--kind events writes an events job from the file alone: no --preset-file".into()).into()
            );
        }
        Some(p) => init::generate_with_file(&path, p),
    };
    let g = match g {
        Err(InitError::Preset(e)) => return Err(UsageError(e.to_string()).into()),
        Err(e @ InitError::NoEventColumn { .. }) => return Err(UsageError(e.to_string()).into()),
        g => g?,
    };
    let mut out = std::io::stdout().lock();
    out.write_all(g.text.as_bytes())?;
    out.flush()?;
    if !common.quiet {
        crate::say!(
            "batchport init: {} columns mapped ({} native), {} not mapped (listed at the end of the job file)",
            g.mapped,
            g.natives,
            g.not_mapped
        );
        if g.rejected == 0 {
            crate::say!("batchport init: the job accepts all {} sampled rows", g.sampled);
        } else {
            crate::say!("batchport init: the job would reject {} of {} sampled rows:", g.rejected, g.sampled);
            for r in &g.first_rejects {
                crate::say!("  {r}");
            }
        }
    }
    Ok(0)
}
