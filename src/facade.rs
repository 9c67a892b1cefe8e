//! The library's front door: load a job, run it, get a typed summary or a
//! typed error, and follow the run through its events. Everything here is a
//! thin layer over the run lifecycle (`batchport_engine::run`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use batchport_engine::report::Summary;
use batchport_engine::run;
use batchport_engine::service::{Event, Events, Keys, Subscriber};

/// A loaded, checked job file.
#[derive(Debug, Clone)]
pub struct Job {
    pub(crate) inner: batchport_transform::job::Job,
}

impl Job {
    /// The job's name (`[job] name`): its runs and state are kept under it.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The job's kind as written in the job file (`profiles`, `events`,
    /// `audience`, `catalog` or `export`).
    pub fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }

    /// The job file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.file
    }
}

/// Read and check a job file (JOBS.md). Errors name the file and, where they
/// can, the line.
pub fn load_job(path: impl AsRef<Path>) -> Result<Job, Error> {
    batchport_transform::job::load(path.as_ref()).map(|inner| Job { inner }).map_err(|e| Error::Job(e.to_string()))
}

/// How to run a job.
#[derive(Clone)]
pub struct RunOptions {
    pub(crate) state_dir: PathBuf,
    pub(crate) keys: Option<Keys>,
    pub(crate) cancel: CancellationToken,
    pub(crate) subscriber: Option<Subscriber>,
    pub(crate) progress_bar: bool,
    pub(crate) override_guards: Vec<String>,
    pub(crate) metrics_file: Option<PathBuf>,
}

impl fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("state_dir", &self.state_dir)
            .field("keys", &self.keys)
            .field("cancelled", &self.cancel.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl RunOptions {
    /// Keep the job's runs, ledger and rejects under `state_dir`.
    pub fn new(state_dir: impl Into<PathBuf>) -> RunOptions {
        RunOptions {
            state_dir: state_dir.into(),
            keys: None,
            cancel: CancellationToken::new(),
            subscriber: None,
            progress_bar: false,
            override_guards: Vec::new(),
            metrics_file: None,
        }
    }

    /// Use these keys instead of the environment variables the job names.
    pub fn keys(mut self, keys: Keys) -> RunOptions {
        self.keys = Some(keys);
        self
    }

    /// Stop the run when `token` is cancelled: reading stops, every wait
    /// ends, the batches in flight settle, and the summary says `interrupted`.
    pub fn cancel_with(mut self, token: CancellationToken) -> RunOptions {
        self.cancel = token;
        self
    }

    /// Call `f` with each [`Event`] of the run.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> RunOptions {
        self.subscriber = Some(Arc::new(f));
        self
    }

    /// Draw a progress bar on stderr while the run goes (for terminals; off
    /// by default).
    pub fn progress_bar(mut self, on: bool) -> RunOptions {
        self.progress_bar = on;
        self
    }

    /// Accept these guards' refusals for this run (`[guard]` names, as
    /// `--override-guard` takes them): the run is sent, and its summary and
    /// record say which guard was overridden.
    pub fn override_guards(mut self, names: impl IntoIterator<Item = String>) -> RunOptions {
        self.override_guards = names.into_iter().collect();
        self
    }

    /// Write the run's Prometheus text to `path` at its end (wins over the
    /// job's `[job] metrics_file`).
    pub fn metrics_file(mut self, path: impl Into<PathBuf>) -> RunOptions {
        self.metrics_file = Some(path.into());
        self
    }

    /// The token that stops the run (see [`RunOptions::cancel_with`]).
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }
}

/// Run `job` to its end, or resume its unfinished run over the same input.
///
/// A run that starts always ends in a [`Summary`], failed runs included (its
/// `status` and `error` say so); an [`Error`] means it could not start.
pub async fn run_job(job: &Job, options: &RunOptions) -> Result<Summary, Error> {
    let opts = run::Options {
        state_dir: options.state_dir.clone(),
        progress: options.progress_bar,
        cancel: options.cancel.clone(),
        keys: options.keys.clone(),
        events: Events::new(options.subscriber.clone()),
        override_guards: options.override_guards.clone(),
        metrics_file: options.metrics_file.clone(),
    };
    run::execute(&job.inner, &opts).await.map_err(Error::from_run)
}

/// Why a job could not be loaded or its run could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The job file cannot be used; the message names the file and line.
    #[error("{0}")]
    Job(String),
    /// A key is missing, or the job cannot run as asked.
    #[error("{0}")]
    Usage(String),
    /// Another process is running this job (its state store is locked).
    #[error("{0}")]
    Locked(String),
    /// The job's state store cannot be used (damaged, unreadable).
    #[error("{0}")]
    State(String),
    /// Anything else that kept the run from starting (an input file that
    /// cannot be read, a client that cannot be built, ...).
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// The exit code `batchport` gives this error (JOBS.md): 2 for a bad job
    /// file or usage, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Job(_) | Error::Usage(_) => crate::exit::USAGE,
            _ => crate::exit::FAILED,
        }
    }

    pub(crate) fn from_run(e: anyhow::Error) -> Error {
        use batchport_state::StateError;
        let message = format!("{e:#}");
        if e.chain().any(|c| c.is::<batchport_transform::job::JobError>() || crate::exit::bad_input(c)) {
            Error::Job(message)
        } else if e
            .chain()
            .any(|c| c.is::<crate::exit::UsageError>() || c.is::<batchport_source::objstore::NoCredentials>())
        {
            Error::Usage(message)
        } else if let Some(s) = e.chain().find_map(|c| c.downcast_ref::<StateError>()) {
            match s {
                StateError::Locked { .. } => Error::Locked(message),
                _ => Error::State(message),
            }
        } else {
            Error::Failed(message)
        }
    }
}
