//! Row → operation for every kind of job, or a reject with its column and reason.
//! A `Transformer` is bound to one file's header once; rows are then mapped in
//! parallel on rayon, in chunks, and come back in input order.
//!
//! The crate also reads job files ([`job`]): what a job maps is what the
//! transform does, and checking a job's constants takes the transform's
//! value rules, so the two live together.

mod chunk;
pub mod job;
pub use chunk::{ChangeLookup, Checked};
pub use json::Subscriptions;
pub mod json;
mod native;
pub mod optouts;
pub mod places;
pub mod value;
mod zones;

pub use native::is_set;

use crate::job::{AttrMap, Blank, Column, EventName, Job, JobError, Mapping};
use batchport_source::{Cells, Position, RawRow};
use std::path::Path;
use value::StringRules;

/// One row turned into what Batch will receive, before batching wraps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// Custom ID (profiles, events, audiences) or item id (catalogs).
    pub key: String,
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
}

/// What a row became: an operation, a reject, or (`changed_only`) nothing to
/// do because Batch already has exactly this row's operation.
#[derive(Debug)]
pub enum Mapped {
    Op(Op),
    Reject(Reject),
    Unchanged(Position),
    /// `rows` consecutive unchanged rows, from `first` to `last`, not read
    /// (see `pipeline::for_each_chunk_delta`).
    UnchangedRun {
        first: Position,
        last: Position,
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
    pub pos: Position,
    /// The CSV column at fault (its header name), or empty for the whole row.
    pub column: String,
    pub reason: String,
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

/// `str::trim`, without decoding when the cell starts and ends with a visible
/// ASCII character (most cells of most files).
fn trim(s: &str) -> &str {
    match s.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        [only] if only.is_ascii_graphic() => s,
        _ => s.trim(),
    }
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
    /// Whether an operation keeps a copy of its source row. Not needed when
    /// the file can be read again at the row's offset (settling does, for the
    /// few rows that end in a report): the copy was most of an operation's
    /// allocations.
    keep_records: bool,
}

impl Transformer {
    /// Operations from now on carry an empty source row: the caller reads
    /// the row again at its offset if it ever needs it.
    pub fn without_records(mut self) -> Self {
        self.keep_records = false;
        self
    }

    /// Bind `job`'s mapping to `headers` of `csv`: every mapped column must
    /// exist once. A job whose people span several rows (see `optouts`)
    /// reads `csv` whole first, for who opted out; a run over several files
    /// reads them all once instead (`optouts::of_run`, then
    /// [`Transformer::bind_rows`] and [`Transformer::with_opt_outs`]).
    pub fn bind(job: &Job, headers: &[String], csv: &Path) -> Result<Transformer, JobError> {
        let t = Self::bind_mapping(job, headers, csv)?;
        let held = optouts::of_file(job, csv)?;
        Ok(t.with_opt_outs(held))
    }

    /// Use `held` (who opted out over the run's whole input, see `optouts`).
    pub fn with_opt_outs(mut self, held: Option<std::sync::Arc<optouts::OptOuts>>) -> Transformer {
        self.opt_outs = held;
        self
    }

    /// `bind` without reading the file ahead for opt-outs: each row is mapped
    /// on its own. For checks that need no opt-outs (`init`'s sample, a check
    /// of every file's header before a run); sending must use `bind`.
    pub fn bind_rows(job: &Job, headers: &[String], csv: &Path) -> Result<Transformer, JobError> {
        Self::bind_mapping(job, headers, csv)
    }

    fn bind_mapping(job: &Job, headers: &[String], csv: &Path) -> Result<Transformer, JobError> {
        let field = |c: &Column| -> Result<Field, JobError> {
            let index = job::bind::find(headers, c, &job.file, csv)?;
            Ok(Field { index, header: headers[index].clone() })
        };
        let catalog = matches!(job.mapping, Mapping::Catalog(_));
        let bound = |a: &AttrMap, wire: &str| -> Result<BoundAttr, JobError> {
            let strings = match a.name.as_str() {
                _ if catalog => value::CATALOG_STRINGS,
                "$label" if matches!(job.mapping, Mapping::Events(_)) => value::LABEL_STRINGS,
                "$tags" if matches!(job.mapping, Mapping::Events(_)) => value::TAGS_STRINGS,
                _ => value::PROFILE_STRINGS,
            };
            let f = if a.constant.is_some() { None } else { Some(field(&a.column)?) };
            Ok(BoundAttr { attr: a.clone(), key: json::key_bytes(wire), field: f, strings })
        };
        let attrs = |list: &[AttrMap]| -> Result<Vec<BoundAttr>, JobError> {
            list.iter().map(|a| bound(a, &a.wire_name)).collect()
        };
        let natives = |p: &job::ProfileMapping| -> Result<Vec<native::BoundNative>, JobError> {
            for n in &p.native {
                job::bind::check_unless(headers, n, &job.file, csv)?;
            }
            p.native.iter().map(|n| native::BoundNative::bind(n, &field)).collect()
        };
        let ids = |cols: &[job::IdColumn]| -> Result<native::BoundId, JobError> {
            let fields = cols.iter().map(|c| Ok((field(&c.column)?, c.lowercase))).collect::<Result<_, JobError>>()?;
            Ok(native::BoundId { fields })
        };
        let custom_id = Some(CustomIdRule { trim: job.custom_id_trim });
        let base = |key: Field, key_label, blank| Transformer {
            width: headers.len(),
            hashed: Vec::new(),
            fingerprint: 0,
            keys_len: 0,
            keep_records: true,
            id: native::BoundId { fields: vec![(Field { index: key.index, header: key.header.clone() }, false)] },
            key,
            key_label,
            custom_id,
            blank,
            native: Vec::new(),
            attrs: Vec::new(),
            event: None,
            opt_outs: None,
            drop_bad_values: false,
        };
        let mut t = match &job.mapping {
            Mapping::Profiles(p) => Transformer {
                id: ids(&p.id_columns)?,
                native: natives(p)?,
                attrs: attrs(&p.attributes)?,
                drop_bad_values: p.drop_bad_values,
                ..base(field(&p.custom_id)?, "Custom ID", p.blank)
            },
            Mapping::Events(e) => {
                let name = match &e.name {
                    EventName::Column(c) => Ok(field(c)?),
                    EventName::Constant(n) => Err(n.clone()),
                };
                let time = match &e.time {
                    Some((c, f)) => Some((field(c)?, f.clone())),
                    None => None,
                };
                let (plain, dotted): (Vec<&AttrMap>, Vec<&AttrMap>) =
                    e.attributes.iter().partition(|a| !a.name.contains('.'));
                let mut objects: Vec<(Vec<u8>, Vec<BoundAttr>)> = Vec::new();
                for a in dotted {
                    let (object, member) = a.name.split_once('.').unwrap_or_default();
                    let wire = match a.ty {
                        job::ValueType::Date { .. } => format!("date({member})"),
                        job::ValueType::Url => format!("url({member})"),
                        _ => member.to_string(),
                    };
                    let key = json::key_bytes(object);
                    let b = bound(a, &wire)?;
                    match objects.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, members)) => members.push(b),
                        None => objects.push((key, vec![b])),
                    }
                }
                let plain = plain.into_iter().map(|a| bound(a, &a.wire_name)).collect::<Result<_, _>>()?;
                let event = BoundEvent { name, time, attrs: plain, objects, max_age: job.api.event_max_age };
                Transformer {
                    id: ids(&e.profile.id_columns)?,
                    native: natives(&e.profile)?,
                    attrs: attrs(&e.profile.attributes)?,
                    drop_bad_values: e.profile.drop_bad_values,
                    event: Some(event),
                    ..base(field(&e.profile.custom_id)?, "Custom ID", e.profile.blank)
                }
            }
            Mapping::Audience(a) => Transformer {
                id: ids(&a.id_columns)?,
                attrs: attrs(&a.attributes)?,
                ..base(field(&a.custom_id)?, "Custom ID", Blank::Ignore)
            },
            Mapping::Catalog(c) => Transformer {
                attrs: attrs(&c.attributes)?,
                custom_id: None,
                ..base(field(&c.item_id)?, "item id", Blank::Ignore)
            },
            Mapping::Export(_) => {
                return Err(JobError::File { path: job.file.clone(), message: "an export job reads no CSV".into() });
            }
        };
        t.bind_hash(job);
        Ok(t)
    }

    /// Fill `hashed` and `fingerprint` from the bound fields.
    fn bind_hash(&mut self, job: &Job) {
        use std::fmt::Write as _;
        let mut fp = format!("batchport row hash v1|{}|{}|{:?}", job.kind.as_str(), self.key_label, self.blank);
        // Every cell the operation can depend on is hashed, and every constant
        // or rule is in the fingerprint: an equal hash must mean an equal operation
        // (a changed suppression column must never look unchanged).
        self.hashed.push(self.key.index);
        for (f, lower) in &self.id.fields {
            let _ = write!(fp, "|id:{lower}");
            self.hashed.push(f.index);
        }
        for n in &self.native {
            let _ = write!(fp, "|n:{:?}:{:?}:{:?}", n.kind, n.constant, n.region);
            let fields = n.field.iter().chain(n.when.as_ref().map(|(f, _)| f)).chain(&n.suppressed_by);
            for f in fields.chain(&n.region_field) {
                self.hashed.push(f.index);
            }
            if let Some((_, values)) = &n.when {
                let _ = write!(fp, ":when{values:?}");
            }
            let _ = write!(fp, ":s{}", n.suppressed_by.len());
            // Only when used: the fingerprint of every other job stays as it was.
            for (f, w) in &n.suppressed_when {
                let _ = write!(fp, ":sw{}{:?}", w.except, w.values);
                self.hashed.push(f.index);
            }
        }
        let attrs = |fp: &mut String, hashed: &mut Vec<usize>, list: &[BoundAttr]| {
            for b in list {
                let _ = write!(fp, "|a:{:?}:{:?}", b.attr, b.strings);
                if let Some(f) = &b.field {
                    hashed.push(f.index);
                }
            }
        };
        attrs(&mut fp, &mut self.hashed, &self.attrs);
        if let Some(e) = &self.event {
            match &e.name {
                Ok(f) => self.hashed.push(f.index),
                Err(constant) => {
                    let _ = write!(fp, "|e:{constant}");
                }
            }
            if let Some((f, format)) = &e.time {
                let _ = write!(fp, "|t:{format:?}");
                self.hashed.push(f.index);
            }
            attrs(&mut fp, &mut self.hashed, &e.attrs);
        }
        self.fingerprint = xxhash_rust::xxh3::xxh3_64(fp.as_bytes());
        self.keys_len = self.native.iter().map(|n| n.key.len() + 1).sum::<usize>()
            + self.attrs.iter().map(|b| b.key.len() + 1).sum::<usize>();
    }

    /// `changed_only`: the row's (id hash, row hash), or `None` when the row
    /// has no usable key (the transform then rejects it). The row hash covers
    /// the raw bytes of every mapped cell and the mapping itself: the
    /// transform is a pure function of both, so an equal hash means an equal
    /// operation, found without transforming. `buf` is scratch space.
    pub fn change_pair(&self, rec: &impl Cells, buf: &mut Vec<u8>) -> Option<(u64, u64)> {
        if rec.len() != self.width {
            return None;
        }
        // The first non-blank id column, as the transform picks it, and as it
        // is sent (lowercased if its column says so): one person, one pair.
        let (key, lower) = self
            .id
            .fields
            .iter()
            .map(|(f, lower)| (trim(std::str::from_utf8(rec.field(f.index)).unwrap_or("")), *lower))
            .find(|(k, _)| !k.is_empty())?;
        let key: std::borrow::Cow<str> = if lower && (key.bytes().any(|b| b.is_ascii_uppercase()) || !key.is_ascii()) {
            key.to_lowercase().into()
        } else {
            key.into()
        };
        buf.clear();
        for &i in &self.hashed {
            let cell = rec.field(i);
            buf.extend_from_slice(&(cell.len() as u32).to_le_bytes());
            buf.extend_from_slice(cell);
        }
        // Whether another row of this person opted out changes the operation.
        let seed = match &self.opt_outs {
            Some(o) => {
                let (e, s) = o.held(&key);
                self.fingerprint ^ (u64::from(e) | u64::from(s) << 1)
            }
            None => self.fingerprint,
        };
        let row = xxhash_rust::xxh3::xxh3_64_with_seed(buf, seed);
        // The change index keys an ID by xxh3 of the ID as sent (state's
        // `ChangeIndex::id_hash`; the stored indexes depend on it).
        Some((xxhash_rust::xxh3::xxh3_64(key.as_bytes()), row))
    }

    /// Map one row; the row's record moves into the operation or the reject.
    pub fn map_row(&self, row: RawRow) -> Result<Op, Reject> {
        if let Some(reason) = row.flaw {
            // The reader saw what the fields alone do not show.
            return Err(Reject { pos: row.pos, column: String::new(), reason, record: row.record });
        }
        match self.map_fields(&row.record) {
            Ok((key, attrs, event, dropped)) => {
                Ok(Op { key, pos: row.pos, attrs, event, record: row.record, change: None, dropped })
            }
            Err((column, reason)) => Err(Reject { pos: row.pos, column, reason, record: row.record }),
        }
    }

    fn map_fields(&self, rec: &impl Cells) -> Result<Fields, Problem> {
        // Sized for the whole object at once: growing it was 5% of the transform.
        // Twice the row's bytes covers quotes, commas and dates grown to RFC
        // 3339 (at a quarter more, most rows still grew on their last array).
        let mut attrs = Vec::with_capacity(self.keys_len + 32 + rec.as_slice().len() * 2);
        let mut dropped = Vec::new();
        let (key, event) = self.write_fields(rec, &mut attrs, &mut dropped)?;
        Ok((key.into_owned(), attrs, event, dropped))
    }

    /// The row's key, its attributes object written into `attrs`, and its
    /// event object (events jobs).
    fn write_fields<'r, O: json::Out>(
        &self,
        rec: &'r impl Cells,
        attrs: &mut O,
        dropped: &mut Vec<Problem>,
    ) -> Result<(std::borrow::Cow<'r, str>, Option<Vec<u8>>), Problem> {
        let reject = |column: &str, reason: String| (column.to_string(), reason);
        if rec.len() != self.width {
            return Err(reject(
                "",
                format!(
                    "the row has {} fields where the header has {} (a stray delimiter or quote?)",
                    rec.len(),
                    self.width
                ),
            ));
        }
        // One UTF-8 check for the whole record instead of one per cell: a cell
        // is then a slice of it, valid if it starts and ends on a character
        // boundary (if not, the input is invalid: the cell's own check says where).
        let whole = std::str::from_utf8(rec.as_slice()).ok();
        let cell = |f: &Field| -> Result<&'r str, Problem> {
            if let Some(s) = whole.zip(rec.range(f.index)).and_then(|(w, r)| w.get(r)) {
                return Ok(trim(s));
            }
            let raw = rec.field(f.index);
            std::str::from_utf8(raw).map(trim).map_err(|e| {
                reject(
                    &f.header,
                    format!(
                        "invalid UTF-8 at byte {} of the cell (is the file in another encoding? set source.encoding)",
                        e.valid_up_to()
                    ),
                )
            })
        };
        // Each id column as the rule reads it; a blank one falls through to the next.
        let id_cell = |f: &Field| -> Result<&'r str, Problem> {
            match &self.custom_id {
                Some(rule) => {
                    let raw = match whole.zip(rec.range(f.index)).and_then(|(w, r)| w.get(r)) {
                        Some(s) => s,
                        None => std::str::from_utf8(rec.field(f.index)).map_err(|_| {
                            reject(&f.header, "invalid UTF-8 in the Custom ID (set source.encoding)".into())
                        })?,
                    };
                    if raw.trim().is_empty() {
                        return Ok("");
                    }
                    rule.apply(raw).map_err(|m| reject(&f.header, m))
                }
                None => cell(f),
            }
        };
        let Some(key) = self.id.read(&id_cell)? else {
            return Err(reject(&self.key.header, self.blank_key()));
        };
        let mut obj = json::Object::open(attrs);
        let held = self.opt_outs.as_ref().map_or((false, false), |o| o.held(&key));
        let row = native::Row { blank: self.blank, held, key: &key };
        let drop = self.drop_bad_values;
        native::write(&self.native, row, &mut obj, &cell, &reject, drop.then_some(&mut *dropped))?;
        self.write_attrs(&self.attrs, &mut obj, &cell, &reject, drop.then_some(&mut *dropped))?;
        obj.close();
        let event = match &self.event {
            Some(e) => Some(self.write_event(e, &cell, &reject)?),
            None => None,
        };
        Ok((key, event))
    }

    /// "the Custom ID is blank", naming the fallbacks when there are some.
    fn blank_key(&self) -> String {
        match self.id.fields.len() {
            0 | 1 => format!("the {} is blank", self.key_label),
            _ => {
                let cols: Vec<&str> = self.id.fields.iter().map(|(f, _)| f.header.as_str()).collect();
                format!("the {} is blank in every id column ({})", self.key_label, cols.join(", "))
            }
        }
    }

    /// The attributes of `list` into `obj`. A bad value fails the row, or,
    /// with `dropped` (`on_bad_value = "drop"`), is left out and listed.
    fn write_attrs<'r, O: json::Out>(
        &self,
        list: &[BoundAttr],
        obj: &mut json::Object<'_, O>,
        cell: &impl Fn(&Field) -> Result<&'r str, Problem>,
        reject: &impl Fn(&str, String) -> Problem,
        mut dropped: Option<&mut Vec<Problem>>,
    ) -> Result<(), Problem> {
        for b in list {
            member(obj, &mut dropped, |obj| self.write_attr(b, obj, cell, reject))?;
        }
        Ok(())
    }

    fn write_attr<'r, O: json::Out>(
        &self,
        b: &BoundAttr,
        obj: &mut json::Object<'_, O>,
        cell: &impl Fn(&Field) -> Result<&'r str, Problem>,
        reject: &impl Fn(&str, String) -> Problem,
    ) -> Result<(), Problem> {
        let (c, header): (&str, &str) = match (&b.field, &b.attr.constant) {
            (Some(f), _) => (cell(f)?, &f.header),
            (None, Some(k)) => (k, ""),
            (None, None) => return Ok(()),
        };
        if c.is_empty() || value::no_items(&b.attr.ty, c) {
            // An empty add/remove has nothing to add or remove; null would
            // delete the whole array.
            let edit =
                matches!(b.attr.ty, job::ValueType::Array { mode: job::ArrayMode::Add | job::ArrayMode::Remove, .. });
            if self.blank == Blank::Clear && !edit && self.event.is_none() {
                obj.raw_key(&b.key).extend_from_slice(b"null");
            }
            return Ok(());
        }
        value::typed(&b.attr.ty, c, b.strings, obj.raw_key(&b.key))
            .map_err(|m| reject(header, format!("{}: {m}", b.attr.name)))?;
        Ok(())
    }

    fn write_event<'r>(
        &self,
        e: &BoundEvent,
        cell: &impl Fn(&Field) -> Result<&'r str, Problem>,
        reject: &impl Fn(&str, String) -> Problem,
    ) -> Result<Vec<u8>, Problem> {
        let mut out = Vec::with_capacity(64);
        let mut obj = json::Object::open(&mut out);
        let name = match &e.name {
            Ok(f) => {
                let n = cell(f)?;
                if !batchport_api::rules::is_valid_name(n) {
                    return Err(reject(
                        &f.header,
                        format!("`{}` is not an event name (a-z, 0-9 and _, at most 30 characters)", value::clip(n)),
                    ));
                }
                n
            }
            Err(constant) => constant.as_str(),
        };
        json::string(obj.key("name"), name);
        if let Some((f, format)) = &e.time {
            let t = cell(f)?;
            if !t.is_empty() {
                let time =
                    value::parse_date(t, format.as_deref()).map_err(|m| reject(&f.header, format!("time: {m}")))?;
                if let Some(at) = chrono::DateTime::parse_from_rfc3339(&time).ok().filter(|_| e.max_age.is_some()) {
                    batchport_api::check::event_time(at.to_utc(), chrono::Utc::now(), e.max_age)
                        .map_err(|m| reject(&f.header, m))?;
                }
                json::string(obj.key("time"), &time);
            }
        }
        if !e.attrs.is_empty() || !e.objects.is_empty() {
            let mut attrs = Vec::new();
            let mut inner = json::Object::open(&mut attrs);
            self.write_attrs(&e.attrs, &mut inner, cell, reject, None)?;
            for (key, members) in &e.objects {
                let mut members_json = Vec::new();
                let mut o = json::Object::open(&mut members_json);
                self.write_attrs(members, &mut o, cell, reject, None)?;
                // An object whose cells are all blank is left out, like a blank cell.
                if !o.is_empty() {
                    o.close();
                    inner.raw_key(key).extend_from_slice(&members_json);
                }
            }
            inner.close();
            obj.key("attributes").extend_from_slice(&attrs);
        }
        obj.close();
        Ok(out)
    }
}

/// How a Custom ID cell becomes the ID sent: kept as it is (Batch's IDs are
/// whitespace sensitive) unless the job opts into trimming, then checked by
/// [`batchport_api::rules::check_custom_id`]. Takes the final cell value, so a
/// mapping that derives the ID (fallback columns, case) composes with it.
#[derive(Debug, Clone, Copy)]
pub struct CustomIdRule {
    pub trim: bool,
}

impl CustomIdRule {
    pub fn apply(self, cell: &str) -> Result<&str, String> {
        let id = if self.trim { cell.trim() } else { cell };
        batchport_api::rules::check_custom_id(id)?;
        Ok(id)
    }
}
