//! Row → operation for every kind of job, or a reject with its column and reason.
//! A `Transformer` is bound to one file's header once; rows are then mapped in
//! parallel on rayon, in chunks, and come back in input order.
//!
//! The crate also reads job files ([`job`]): what a job maps is what the
//! transform does, and checking a job's constants takes the transform's
//! value rules, so the two live together.

mod binding;
mod chunk;
pub mod job;
pub mod json;
mod native;
pub mod optouts;
pub mod places;
mod row;
pub mod value;
mod zones;

pub use chunk::{ChangeLookup, Checked};
pub use json::Subscriptions;
pub use native::is_set;

use crate::job::{AttrMap, Blank};
use batchport_source::Position;
use row::CustomIdRule;
use value::StringRules;

/// One row turned into what Batch will receive, before batching wraps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// Custom ID (profiles, events, audiences) or item id (catalogs).
    pub key: String,
    /// Where the row starts in the file.
    pub pos: Position,
    /// A JSON object: the attributes to set (may be `{}`).
    pub attrs: Vec<u8>,
    /// A JSON event object, for events jobs.
    pub event: Option<Vec<u8>>,
    /// The source row, kept for the rejects or uncertain file should the API
    /// refuse the operation or its outcome be unknown.
    pub record: csv::ByteRecord,
    /// `changed_only`: (id hash, row hash) to record in the change index once
    /// Batch acknowledges the operation (see [`Transformer::change_pair`]).
    pub change: Option<(u64, u64)>,
    /// Values left out of the operation because they were bad (column,
    /// reason), with `on_bad_value = "drop"`: reported once the row is sent.
    pub dropped: Vec<(String, String)>,
    /// A hash of the source row's fields, for events without a time (0
    /// otherwise): Batch stamps such an event when it arrives, so the row it
    /// came from is part of what tells it from another (the event index).
    pub row: u64,
}

/// What a row became: an operation, a reject, or (`changed_only`) nothing to
/// do because Batch already has exactly this row's operation.
#[derive(Debug)]
pub enum Mapped {
    /// An operation to send.
    Op(Op),
    /// A row that cannot be sent.
    Reject(Reject),
    /// A row whose operation Batch already has (`changed_only`): nothing to send.
    Unchanged(Position),
    /// `rows` consecutive unchanged rows, from `first` to `last`, not read
    /// (see `pipeline::for_each_chunk_delta`).
    UnchangedRun {
        /// The first row of the run.
        first: Position,
        /// The last row of the run.
        last: Position,
        /// How many rows the run holds.
        rows: u64,
    },
}

impl Mapped {
    /// Where the row (a run: its first row) starts.
    pub fn pos(&self) -> Position {
        match self {
            Mapped::Op(o) => o.pos,
            Mapped::Reject(r) => r.pos,
            Mapped::Unchanged(p) | Mapped::UnchangedRun { first: p, .. } => *p,
        }
    }
}

impl From<Result<Op, Reject>> for Mapped {
    fn from(r: Result<Op, Reject>) -> Self {
        match r {
            Ok(op) => Mapped::Op(op),
            Err(rej) => Mapped::Reject(rej),
        }
    }
}

impl Op {
    /// What the change index keeps of the operation's content (attributes and
    /// event): equal hashes mean the row would send the same thing again.
    pub fn content_hash(&self) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(&self.attrs);
        if let Some(e) = &self.event {
            h.update(b"\0");
            h.update(e);
        }
        h.digest()
    }
}

/// A row that cannot be sent, with the original record for the rejects file.
#[derive(Debug, Clone)]
pub struct Reject {
    /// Where the row starts in the file.
    pub pos: Position,
    /// The CSV column at fault (its header name), or empty for the whole row.
    pub column: String,
    /// Why the row cannot be sent, for people.
    pub reason: String,
    /// The source row, for the rejects file.
    pub record: csv::ByteRecord,
}

/// Write one member of `obj` with `write`. A bad value is taken back out and
/// listed in `dropped` when given (`on_bad_value = "drop"`); else it fails
/// the row.
fn member<O: json::Out>(
    obj: &mut json::Object<'_, O>,
    dropped: &mut Option<&mut Vec<Problem>>,
    write: impl FnOnce(&mut json::Object<'_, O>) -> Result<(), Problem>,
) -> Result<(), Problem> {
    let at = obj.checkpoint();
    match (write(obj), dropped.as_deref_mut()) {
        (Err(p), Some(list)) => {
            obj.restore(at);
            list.push(p);
            Ok(())
        }
        (r, _) => r,
    }
}

/// The rejects-file line of a sent row whose bad values were left out
/// (`on_bad_value = "drop"`): the columns and reasons, `; `-separated. The
/// row was sent: re-importing the line once fixed sends it again whole.
pub fn dropped_line(pos: Position, record: csv::ByteRecord, dropped: &[(String, String)]) -> Reject {
    let column = dropped.iter().map(|d| d.0.as_str()).collect::<Vec<_>>().join("; ");
    let reasons = dropped.iter().map(|d| d.1.as_str()).collect::<Vec<_>>().join("; ");
    let reason = format!("sent without this value (left out: {reasons})");
    Reject { pos, column, reason, record }
}

/// A row's fault: (column, reason).
type Problem = (String, String);
/// A row's key, attributes object, event object and the values dropped.
type Fields = (String, Vec<u8>, Option<Vec<u8>>, Vec<Problem>);

struct Field {
    index: usize,
    header: String,
}

struct BoundAttr {
    attr: AttrMap,
    /// `"wire_name":`
    key: Vec<u8>,
    /// `None` for a constant (`attr.constant`).
    field: Option<Field>,
    /// The text limits of this attribute's values.
    strings: StringRules,
}

struct BoundEvent {
    name: Result<Field, String>,
    /// `event_case = "snake"`.
    snake_case: bool,
    time: Option<(Field, Option<String>)>,
    attrs: Vec<BoundAttr>,
    /// `object.member` attributes, grouped by object: `"object":` and members.
    objects: Vec<(Vec<u8>, Vec<BoundAttr>)>,
    /// Events older than this or in the future are rejects.
    max_age: Option<chrono::Duration>,
}

/// A mapping bound to one header.
pub struct Transformer {
    width: usize,
    /// Every column the mapping reads, key first, in mapping order: what a
    /// row's change-index hash covers.
    hashed: Vec<usize>,
    /// What the mapping does with those columns (names, types, rules): part
    /// of every row hash, so that editing the mapping sends every row again.
    fingerprint: u64,
    /// Bytes of the attribute keys (`"name":` and commas) of one operation.
    keys_len: usize,
    key: Field,
    key_label: &'static str,
    /// Custom IDs are checked (and trimmed only when the job says so); item ids
    /// are trimmed.
    custom_id: Option<CustomIdRule>,
    blank: Blank,
    /// Every Custom ID column, tried in order (`key` is the first).
    id: native::BoundId,
    native: Vec<native::BoundNative>,
    attrs: Vec<BoundAttr>,
    event: Option<BoundEvent>,
    /// People with an opt-out row, when their rows span several lines (see `optouts`).
    opt_outs: Option<std::sync::Arc<optouts::OptOuts>>,
    /// `on_bad_value = "drop"`: a bad native or attribute value is left out
    /// of the operation, not the reason to reject the row.
    drop_bad_values: bool,
    /// `subscribed_needs_address`: no `subscribed` without the address.
    needs_address: bool,
    /// Whether an operation keeps a copy of its source row. Not needed when
    /// the file can be read again at the row's offset (settling does, for the
    /// few rows that end in a report): the copy was most of an operation's
    /// allocations.
    keep_records: bool,
    /// Events without a time: each operation carries its row's hash.
    hash_rows: bool,
}
