//! The state store's errors. Each message says what happened to which file and
//! what the user can do about it: they reach the terminal as they are.

use std::path::PathBuf;

/// An error from the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// sled holds an exclusive file lock while a database is open: this is the
    /// run lock between batchport processes.
    #[error(
        "the state store {} is in use by another batchport process (a run of this job is going on); \
         wait for it to end (`batchport status` shows it); do not start a second run of the job elsewhere",
        path.display()
    )]
    Locked {
        /// The store's folder.
        path: PathBuf,
    },

    /// The store exists but sled cannot read it. We never start over silently:
    /// the caller exits 1 and the user decides (see `Store::open`).
    #[error("the state store {} cannot be opened ({cause}); {}", path.display(), corrupt_advice(moved_to))]
    Corrupt {
        /// The store's folder.
        path: PathBuf,
        /// What sled (or the identity check) said.
        cause: String,
        /// Where the broken store was moved, when the caller asked for that.
        moved_to: Option<PathBuf>,
    },

    /// A file system error that says nothing about the store's contents
    /// (permissions, disk full...): the store is left alone.
    // The io::Error is the `source`: chained messages print it after this.
    #[error("the state store {}", path.display())]
    Io {
        /// The file or folder the operation was on.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },

    /// sled failed on an open store (I/O error, disk full, a bug).
    #[error("the state store {}: {cause}", path.display())]
    Store {
        /// The store's folder.
        path: PathBuf,
        /// What sled said.
        cause: String,
    },

    /// A record in the store does not decode: written by an incompatible
    /// version, or damaged.
    #[error("the state store {}: the record {key} cannot be read ({cause}); reset the job or use another --state", path.display())]
    BadRecord {
        /// The store's folder.
        path: PathBuf,
        /// The record's key (bytes that are not UTF-8 replaced).
        key: String,
        /// Why it does not decode.
        cause: String,
    },

    /// The store has no run with this id.
    #[error("the state store has no run {0} (was it reset by another command?)")]
    UnknownRun(String),
}

fn corrupt_advice(moved_to: &Option<PathBuf>) -> String {
    match moved_to {
        Some(to) => format!(
            "it was moved aside to {}: run again to start with a fresh store (unfinished runs start over; \
             for events, look at the broken copy's runs before sending the same rows again)",
            to.display()
        ),
        None => "it was left as it is: move it aside (or use another --state) to start with a fresh store; \
                 unfinished runs will then start over"
            .to_string(),
    }
}
