//! One row through a bound [`Transformer`]: its Custom ID, natives,
//! attributes and event written as JSON, or the column and reason that
//! reject it; and, for `changed_only`, the row's hashes without mapping it.

use super::{BoundAttr, BoundEvent, Field, Fields, Op, Problem, Reject, Transformer, json, member, native, value};
use crate::job::{self, Blank};
use batchport_source::{Cells, RawRow};

impl Transformer {
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

    /// `Op::row`: the row's fields and their bounds, hashed (0 unless the job's
    /// events have no time).
    pub(crate) fn row_hash(&self, cells: &impl Cells) -> u64 {
        if !self.hash_rows {
            return 0;
        }
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(cells.as_slice());
        for i in 0..cells.len() {
            h.update(&(cells.range(i).map_or(0, |r| r.end) as u64).to_le_bytes());
        }
        h.digest()
    }

    /// Map one row; the row's record moves into the operation or the reject.
    pub fn map_row(&self, row: RawRow) -> Result<Op, Reject> {
        if let Some(reason) = row.flaw {
            // The reader saw what the fields alone do not show.
            return Err(Reject { pos: row.pos, column: String::new(), reason, record: row.record });
        }
        match self.map_fields(&row.record) {
            Ok((key, attrs, event, dropped)) => {
                let hash = self.row_hash(&row.record);
                Ok(Op { key, pos: row.pos, attrs, event, record: row.record, change: None, dropped, row: hash })
            }
            Err((column, reason)) => Err(Reject { pos: row.pos, column, reason, record: row.record }),
        }
    }

    pub(super) fn map_fields(&self, rec: &impl Cells) -> Result<Fields, Problem> {
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
    pub(super) fn write_fields<'r, O: json::Out>(
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
        let row = native::Row { blank: self.blank, held, key: &key, needs_address: self.needs_address };
        let drop = self.drop_bad_values;
        native::write(&self.native, row, &mut obj, &cell, &reject, drop.then_some(&mut *dropped))?;
        self.write_attrs(&self.attrs, &mut obj, &cell, &reject, drop.then_some(&mut *dropped))?;
        obj.close();
        let event = match &self.event {
            Some(e) => Some(self.write_event(e, &cell, &reject, drop.then_some(&mut *dropped))?),
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

    /// The event object; a bad event attribute fails the row, or, with
    /// `dropped`, is left out of the event and listed (the event's identity,
    /// its name and time, always fails it).
    fn write_event<'r>(
        &self,
        e: &BoundEvent,
        cell: &impl Fn(&Field) -> Result<&'r str, Problem>,
        reject: &impl Fn(&str, String) -> Problem,
        mut dropped: Option<&mut Vec<Problem>>,
    ) -> Result<Vec<u8>, Problem> {
        let mut out = Vec::with_capacity(64);
        let mut obj = json::Object::open(&mut out);
        let snake;
        let name = match &e.name {
            Ok(f) => {
                let mut n = cell(f)?;
                if e.snake_case && !batchport_api::rules::is_valid_name(n) {
                    snake = value::snake_case(n);
                    n = &snake;
                }
                if !batchport_api::rules::is_valid_name(n) {
                    let hint =
                        if e.snake_case { "" } else { " (event_case = \"snake\" in [mapping] would write it so)" };
                    return Err(reject(
                        &f.header,
                        format!(
                            "`{}` is not an event name (a-z, 0-9 and _, at most 30 characters){hint}",
                            value::clip(cell(f)?)
                        ),
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
            self.write_attrs(&e.attrs, &mut inner, cell, reject, dropped.as_deref_mut())?;
            for (key, members) in &e.objects {
                let mut members_json = Vec::new();
                let mut o = json::Object::open(&mut members_json);
                self.write_attrs(members, &mut o, cell, reject, dropped.as_deref_mut())?;
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

/// `str::trim`, without decoding when the cell starts and ends with a visible
/// ASCII character (most cells of most files).
fn trim(s: &str) -> &str {
    match s.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        [only] if only.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// How a Custom ID cell becomes the ID sent: kept as it is (Batch's IDs are
/// whitespace sensitive) unless the job opts into trimming, then checked by
/// [`batchport_api::rules::check_custom_id`]. Takes the final cell value, so a
/// mapping that derives the ID (fallback columns, case) composes with it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CustomIdRule {
    pub trim: bool,
}

impl CustomIdRule {
    pub fn apply(self, cell: &str) -> Result<&str, String> {
        let id = if self.trim { cell.trim() } else { cell };
        batchport_api::rules::check_custom_id(id)?;
        Ok(id)
    }
}
