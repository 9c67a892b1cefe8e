//! The command line, as clap types only; the commands live in `commands/`.

use crate::init::{InitKind, Preset};
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
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the job; resume its unfinished run over the same input if there is one
    Run {
        job: PathBuf,
        /// Accept this guard's refusal once, for this run (repeatable)
        #[arg(long = "override-guard", value_name = "NAME",
              value_parser = clap::builder::PossibleValuesParser::new(batchport_transform::job::GUARD_NAMES))]
        override_guard: Vec<String>,
        /// Write the run's Prometheus text here at its end (node_exporter's textfile collector; wins over [job] metrics_file)
        #[arg(long, value_name = "PATH")]
        metrics_file: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Read and transform the whole input as `run` would, send nothing, write the rejects file
    Validate {
        job: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Compare a profiles job's input with what Batch holds (an export); exit 3 when anything differs
    Verify {
        job: PathBuf,
        #[command(flatten)]
        args: VerifyArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Print a commented job file for FILE.csv, mapping a tool's export (or guessing types with `plain`)
    Init {
        /// The tool the file was exported from
        #[arg(long, value_enum, default_value_t = Preset::Plain, conflicts_with = "preset_file")]
        preset: Preset,
        /// A tool batchport does not ship: its export described in a TOML file, in the presets' format (docs/guide.md, "Presets as data")
        #[arg(long, value_name = "TOOL.toml")]
        preset_file: Option<PathBuf>,
        /// The kind of job: auto (events when the file has an event column beside a time column), profiles or events
        #[arg(long, value_enum, default_value_t = InitKind::Auto)]
        kind: InitKind,
        /// The CSV file (its path goes into the job as given)
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Runs known to the state store: progress, counts, last error, where the rejects are
    Status {
        /// Only this job's runs
        job: Option<PathBuf>,
        /// The job's last N runs as a table (status, counts, duration, rate, guard); N defaults to 10
        #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "10", requires = "job")]
        history: Option<usize>,
        #[command(flatten)]
        common: Common,
    },
    /// Forget the job's unfinished run (and, with --delta, its change index)
    Reset {
        job: PathBuf,
        /// Also forget the change index: the next `changed_only` run sends every row
        #[arg(long)]
        delta: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Write a generated 15-column profile CSV (and its job file) for rehearsals and benches
    Generate {
        /// The CSV to write (.gz compresses it)
        out: PathBuf,
        /// Rows to write
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Make every Nth row invalid (0: none)
        #[arg(long, default_value_t = 0)]
        bad_every: u64,
        /// Seed, for the same file every time
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Stay up and run every job in DIR that has `schedule`, never two runs of one job at once
    Schedule {
        dir: PathBuf,
        /// Start the jobs due at this instant (or `--now`), once, then exit (tests)
        #[arg(long, hide = true)]
        once: bool,
        /// With --once: the instant, in RFC 3339, instead of the clock
        #[arg(long, hide = true, requires = "once", value_name = "RFC3339")]
        now: Option<String>,
        /// Tell this webhook how runs end, for every job without a [notify] of its own: the environment variable holding its URL
        #[arg(long, value_name = "NAME")]
        notify_url_env: Option<String>,
        /// With --notify-url-env: the events to tell (failed, refused, rejects, uncertain, recovered; default all)
        #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "notify_url_env")]
        notify_events: Option<Vec<String>>,
        /// With --notify-url-env: the body, json (default) or slack
        #[arg(long, value_name = "FORMAT", requires = "notify_url_env")]
        notify_format: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Serve a local Batch API for rehearsals and tests
    Emulator(EmulatorArgs),
    /// Print a shell completion script (e.g. `batchport completions bash > ~/.local/share/bash-completion/completions/batchport`)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, in roff (e.g. `batchport man > ~/.local/share/man/man1/batchport.1`)
    Man,
}

/// `batchport verify`'s own flags.
#[derive(Debug, Args, Clone, Default)]
pub struct VerifyArgs {
    /// Check a random sample of N Custom IDs (the export is still read whole)
    #[arg(long, value_name = "N")]
    pub sample: Option<u64>,
    /// Seed of the sample, to check the same one again (printed in the report)
    #[arg(long, value_name = "N", requires = "sample")]
    pub seed: Option<u64>,
    /// Send again the rows of every profile that differs or is missing, as a normal run
    #[arg(long)]
    pub repair: bool,
    /// Replace the job's change index with what Batch holds (after a lost state folder)
    #[arg(long)]
    pub rebuild_index: bool,
    /// Write the differences CSV here (default: the rejects folder)
    #[arg(long, value_name = "FILE.csv")]
    pub differences: Option<PathBuf>,
}

/// `batchport emulator`: a local Batch 2.x API (see API.md) for rehearsals and tests.
#[derive(Debug, Args, Clone)]
pub struct EmulatorArgs {
    /// Port to listen on on 127.0.0.1 (0 picks a free one; the address is printed)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// REST API key the emulator accepts
    #[arg(long, default_value = "emulator_rest_key")]
    pub rest_key: String,
    /// Project key the emulator accepts
    #[arg(long, default_value = "project_emulator")]
    pub project_key: String,
    /// /profiles/update token bucket: updates per second (Batch: 300)
    #[arg(long, value_name = "N")]
    pub update_rate: Option<u32>,
    /// /profiles/update token bucket capacity (Batch: 1000)
    #[arg(long, value_name = "N")]
    pub update_burst: Option<u32>,
    /// /profiles/mass-update token bucket: updates per second, no burst (Batch: 10000)
    #[arg(long, value_name = "N")]
    pub mass_update_rate: Option<u32>,
    /// Enforce the undocumented audience limit of 1 request/s
    #[arg(long)]
    pub audience_rate_limit: bool,
    /// No token buckets at all (benches)
    #[arg(long)]
    pub unlimited: bool,
    /// Fraction of write calls answered 500 or 503 without being applied (0 to 1)
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub error_rate: f64,
    /// Fraction of write calls applied whose answer is lost (connection closed) (0 to 1)
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub lost_answer_rate: f64,
    /// Latency added to every call, in milliseconds
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Network jitter: each call waits a random 0.5×MS to 1.5×MS before it
    /// reaches the token buckets (80: 40–120 ms), so calls arrive out of phase
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub jitter_ms: u64,
    /// Another client consuming N updates/s of the same buckets (each bucket
    /// counted in updates; at most its rate)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub shared_rate: u32,
    /// Answer every call with 429 for this many seconds after start
    #[arg(long, value_name = "SECS")]
    pub storm_secs: Option<u64>,
    /// Refuse operations whose Custom ID contains this text (partial error on
    /// update, 400 on mass-update): rehearse how rejects are reported
    #[arg(long, value_name = "TEXT")]
    pub refuse_marker: Option<String>,
    /// Refuse attributes of this name, one by one, applying the rest of each
    /// operation: rehearse how partially applied rows are reported
    #[arg(long, value_name = "NAME")]
    pub refuse_attribute: Option<String>,
    /// Fraction of Custom IDs (picked by --seed) whose mass-update operation is
    /// accepted (202) but silently not applied, once per ID: rehearse what
    /// `batchport verify` catches (0 to 1)
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub silent_drop_rate: f64,
    /// This Custom ID's first mass-update operation is accepted but silently
    /// not applied (repeatable)
    #[arg(long, value_name = "ID")]
    pub silent_drop_id: Vec<String>,
    /// Seed of the fault dice, for repeatable rehearsals
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seconds an export takes from CREATED to SUCCESS
    #[arg(long, default_value_t = 2, value_name = "SECS")]
    pub export_secs: u64,
    /// Profiles per export file part
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub export_part_size: usize,
    /// Make every export end in ERROR
    #[arg(long)]
    pub export_fail: bool,
    /// Accept events of any time (by default events older than --event-max-age
    /// or in the future are refused one by one, as Batch is reported to)
    #[arg(long)]
    pub lax_event_time: bool,
    /// The event window of the strict time check, e.g. 24h, 90m, 7d
    #[arg(long, default_value = "24h", value_name = "AGE")]
    pub event_max_age: String,
    /// Do not check event attribute values ($label, $tags, strings, objects);
    /// names are still checked
    #[arg(long)]
    pub lax_event_attributes: bool,
}
