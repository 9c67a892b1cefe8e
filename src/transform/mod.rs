//! Row → operation for every kind of job, or a reject with its column and reason.
//! A `Transformer` is bound to one file's header once; rows are then mapped in
//! parallel on rayon, in chunks, and come back in input order.

pub mod json;
pub mod value;

use crate::job::{self, AttrMap, Blank, Column, EventName, Job, JobError, Mapping, NativeKind};
use crate::source::{Position, RawRow};
use rayon::prelude::*;
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

/// A row's fault: (column, reason).
type Problem = (String, String);
/// A row's key, attributes object and event object.
type Mapped = (String, Vec<u8>, Option<Vec<u8>>);

struct Field {
    index: usize,
    header: String,
}

struct BoundAttr {
    attr: AttrMap,
    /// `"wire_name":`
    key: Vec<u8>,
    field: Field,
}

struct BoundEvent {
    name: Result<Field, String>,
    time: Option<(Field, Option<String>)>,
    attrs: Vec<BoundAttr>,
}

/// A mapping bound to one header.
pub struct Transformer {
    width: usize,
    key: Field,
    key_label: &'static str,
    blank: Blank,
    strings: StringRules,
    native: Vec<(NativeKind, Vec<u8>, Field)>,
    attrs: Vec<BoundAttr>,
    event: Option<BoundEvent>,
}

impl Transformer {
    /// Bind `job`'s mapping to `headers` of `csv`: every mapped column must exist once.
    pub fn bind(job: &Job, headers: &[String], csv: &Path) -> Result<Transformer, JobError> {
        let field = |c: &Column| -> Result<Field, JobError> {
            let index = job::bind::find(headers, c, &job.file, csv)?;
            Ok(Field { index, header: headers[index].clone() })
        };
        let attrs = |list: &[AttrMap]| -> Result<Vec<BoundAttr>, JobError> {
            list.iter()
                .map(|a| {
                    Ok(BoundAttr { attr: a.clone(), key: json::key_bytes(&a.wire_name), field: field(&a.column)? })
                })
                .collect()
        };
        let natives = |p: &job::ProfileMapping| -> Result<Vec<(NativeKind, Vec<u8>, Field)>, JobError> {
            p.native
                .iter()
                .map(|n| Ok((n.kind.clone(), json::key_bytes(n.kind.wire_name()), field(&n.column)?)))
                .collect()
        };
        let base = |key: Field, key_label, blank, strings| Transformer {
            width: headers.len(),
            key,
            key_label,
            blank,
            strings,
            native: Vec::new(),
            attrs: Vec::new(),
            event: None,
        };
        Ok(match &job.mapping {
            Mapping::Profiles(p) => Transformer {
                native: natives(p)?,
                attrs: attrs(&p.attributes)?,
                ..base(field(&p.custom_id)?, "Custom ID", p.blank, value::PROFILE_STRINGS)
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
                let event = BoundEvent { name, time, attrs: attrs(&e.attributes)? };
                Transformer {
                    native: natives(&e.profile)?,
                    attrs: attrs(&e.profile.attributes)?,
                    event: Some(event),
                    ..base(field(&e.profile.custom_id)?, "Custom ID", e.profile.blank, value::PROFILE_STRINGS)
                }
            }
            Mapping::Audience(a) => Transformer {
                attrs: attrs(&a.attributes)?,
                ..base(field(&a.custom_id)?, "Custom ID", Blank::Ignore, value::PROFILE_STRINGS)
            },
            Mapping::Catalog(c) => Transformer {
                attrs: attrs(&c.attributes)?,
                ..base(field(&c.item_id)?, "item id", Blank::Ignore, value::CATALOG_STRINGS)
            },
            Mapping::Export(_) => {
                return Err(JobError::File { path: job.file.clone(), message: "an export job reads no CSV".into() });
            }
        })
    }

    /// Map a chunk of rows in parallel; the result is in input order.
    pub fn map_chunk(&self, rows: Vec<RawRow>) -> Vec<Result<Op, Reject>> {
        // A minimum task length amortises rayon's per-task cost over many small rows.
        rows.into_par_iter().with_min_len(256).map(|r| self.map_row(r)).collect()
    }

    /// Map one row; the row's record moves into the operation or the reject.
    pub fn map_row(&self, row: RawRow) -> Result<Op, Reject> {
        match self.map_fields(&row) {
            Ok((key, attrs, event)) => Ok(Op { key, pos: row.pos, attrs, event, record: row.record }),
            Err((column, reason)) => Err(Reject { pos: row.pos, column, reason, record: row.record }),
        }
    }

    fn map_fields(&self, row: &RawRow) -> Result<Mapped, Problem> {
        let reject = |column: &str, reason: String| (column.to_string(), reason);
        let rec = &row.record;
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
        let cell = |f: &Field| -> Result<&str, Problem> {
            let raw = &rec[f.index];
            std::str::from_utf8(raw).map(str::trim).map_err(|e| {
                reject(
                    &f.header,
                    format!(
                        "invalid UTF-8 at byte {} of the cell (is the file in another encoding? set source.encoding)",
                        e.valid_up_to()
                    ),
                )
            })
        };
        let key = cell(&self.key)?;
        if key.is_empty() {
            return Err(reject(&self.key.header, format!("the {} is blank", self.key_label)));
        }
        let mut attrs = Vec::with_capacity(32 + rec.as_slice().len() * 2);
        let mut obj = json::Object::open(&mut attrs);
        for (kind, k, f) in &self.native {
            let c = cell(f)?;
            if c.is_empty() {
                if self.blank == Blank::Clear {
                    obj.raw_key(k).extend_from_slice(b"null");
                }
                continue;
            }
            value::native(kind, c, obj.raw_key(k)).map_err(|m| reject(&f.header, m))?;
        }
        self.write_attrs(&self.attrs, &mut obj, &cell, &reject)?;
        obj.close();
        let event = match &self.event {
            Some(e) => Some(self.write_event(e, &cell, &reject)?),
            None => None,
        };
        Ok((key.to_string(), attrs, event))
    }

    fn write_attrs<'r>(
        &self,
        list: &[BoundAttr],
        obj: &mut json::Object<'_>,
        cell: &impl Fn(&Field) -> Result<&'r str, Problem>,
        reject: &impl Fn(&str, String) -> Problem,
    ) -> Result<(), Problem> {
        for b in list {
            let c = cell(&b.field)?;
            if c.is_empty() {
                // An empty add/remove has nothing to add or remove; null would
                // delete the whole array.
                let edit = matches!(
                    b.attr.ty,
                    job::ValueType::Array { mode: job::ArrayMode::Add | job::ArrayMode::Remove, .. }
                );
                if self.blank == Blank::Clear && !edit && self.event.is_none() {
                    obj.raw_key(&b.key).extend_from_slice(b"null");
                }
                continue;
            }
            value::typed(&b.attr.ty, c, self.strings, obj.raw_key(&b.key))
                .map_err(|m| reject(&b.field.header, format!("{}: {m}", b.attr.name)))?;
        }
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
                if !crate::api::rules::is_valid_name(n) {
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
                json::string(obj.key("time"), &time);
            }
        }
        if !e.attrs.is_empty() {
            let mut attrs = Vec::new();
            let mut inner = json::Object::open(&mut attrs);
            self.write_attrs(&e.attrs, &mut inner, cell, reject)?;
            inner.close();
            obj.key("attributes").extend_from_slice(&attrs);
        }
        obj.close();
        Ok(out)
    }
}
