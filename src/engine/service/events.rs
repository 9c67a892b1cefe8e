//! A run's events and the keys it sends with: the types the library's
//! facade re-exports, kept here, below the lifecycle that uses them.

use std::fmt;
use std::sync::Arc;

/// A project's two keys. `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    pub(crate) rest_key: String,
    pub(crate) project_key: String,
}

impl Keys {
    /// The REST API key and the project key of the Batch project.
    pub fn new(rest_key: impl Into<String>, project_key: impl Into<String>) -> Keys {
        Keys { rest_key: rest_key.into(), project_key: project_key.into() }
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(***)")
    }
}

/// Something that happened during a run, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The run started, or resumed an unfinished run of the job.
    Started {
        /// The run's id (as in the summary and `batchport status`).
        run_id: String,
        /// An earlier, unfinished run is being resumed.
        resumed: bool,
    },
    /// Something the user should know (an unfinished run abandoned because its
    /// input changed, an export asked for again, ...).
    Notice(String),
    /// Rows so far (imports: settled rows; exports: records written).
    Rows {
        /// Rows read (exports: records written).
        read: u64,
        /// Rows Batch acknowledged.
        sent: u64,
        /// Rows refused (by the transform or by Batch).
        rejected: u64,
    },
}

/// Receives a run's events; called on the run's tasks, so keep it quick.
pub type Subscriber = Arc<dyn Fn(&Event) + Send + Sync>;

/// The run's events, to whoever subscribed (the binary prints notices on
/// stderr; a library caller gets them in its callback). Library code never
/// prints.
#[derive(Clone, Default)]
pub struct Events(Option<Subscriber>);

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Events(subscribed)" } else { "Events(none)" })
    }
}

impl Events {
    /// Events to `subscriber`, or to no one.
    pub fn new(subscriber: Option<Subscriber>) -> Events {
        Events(subscriber)
    }

    /// Events to `f`.
    pub fn to(f: impl Fn(&Event) + Send + Sync + 'static) -> Events {
        Events(Some(std::sync::Arc::new(f)))
    }

    /// Hand `event` to the subscriber, if any.
    pub(crate) fn send(&self, event: Event) {
        if let Some(s) = &self.0 {
            s(&event);
        }
    }

    /// An [`Event::Notice`] (its message built only when someone listens).
    pub(crate) fn notice(&self, message: impl Into<String>) {
        if self.0.is_some() {
            self.send(Event::Notice(message.into()));
        }
    }

    /// An [`Event::Rows`] with the counts so far.
    pub(crate) fn rows(&self, c: &batchport_state::Counters) {
        if self.0.is_some() {
            self.send(Event::Rows { read: c.rows_read, sent: c.rows_sent, rejected: c.rows_rejected });
        }
    }
}
