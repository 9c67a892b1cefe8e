//! The `[mapping]` of each kind, and the kind sections (`[audience]`,
//! `[catalog]`, `[export]`): columns, typed attributes and their rules.

use super::error::JobError;
use super::file::*;
use super::resolve::{Resolver, one_of};
use super::settings::*;
use batchport_api::rules;
use toml::Spanned;

impl Resolver<'_> {
    pub(super) fn profile(&self, m: &MappingSection, need_something: bool) -> Result<ProfileMapping, JobError> {
        let id_columns = self.id_columns("mapping.custom_id", &m.custom_id)?;
        let custom_id = id_columns[0].column.clone();
        let blank = match &m.blank {
            None => Blank::Ignore,
            Some(b) => match b.get_ref().as_str() {
                "ignore" => Blank::Ignore,
                "clear" => Blank::Clear,
                other => return self.err(b.span(), format!("mapping.blank {}", one_of(other, &["ignore", "clear"]))),
            },
        };
        let opt_outs_per_person = match &m.opt_outs {
            None => false,
            Some(o) => match o.get_ref().as_str() {
                "row" => false,
                "person" => true,
                other => return self.err(o.span(), format!("mapping.opt_outs {}", one_of(other, &["row", "person"]))),
            },
        };
        let drop_bad_values = match &m.on_bad_value {
            None => true,
            Some(o) => match o.get_ref().as_str() {
                "drop" => true,
                "reject_row" => false,
                other => {
                    return self
                        .err(o.span(), format!("mapping.on_bad_value {}", one_of(other, &["drop", "reject_row"])));
                }
            },
        };
        let mut native = Vec::new();
        if let Some(n) = &m.native {
            let plain = [
                (&n.email_address, "email_address", NativeKind::Email),
                (&n.phone_number, "phone_number", NativeKind::Phone),
                (&n.language, "language", NativeKind::Language),
                (&n.region, "region", NativeKind::Region),
                (&n.timezone, "timezone", NativeKind::Timezone),
            ];
            for (spec, key, kind) in plain {
                if let Some(s) = spec {
                    native.push(self.native_entry(&format!("mapping.native.{key}"), kind, s)?);
                }
            }
            for (spec, key, email) in
                [(&n.email_marketing, "email_marketing", true), (&n.sms_marketing, "sms_marketing", false)]
            {
                if let Some(v) = spec {
                    native.push(self.subscription_entry(&format!("mapping.native.{key}"), email, v)?);
                }
            }
        }
        let attributes = self.attributes("mapping.attributes", m.attributes.as_ref(), Names::Profile)?;
        let count = native.len() + attributes.len();
        if count > rules::MAX_ATTRIBUTES {
            let span = m
                .attributes
                .as_ref()
                .and_then(|a| a.keys().nth(rules::MAX_ATTRIBUTES - native.len().min(50)))
                .map(|k| k.span())
                .unwrap_or(0..0);
            return self.err(
                span,
                format!("{count} attributes are mapped; Batch takes at most {} per profile", rules::MAX_ATTRIBUTES),
            );
        }
        if need_something && count == 0 {
            return Err(self
                .lines
                .file("the mapping sends nothing: add [mapping.native] or [mapping.attributes] entries"));
        }
        Ok(ProfileMapping {
            custom_id,
            id_columns,
            blank,
            changed_only: m.changed_only.unwrap_or(false),
            opt_outs_per_person,
            drop_bad_values,
            subscribed_needs_address: m.subscribed_needs_address.unwrap_or(true),
            native,
            attributes,
        })
    }

    /// Decodes an attribute table by the name rules of `names`.
    fn attributes(
        &self,
        section: &str,
        map: Option<&std::collections::BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
        names: Names,
    ) -> Result<Vec<AttrMap>, JobError> {
        let event = names == Names::Event;
        let mut out = Vec::new();
        let Some(map) = map else { return Ok(out) };
        let mut entries: Vec<_> = map.iter().collect();
        // Keep the file's order: error messages and the wire then follow it.
        entries.sort_by_key(|(k, _)| k.span().start);
        for (name, value) in entries {
            let n = name.get_ref().as_str();
            let key = format!("{section}.{n}");
            let reserved = event && (n == "$label" || n == "$tags");
            let valid = match names {
                Names::Catalog => batchport_api::check::is_valid_catalog_name(n),
                // `product.name`: a member of the event attribute object `product`.
                Names::Event => n
                    .split_once('.')
                    .map_or(rules::is_valid_name(n), |(o, m)| rules::is_valid_name(o) && rules::is_valid_name(m)),
                Names::Profile => rules::is_valid_name(n),
            };
            if !reserved && !valid {
                return self.err(
                    name.span(),
                    match names {
                        Names::Catalog => format!("`{key}`: catalog attribute names use only a-z, 0-9 and _, at most 250 characters"),
                        Names::Event => format!("`{key}`: event attribute names use only a-z, 0-9 and _, at most 30 characters, or `object.member` ($label and $tags are the reserved ones)"),
                        Names::Profile => format!("`{key}`: Batch attribute names use only a-z, 0-9 and _, at most 30 characters"),
                    },
                );
            }
            if !event && n.contains('.') {
                return self.err(name.span(), format!("`{key}`: dotted names are for event attributes"));
            }
            let line = self.lines.line(value.span().start);
            let (column, ty, constant) = match value.get_ref() {
                toml::Value::String(c) => {
                    (Column { name: c.trim().to_string(), key: key.clone(), line }, ValueType::String, None)
                }
                other => {
                    let t: AttrTable = other
                        .clone()
                        .try_into()
                        .or_else(|e: toml::de::Error| self.err(value.span(), format!("{key}: {}", e.message())))?;
                    let ty = self.value_type(&key, value.span(), &t)?;
                    let (column, constant) = self.column_or_value(&key, line, t.column, t.value, value)?;
                    if let Some(c) = &constant {
                        let mut out = Vec::new();
                        crate::value::typed(&ty, c, crate::value::PROFILE_STRINGS, &mut out)
                            .or_else(|m| self.err(value.span(), format!("{key}: value: {m}")))?;
                    }
                    (column, ty, constant)
                }
            };
            if column.name.is_empty() {
                return self.err(value.span(), format!("{key}: the column name is empty"));
            }
            if n == "$label" && ty != ValueType::String {
                return self.err(value.span(), format!("{key}: $label is a string"));
            }
            if n == "$tags" && !matches!(ty, ValueType::Array { mode: ArrayMode::Replace, .. }) {
                return self.err(value.span(), format!("{key}: $tags is an array (type = \"array\")"));
            }
            if ty == ValueType::Json && !event {
                return self.err(value.span(), format!("{key}: type = \"json\" is for event attributes"));
            }
            let wire_name = match ty {
                ValueType::Date { .. } => format!("date({n})"),
                ValueType::Url => format!("url({n})"),
                _ => n.to_string(),
            };
            out.push(AttrMap { name: n.to_string(), wire_name, column, ty, constant });
        }
        Ok(out)
    }

    fn value_type(&self, key: &str, span: std::ops::Range<usize>, t: &AttrTable) -> Result<ValueType, JobError> {
        let kind =
            t.kind.as_deref().unwrap_or(if t.separator.is_some() || t.mode.is_some() { "array" } else { "string" });
        let json = kind == "array" && t.format.as_ref().and_then(|f| f.one()) == Some("json");
        if t.format.is_some() && kind != "date" && !json {
            return self
                .err(span, format!("{key}: `format` goes with type = \"date\" (or \"json\" with type = \"array\")"));
        }
        if (t.separator.is_some() || t.mode.is_some()) && kind != "array" {
            return self.err(span, format!("{key}: `separator` and `mode` go with type = \"array\""));
        }
        Ok(match kind {
            "string" => ValueType::String,
            "int" => ValueType::Int,
            "float" => ValueType::Float,
            "bool" => ValueType::Bool,
            "url" => ValueType::Url,
            "json" => ValueType::Json,
            "date" => {
                let list = t.format.as_ref().map(|f| f.list()).unwrap_or_default();
                if t.format.is_some() && list.is_empty() {
                    return self.err(span, format!("{key}: `format = []` lists no format"));
                }
                for f in &list {
                    check_strftime(f).or_else(|m| self.err(span.clone(), format!("{key}: format `{f}`: {m}")))?;
                    if f.contains(crate::value::FORMAT_SEPARATOR) {
                        return self.err(span.clone(), format!("{key}: format `{}` holds a newline", f.escape_debug()));
                    }
                }
                // Several formats are kept as one text (see `FORMAT_SEPARATOR`).
                let joined = list.join(&crate::value::FORMAT_SEPARATOR.to_string());
                ValueType::Date { format: (!list.is_empty()).then_some(joined) }
            }
            "array" => {
                let separator = t.separator.clone().unwrap_or_else(|| ",".into());
                if separator.is_empty() {
                    return self.err(span, format!("{key}: separator is empty"));
                }
                let mode = match t.mode.as_deref().unwrap_or("replace") {
                    "replace" => ArrayMode::Replace,
                    "add" => ArrayMode::Add,
                    "remove" => ArrayMode::Remove,
                    other => {
                        return self.err(span, format!("{key}: mode {}", one_of(other, &["replace", "add", "remove"])));
                    }
                };
                ValueType::Array { separator, mode, json }
            }
            other => {
                return self.err(
                    span,
                    format!(
                        "{key}: type {}",
                        one_of(other, &["string", "int", "float", "bool", "date", "url", "array", "json"])
                    ),
                );
            }
        })
    }

    pub(super) fn events(&self, m: &MappingSection) -> Result<EventMapping, JobError> {
        let profile = self.profile(m, false)?;
        let name = match (&m.event, &m.event_name) {
            (Some(c), None) => EventName::Column(self.column("mapping.event", c)?),
            (None, Some(n)) => {
                if !rules::is_valid_name(n.get_ref()) {
                    return self.err(
                        n.span(),
                        format!(
                            "mapping.event_name `{}`: event names use only a-z, 0-9 and _, at most 30 characters",
                            n.get_ref()
                        ),
                    );
                }
                EventName::Constant(n.get_ref().clone())
            }
            (Some(c), Some(_)) => {
                return self.err(
                    c.span(),
                    "give either mapping.event (a column) or mapping.event_name (a constant), not both",
                );
            }
            (None, None) => {
                return Err(self
                    .lines
                    .file("an events job needs mapping.event (the column with the event name) or mapping.event_name"));
            }
        };
        let snake_case = match m.event_case.as_ref().map(|c| (c.get_ref().as_str(), c.span())) {
            None | Some(("as_is", _)) => false,
            Some(("snake", _)) if matches!(name, EventName::Column(_)) => true,
            Some(("snake", span)) => {
                return self
                    .err(span, "mapping.event_case: a constant event_name is written as Batch takes it already");
            }
            Some((other, span)) => {
                return self.err(
                    span,
                    format!("mapping.event_case = \"{}\": use \"as_is\" or \"snake\"", other.escape_debug()),
                );
            }
        };
        let time = match &m.time {
            None => None,
            Some(v) => {
                let line = self.lines.line(v.span().start);
                let (col, format) = match v.get_ref() {
                    toml::Value::String(c) => (c.clone(), None),
                    other => {
                        let t: TimeTable = other.clone().try_into().or_else(|e: toml::de::Error| {
                            self.err(v.span(), format!("mapping.time: {}", e.message()))
                        })?;
                        (t.column, t.format)
                    }
                };
                Some((Column { name: col.trim().to_string(), key: "mapping.time".into(), line }, format))
            }
        };
        let attributes = self.attributes("mapping.event_attributes", m.event_attributes.as_ref(), Names::Event)?;
        let mut top: Vec<&str> = attributes.iter().map(|a| a.name.split('.').next().unwrap_or("")).collect();
        top.dedup();
        if top.len() > rules::MAX_EVENT_ATTRIBUTES {
            return Err(self.lines.file(format!(
                "{} event attributes are mapped; Batch takes at most {} per event",
                top.len(),
                rules::MAX_EVENT_ATTRIBUTES
            )));
        }
        Ok(EventMapping { profile, name, snake_case, time, attributes })
    }

    pub(super) fn audience(&self, raw: &JobFile) -> Result<AudienceSettings, JobError> {
        let Some(a) = &raw.audience else {
            return Err(self.lines.file("an audience job needs an [audience] section with a name"));
        };
        if !rules::is_valid_audience_name(a.name.get_ref()) {
            return self.err(a.name.span(), "audience.name uses only letters, digits, _ and -, at most 255 characters");
        }
        let mode = match a.mode.as_ref().map(|m| (m.get_ref().as_str(), m.span())) {
            None | Some(("add", _)) => AudienceMode::Add,
            Some(("remove", _)) => AudienceMode::Remove,
            Some(("replace", _)) => AudienceMode::Replace,
            Some((other, span)) => {
                return self.err(span, format!("audience.mode {}", one_of(other, &["add", "remove", "replace"])));
            }
        };
        let attributes = self.attributes("mapping.attributes", raw.mapping.attributes.as_ref(), Names::Profile)?;
        if attributes.len() > rules::MAX_AUDIENCE_ATTRIBUTES {
            return Err(self.lines.file(format!(
                "{} audience attributes mapped; Batch takes at most {}",
                attributes.len(),
                rules::MAX_AUDIENCE_ATTRIBUTES
            )));
        }
        let id_columns = self.id_columns("mapping.custom_id", &raw.mapping.custom_id)?;
        if mode == AudienceMode::Remove && !attributes.is_empty() {
            return Err(self.lines.file("audience attributes go only with mode = \"add\" or \"replace\""));
        }
        Ok(AudienceSettings {
            name: a.name.get_ref().clone(),
            display_name: a.display_name.clone().unwrap_or_else(|| a.name.get_ref().clone()),
            create: a.create,
            allow_empty: a.allow_empty,
            mode,
            custom_id: id_columns[0].column.clone(),
            id_columns,
            attributes,
        })
    }

    pub(super) fn catalog(&self, raw: &JobFile) -> Result<CatalogSettings, JobError> {
        let Some(c) = &raw.catalog else {
            return Err(self.lines.file("a catalog job needs a [catalog] section with a name"));
        };
        if c.name.get_ref().trim().is_empty() {
            return self.err(c.name.span(), "catalog.name is empty");
        }
        if !rules::is_valid_audience_name(c.name.get_ref()) {
            return self.err(c.name.span(), "catalog.name uses only letters, digits, _ and -, at most 255 characters");
        }
        let remove = match c.mode.as_ref().map(|m| (m.get_ref().as_str(), m.span())) {
            None | Some(("add", _)) => false,
            Some(("remove", _)) => true,
            Some((other, span)) => {
                return self.err(span, format!("catalog.mode {}", one_of(other, &["add", "remove"])));
            }
        };
        let attributes = self.attributes("mapping.attributes", raw.mapping.attributes.as_ref(), Names::Catalog)?;
        if attributes.len() > rules::MAX_CATALOG_FIELDS {
            return Err(self.lines.file(format!(
                "{} catalog attributes are mapped; a Batch catalog has at most {} fields",
                attributes.len(),
                rules::MAX_CATALOG_FIELDS
            )));
        }
        if remove && !attributes.is_empty() {
            return Err(self.lines.file("catalog.mode = \"remove\" takes only mapping.item_id, no attributes"));
        }
        Ok(CatalogSettings {
            name: c.name.get_ref().clone(),
            item_id: self.required_column("mapping.item_id", &raw.mapping.item_id)?,
            attributes,
            create: c.create,
            remove,
        })
    }

    pub(super) fn export(&self, raw: &JobFile) -> Result<ExportSettings, JobError> {
        let Some(e) = &raw.export else {
            return Err(self.lines.file("an export job needs an [export] section"));
        };
        let ty = match e.kind.get_ref().as_str() {
            "attributes" => ExportType::Attributes,
            "events" => ExportType::Events,
            "reachability" => ExportType::Reachability,
            other => {
                return self.err(
                    e.kind.span(),
                    format!("export.type {}", one_of(other, &["attributes", "events", "reachability"])),
                );
            }
        };
        if ty == ExportType::Attributes && e.attributes.is_empty() && e.identifiers.is_empty() {
            return self.err(e.kind.span(), "an attributes export needs `attributes` and/or `identifiers`");
        }
        let from = match (&e.from, ty) {
            (Some(f), _) => Some(chrono::NaiveDate::parse_from_str(f.get_ref(), "%Y-%m-%d").or_else(|_| {
                self.err(f.span(), format!("export.from `{}` is not a date (YYYY-MM-DD)", f.get_ref()))
            })?),
            (None, ExportType::Attributes) => None,
            (None, _) => {
                return self.err(
                    e.kind.span(),
                    "events and reachability exports need `from` (YYYY-MM-DD, at most 90 days back)",
                );
            }
        };
        if let (Some(f), Some(day)) = (&e.from, from)
            && ty != ExportType::Attributes
        {
            let oldest = chrono::Utc::now().date_naive() - chrono::Days::new(90);
            if day < oldest {
                return self.err(
                    f.span(),
                    format!("export.from {day}: Batch takes at most 90 days back for events and reachability (the oldest is {oldest})"),
                );
            }
        }
        let out = e.output.get_ref();
        if !(out.ends_with(".csv") || out.ends_with(".ndjson")) {
            return self.err(e.output.span(), format!("export.output `{out}` must end in .csv or .ndjson"));
        }
        let mode = match &e.mode {
            None => None,
            Some(m) => {
                let text = m.get_ref().trim();
                match u32::from_str_radix(text, 8) {
                    Ok(bits) if (3..=4).contains(&text.len()) && bits <= 0o777 => Some(bits),
                    _ => {
                        return self.err(
                            m.span(),
                            format!("export.mode `{text}` is not a file mode: give permission bits in octal, such as \"0640\""),
                        );
                    }
                }
            }
        };
        Ok(ExportSettings {
            ty,
            attributes: e.attributes.clone(),
            identifiers: e.identifiers.clone(),
            segment: e.segment.clone(),
            from,
            // An object URL (s3://...) is kept as it is: uploaded at the end.
            output: if batchport_source::objstore::is_url(out) { out.into() } else { self.base_dir.join(out) },
            escape_formulas: e.escape_formulas.unwrap_or(true),
            mode,
        })
    }
}

/// Which name rule an attribute table follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    Profile,
    /// `$label`, `$tags` and `object.member` too.
    Event,
    /// Up to 250 characters.
    Catalog,
}

/// chrono reports a bad pattern only when formatting; catch it at load time.
fn check_strftime(f: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
        return Err("not a valid strftime pattern (e.g. %Y-%m-%d, %d/%m/%Y %H:%M)".into());
    }
    Ok(())
}
