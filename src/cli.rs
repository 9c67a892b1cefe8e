//! The command line, as clap types only; the commands live in `commands/`.

use crate::init::Preset;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "batchport",
    version,
    about = "Move user data in and out of Batch (batch.com) through its 2.x Project APIs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command shares.
#[derive(Debug, Args, Clone, Default)]
pub struct Common {
    /// State folder (default: $BATCHPORT_STATE, else $XDG_STATE_HOME/batchport, else ~/.local/state/batchport)
    #[arg(long, global = true, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Print one JSON summary object on stdout and nothing else there
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but errors
    #[arg(long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the job; resume its unfinished run over the same input if there is one
    Run {
        job: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Read and transform the whole input as `run` would, send nothing, write the rejects file
    Validate {
        job: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Print a commented job file for FILE.csv, mapping a tool's export (or guessing types with `plain`)
    Init {
        /// The tool the file was exported from
        #[arg(long, value_enum, default_value_t = Preset::Plain)]
        preset: Preset,
        /// The CSV file (its path goes into the job as given)
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Serve a local Batch API for rehearsals and tests
    Emulator(EmulatorArgs),
}

#[derive(Debug, Args, Clone)]
pub struct EmulatorArgs {
    /// Port to listen on (0 picks a free one; the address is printed)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// REST API key the emulator accepts
    #[arg(long, default_value = "emulator_rest_key")]
    pub rest_key: String,
    /// Project key the emulator accepts
    #[arg(long, default_value = "project_emulator")]
    pub project_key: String,
}
