//! Binding a job's mapping to one file's header: every mapped column found
//! once, its rules and JSON keys prepared, and what a row's change-index
//! hash covers fixed, so that mapping a row is only reading its cells.

use super::{BoundAttr, BoundEvent, CustomIdRule, Field, Transformer, json, native, optouts, value};
use crate::job::{self, AttrMap, Blank, Column, EventName, Job, JobError, Mapping};
use std::path::Path;

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
            needs_address: true,
            hash_rows: matches!(&job.mapping, Mapping::Events(e) if !e.has_time()),
        };
        let mut t = match &job.mapping {
            Mapping::Profiles(p) => Transformer {
                id: ids(&p.id_columns)?,
                native: natives(p)?,
                attrs: attrs(&p.attributes)?,
                drop_bad_values: p.drop_bad_values,
                needs_address: p.subscribed_needs_address,
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
                let event = BoundEvent {
                    name,
                    snake_case: e.snake_case,
                    time,
                    attrs: plain,
                    objects,
                    max_age: job.api.event_max_age,
                };
                Transformer {
                    id: ids(&e.profile.id_columns)?,
                    native: natives(&e.profile)?,
                    attrs: attrs(&e.profile.attributes)?,
                    drop_bad_values: e.profile.drop_bad_values,
                    needs_address: e.profile.subscribed_needs_address,
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
            if e.snake_case {
                fp.push_str("|ec:snake");
            }
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
}
