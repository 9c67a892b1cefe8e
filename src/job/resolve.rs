//! Raw job file → `Job`: defaults, name and value checks, per-version limits. Every
//! error names the key and its line, because users fix job files by line.

use super::error::{JobError, Lines};
use super::file::*;
use super::settings::*;
use crate::api::limits::limits;
use crate::api::{Endpoint, Version, rules};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Read and resolve a job file.
pub fn load(path: &Path) -> Result<Job, JobError> {
    let text = std::fs::read_to_string(path).map_err(|source| JobError::Read { path: path.to_path_buf(), source })?;
    parse(&text, path)
}

/// Resolve the text of a job file; `path` names it in errors and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Job, JobError> {
    let lines = Lines::new(path, text);
    let raw: JobFile = toml::from_str(text).map_err(|e| match e.span() {
        Some(span) => lines.at(span, e.message().trim_end()),
        None => lines.file(e.message().trim_end()),
    })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let r = Resolver { lines: &lines, base_dir };
    r.job(raw)
}

/// A key, where it was written, and the kinds it belongs to.
type Foreign<'k> = (&'static str, Option<std::ops::Range<usize>>, &'k [Kind]);

struct Resolver<'a> {
    lines: &'a Lines<'a>,
    base_dir: PathBuf,
}

fn one_of(value: &str, allowed: &[&str]) -> String {
    format!("`{value}` is not one of {}", allowed.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", "))
}

impl Resolver<'_> {
    fn err<T>(&self, span: std::ops::Range<usize>, msg: impl Into<String>) -> Result<T, JobError> {
        Err(self.lines.at(span, msg))
    }

    fn job(&self, raw: JobFile) -> Result<Job, JobError> {
        let name = raw.job.name.get_ref().trim().to_string();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')) {
            return self.err(
                raw.job.name.span(),
                format!("job.name `{name}` must be non-empty and use only letters, digits, `_`, `-` and `.` (it names state and files)"),
            );
        }
        let kind = match raw.job.kind.get_ref().as_str() {
            "profiles" => Kind::Profiles,
            "events" => Kind::Events,
            "audience" => Kind::Audience,
            "catalog" => Kind::Catalog,
            "export" => Kind::Export,
            other => {
                return self.err(
                    raw.job.kind.span(),
                    format!("job.kind {}", one_of(other, &["profiles", "events", "audience", "catalog", "export"])),
                );
            }
        };
        let schedule = match &raw.job.schedule {
            Some(s) => {
                let expr = s.get_ref().trim();
                if let Err(e) = croner::Cron::new(expr).parse() {
                    return self.err(s.span(), format!("job.schedule `{expr}` is not a cron expression: {e}"));
                }
                Some(expr.to_string())
            }
            None => None,
        };
        let on_uncertain = match &raw.job.on_uncertain {
            None if kind == Kind::Events => OnUncertain::Hold,
            None => OnUncertain::Resend,
            Some(v) => match v.get_ref().as_str() {
                "hold" => OnUncertain::Hold,
                "resend" => OnUncertain::Resend,
                other => return self.err(v.span(), format!("job.on_uncertain {}", one_of(other, &["hold", "resend"]))),
            },
        };
        let rejects_dir = raw.job.rejects.as_deref().map(|p| self.base_dir.join(p));
        let api = self.api(&raw.api, kind)?;
        let source = match (&raw.source, kind) {
            (None, Kind::Export) => None,
            (Some(s), Kind::Export) => {
                return self.err(s.path.span(), "an export job has no [source]; it writes [export].output");
            }
            (None, _) => return Err(self.lines.file(format!("a {} job needs a [source] with a path", kind.as_str()))),
            (Some(s), _) => Some(self.source(s)?),
        };
        self.check_sections(&raw, kind)?;
        let mapping = match kind {
            Kind::Profiles => Mapping::Profiles(self.profile(&raw.mapping, true)?),
            Kind::Events => Mapping::Events(self.events(&raw.mapping)?),
            Kind::Audience => Mapping::Audience(self.audience(&raw)?),
            Kind::Catalog => Mapping::Catalog(self.catalog(&raw)?),
            Kind::Export => Mapping::Export(self.export(&raw)?),
        };
        Ok(Job {
            name,
            kind,
            schedule,
            rejects_dir,
            on_uncertain,
            api,
            source,
            mapping,
            file: self.lines.path.to_path_buf(),
        })
    }

    /// Keys and sections that belong to other kinds are errors, not silently ignored.
    fn check_sections(&self, raw: &JobFile, kind: Kind) -> Result<(), JobError> {
        let m = &raw.mapping;
        let foreign: Vec<Foreign> = vec![
            ("mapping.item_id", m.item_id.as_ref().map(|s| s.span()), &[Kind::Catalog]),
            ("mapping.event", m.event.as_ref().map(|s| s.span()), &[Kind::Events]),
            ("mapping.event_name", m.event_name.as_ref().map(|s| s.span()), &[Kind::Events]),
            ("mapping.time", m.time.as_ref().map(|s| s.span()), &[Kind::Events]),
            (
                "mapping.custom_id",
                m.custom_id.as_ref().map(|s| s.span()),
                &[Kind::Profiles, Kind::Events, Kind::Audience],
            ),
            ("mapping.blank", m.blank.as_ref().map(|s| s.span()), &[Kind::Profiles, Kind::Events]),
            ("audience", raw.audience.as_ref().map(|a| a.name.span()), &[Kind::Audience]),
            ("catalog", raw.catalog.as_ref().map(|c| c.name.span()), &[Kind::Catalog]),
            ("export", raw.export.as_ref().map(|e| e.kind.span()), &[Kind::Export]),
        ];
        for (key, span, kinds) in foreign {
            if let Some(span) = span
                && !kinds.contains(&kind)
            {
                let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                return self
                    .err(span, format!("`{key}` is for kind = {} jobs, not {}", names.join(" or "), kind.as_str()));
            }
        }
        if let Some(ea) = &m.event_attributes
            && kind != Kind::Events
            && let Some((k, _)) = ea.iter().next()
        {
            return self.err(k.span(), "[mapping.event_attributes] is for kind = events jobs");
        }
        if let Some(n) = &m.native
            && !matches!(kind, Kind::Profiles | Kind::Events)
            && let Some(span) = first_native_span(n)
        {
            return self.err(span, "[mapping.native] is for profiles and events jobs");
        }
        Ok(())
    }

    fn api(&self, a: &ApiSection, kind: Kind) -> Result<ApiSettings, JobError> {
        let base_url = match &a.base_url {
            None => BaseUrl::Url("https://api.batch.com".into()),
            Some(u) if u.get_ref() == "emulator" => BaseUrl::Emulator,
            Some(u) => {
                let url = u.get_ref().trim_end_matches('/').to_string();
                if let Some(rest) = url.strip_prefix("http://") {
                    if !is_loopback_host(rest) {
                        return self.err(u.span(), format!("api.base_url `{url}`: plain http is allowed only to this machine (127.0.0.1, localhost); use https"));
                    }
                } else if !url.starts_with("https://") {
                    return self
                        .err(u.span(), format!("api.base_url `{url}` must start with https:// (or be \"emulator\")"));
                }
                BaseUrl::Url(url)
            }
        };
        let loopback = match &base_url {
            BaseUrl::Emulator => true,
            BaseUrl::Url(u) => u.strip_prefix("http://").or(u.strip_prefix("https://")).is_some_and(is_loopback_host),
        };
        let version = match &a.version {
            None => Version::CURRENT,
            Some(v) => v.get_ref().parse::<Version>().or_else(|e| self.err(v.span(), format!("api.version: {e}")))?,
        };
        let endpoint = match (kind, &a.endpoint) {
            (Kind::Profiles | Kind::Events, None) => Endpoint::ProfilesMassUpdate,
            (Kind::Profiles | Kind::Events, Some(e)) => match e.get_ref().as_str() {
                "mass-update" => Endpoint::ProfilesMassUpdate,
                "update" => Endpoint::ProfilesUpdate,
                other => {
                    return self.err(e.span(), format!("api.endpoint {}", one_of(other, &["mass-update", "update"])));
                }
            },
            (_, Some(e)) => {
                return self.err(
                    e.span(),
                    format!(
                        "api.endpoint is for profiles and events jobs; a {} job's endpoint is fixed",
                        kind.as_str()
                    ),
                );
            }
            (Kind::Audience, None) => Endpoint::AudiencesUpdate,
            (Kind::Catalog, None) => Endpoint::CatalogItemsEdit,
            (Kind::Export, None) => Endpoint::ProfilesExport,
        };
        let Some(lim) = limits(version, endpoint) else {
            let span = a.endpoint.as_ref().or(a.version.as_ref()).map(|s| s.span()).unwrap_or(0..0);
            return self.err(span, format!("{} does not exist in API {version} (it arrived in 2.4): use endpoint = \"update\" or a newer version", endpoint.path()));
        };
        let documented =
            lim.rates.iter().find(|r| r.unit == crate::api::limits::RateUnit::Updates).map(|r| r.per_second);
        let rate = match &a.rate {
            None => None,
            Some(r) if *r.get_ref() == 0 && !loopback => {
                return self.err(
                    r.span(),
                    "api.rate = 0 (unlimited) is accepted only for a loopback base_url (benches against the emulator)",
                );
            }
            Some(r) => {
                if let Some(max) = documented
                    && *r.get_ref() > max
                    && !loopback
                {
                    return self.err(r.span(), format!("api.rate = {} is above the documented limit of {} ({max} updates/s): batchport never plans to exceed it", r.get_ref(), endpoint.path()));
                }
                Some(*r.get_ref())
            }
        };
        let concurrency = match &a.concurrency {
            None => lim.concurrency,
            Some(c) if (1..=64).contains(c.get_ref()) => *c.get_ref(),
            Some(c) => return self.err(c.span(), "api.concurrency must be between 1 and 64"),
        };
        // A call as large as a bucket with no burst (mass-update: 10,000 and
        // 10,000/s) only passes when it finds the bucket exactly full: any
        // jitter in when calls reach Batch becomes a 429. Half-bucket calls
        // leave room for it (measured: 9% of calls refused with 10,000, none
        // with 5,000, at the same sustained rate).
        let no_burst =
            lim.rates.iter().find(|r| r.unit == crate::api::limits::RateUnit::Updates && r.burst == r.per_second);
        let default_batch = match (no_burst, rate) {
            (Some(r), None) => lim.max_ops.min((r.burst as usize / 2).max(1)),
            _ => lim.max_ops,
        };
        let batch_size = match &a.batch_size {
            None => default_batch,
            Some(b) if (1..=lim.max_ops).contains(b.get_ref()) => *b.get_ref(),
            Some(b) => {
                return self.err(
                    b.span(),
                    format!(
                        "api.batch_size must be between 1 and {} (the maximum of {} in API {version})",
                        lim.max_ops,
                        endpoint.path()
                    ),
                );
            }
        };
        Ok(ApiSettings {
            base_url,
            version,
            endpoint,
            limits: lim,
            rest_key_env: a.rest_key_env.clone().unwrap_or_else(|| "BATCH_REST_KEY".into()),
            project_key_env: a.project_key_env.clone().unwrap_or_else(|| "BATCH_PROJECT_KEY".into()),
            rate,
            concurrency,
            batch_size,
        })
    }

    fn source(&self, s: &SourceSection) -> Result<SourceSettings, JobError> {
        let mut options = crate::source::SourceOptions::default();
        if let Some(d) = &s.delimiter {
            options.delimiter =
                d.get_ref().parse().or_else(|e: String| self.err(d.span(), format!("source.delimiter: {e}")))?;
        }
        if let Some(e) = &s.encoding {
            options.encoding =
                e.get_ref().parse().or_else(|m: String| self.err(e.span(), format!("source.encoding: {m}")))?;
        }
        if s.path.get_ref().trim().is_empty() {
            return self.err(s.path.span(), "source.path is empty");
        }
        Ok(SourceSettings { pattern: s.path.get_ref().clone(), base_dir: self.base_dir.clone(), options })
    }

    fn column(&self, key: &str, s: &Spanned<String>) -> Result<Column, JobError> {
        let name = s.get_ref().trim();
        if name.is_empty() {
            return self.err(s.span(), format!("{key}: the column name is empty"));
        }
        Ok(Column { name: name.to_string(), key: key.to_string(), line: self.lines.line(s.span().start) })
    }

    fn required_column(&self, key: &str, s: &Option<Spanned<String>>) -> Result<Column, JobError> {
        match s {
            Some(s) => self.column(key, s),
            None => Err(self.lines.file(format!("`{key}` is missing: name the column that holds it"))),
        }
    }

    fn profile(&self, m: &MappingSection, need_something: bool) -> Result<ProfileMapping, JobError> {
        let custom_id = self.required_column("mapping.custom_id", &m.custom_id)?;
        let blank = match &m.blank {
            None => Blank::Ignore,
            Some(b) => match b.get_ref().as_str() {
                "ignore" => Blank::Ignore,
                "clear" => Blank::Clear,
                other => return self.err(b.span(), format!("mapping.blank {}", one_of(other, &["ignore", "clear"]))),
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
                    native.push(NativeMap { kind, column: self.column(&format!("mapping.native.{key}"), s)? });
                }
            }
            for (spec, key, email) in
                [(&n.email_marketing, "email_marketing", true), (&n.sms_marketing, "sms_marketing", false)]
            {
                if let Some(v) = spec {
                    let (column, values) = self.subscription(&format!("mapping.native.{key}"), v)?;
                    let kind =
                        if email { NativeKind::EmailMarketing(values) } else { NativeKind::SmsMarketing(values) };
                    native.push(NativeMap { kind, column });
                }
            }
        }
        let attributes = self.attributes("mapping.attributes", m.attributes.as_ref(), false)?;
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
        Ok(ProfileMapping { custom_id, blank, changed_only: m.changed_only.unwrap_or(false), native, attributes })
    }

    fn subscription(&self, key: &str, v: &Spanned<toml::Value>) -> Result<(Column, SubscriptionValues), JobError> {
        let lower = |v: &[String]| v.iter().map(|s| s.trim().to_lowercase()).collect::<Vec<_>>();
        match v.get_ref() {
            toml::Value::String(s) => Ok((
                Column { name: s.trim().to_string(), key: key.to_string(), line: self.lines.line(v.span().start) },
                SubscriptionValues {
                    subscribed: lower(&["subscribed".into(), "yes".into(), "true".into(), "1".into()]),
                    unsubscribed: lower(&["unsubscribed".into(), "no".into(), "false".into(), "0".into()]),
                },
            )),
            other => {
                let t: SubscriptionTable = other
                    .clone()
                    .try_into()
                    .or_else(|e: toml::de::Error| self.err(v.span(), format!("{key}: {}", e.message())))?;
                let (subscribed, unsubscribed) = (lower(&t.subscribed), lower(&t.unsubscribed));
                if subscribed.is_empty() && unsubscribed.is_empty() {
                    return self.err(
                        v.span(),
                        format!("{key}: list the column's values in `subscribed` and/or `unsubscribed`"),
                    );
                }
                if let Some(both) = subscribed.iter().find(|s| unsubscribed.contains(s)) {
                    return self.err(v.span(), format!("{key}: `{both}` is in both `subscribed` and `unsubscribed`"));
                }
                let column = Column {
                    name: t.column.trim().to_string(),
                    key: key.to_string(),
                    line: self.lines.line(v.span().start),
                };
                Ok((column, SubscriptionValues { subscribed, unsubscribed }))
            }
        }
    }

    /// Decodes an attribute table; `event` allows `$label` and `$tags`.
    fn attributes(
        &self,
        section: &str,
        map: Option<&std::collections::BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
        event: bool,
    ) -> Result<Vec<AttrMap>, JobError> {
        let mut out = Vec::new();
        let Some(map) = map else { return Ok(out) };
        let mut entries: Vec<_> = map.iter().collect();
        // Keep the file's order: error messages and the wire then follow it.
        entries.sort_by_key(|(k, _)| k.span().start);
        for (name, value) in entries {
            let n = name.get_ref().as_str();
            let key = format!("{section}.{n}");
            let reserved = event && (n == "$label" || n == "$tags");
            if !reserved && !rules::is_valid_name(n) {
                return self.err(
                    name.span(),
                    format!(
                        "`{key}`: Batch attribute names use only a-z, 0-9 and _, at most 30 characters{}",
                        if event { " ($label and $tags are the reserved ones)" } else { "" }
                    ),
                );
            }
            let line = self.lines.line(value.span().start);
            let (column, ty) = match value.get_ref() {
                toml::Value::String(c) => (c.trim().to_string(), ValueType::String),
                other => {
                    let t: AttrTable = other
                        .clone()
                        .try_into()
                        .or_else(|e: toml::de::Error| self.err(value.span(), format!("{key}: {}", e.message())))?;
                    let ty = self.value_type(&key, value.span(), &t)?;
                    (t.column.trim().to_string(), ty)
                }
            };
            if column.is_empty() {
                return self.err(value.span(), format!("{key}: the column name is empty"));
            }
            if n == "$label" && ty != ValueType::String {
                return self.err(value.span(), format!("{key}: $label is a string"));
            }
            if n == "$tags" && !matches!(ty, ValueType::Array { mode: ArrayMode::Replace, .. }) {
                return self.err(value.span(), format!("{key}: $tags is an array (type = \"array\")"));
            }
            let wire_name = match ty {
                ValueType::Date { .. } => format!("date({n})"),
                ValueType::Url => format!("url({n})"),
                _ => n.to_string(),
            };
            out.push(AttrMap { name: n.to_string(), wire_name, column: Column { name: column, key, line }, ty });
        }
        Ok(out)
    }

    fn value_type(&self, key: &str, span: std::ops::Range<usize>, t: &AttrTable) -> Result<ValueType, JobError> {
        let kind =
            t.kind.as_deref().unwrap_or(if t.separator.is_some() || t.mode.is_some() { "array" } else { "string" });
        if t.format.is_some() && kind != "date" {
            return self.err(span, format!("{key}: `format` goes with type = \"date\""));
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
            "date" => {
                if let Some(f) = &t.format {
                    check_strftime(f).or_else(|m| self.err(span.clone(), format!("{key}: format `{f}`: {m}")))?;
                }
                ValueType::Date { format: t.format.clone() }
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
                ValueType::Array { separator, mode }
            }
            other => {
                return self.err(
                    span,
                    format!(
                        "{key}: type {}",
                        one_of(other, &["string", "int", "float", "bool", "date", "url", "array"])
                    ),
                );
            }
        })
    }

    fn events(&self, m: &MappingSection) -> Result<EventMapping, JobError> {
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
        let attributes = self.attributes("mapping.event_attributes", m.event_attributes.as_ref(), true)?;
        Ok(EventMapping { profile, name, time, attributes })
    }

    fn audience(&self, raw: &JobFile) -> Result<AudienceSettings, JobError> {
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
        let attributes = self.attributes("mapping.attributes", raw.mapping.attributes.as_ref(), false)?;
        if attributes.len() > rules::MAX_AUDIENCE_ATTRIBUTES {
            return Err(self.lines.file(format!(
                "{} audience attributes mapped; Batch takes at most {}",
                attributes.len(),
                rules::MAX_AUDIENCE_ATTRIBUTES
            )));
        }
        if mode == AudienceMode::Remove && !attributes.is_empty() {
            return Err(self.lines.file("audience attributes go only with mode = \"add\" or \"replace\""));
        }
        Ok(AudienceSettings {
            name: a.name.get_ref().clone(),
            display_name: a.display_name.clone().unwrap_or_else(|| a.name.get_ref().clone()),
            create: a.create,
            mode,
            custom_id: self.required_column("mapping.custom_id", &raw.mapping.custom_id)?,
            attributes,
        })
    }

    fn catalog(&self, raw: &JobFile) -> Result<CatalogSettings, JobError> {
        let Some(c) = &raw.catalog else {
            return Err(self.lines.file("a catalog job needs a [catalog] section with a name"));
        };
        if c.name.get_ref().trim().is_empty() {
            return self.err(c.name.span(), "catalog.name is empty");
        }
        Ok(CatalogSettings {
            name: c.name.get_ref().clone(),
            item_id: self.required_column("mapping.item_id", &raw.mapping.item_id)?,
            attributes: self.attributes("mapping.attributes", raw.mapping.attributes.as_ref(), false)?,
        })
    }

    fn export(&self, raw: &JobFile) -> Result<ExportSettings, JobError> {
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
        let out = e.output.get_ref();
        if !(out.ends_with(".csv") || out.ends_with(".ndjson")) {
            return self.err(e.output.span(), format!("export.output `{out}` must end in .csv or .ndjson"));
        }
        Ok(ExportSettings {
            ty,
            attributes: e.attributes.clone(),
            identifiers: e.identifiers.clone(),
            segment: e.segment.clone(),
            from,
            output: self.base_dir.join(out),
        })
    }
}

fn first_native_span(n: &NativeSection) -> Option<std::ops::Range<usize>> {
    [&n.email_address, &n.phone_number, &n.language, &n.region, &n.timezone]
        .into_iter()
        .flatten()
        .map(|s| s.span())
        .chain([&n.email_marketing, &n.sms_marketing].into_iter().flatten().map(|s| s.span()))
        .next()
}

/// `host[:port][/...]` names this machine.
pub(crate) fn is_loopback_host(rest: &str) -> bool {
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host == "localhost" || host == "::1" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// chrono reports a bad pattern only when formatting; catch it at load time.
fn check_strftime(f: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
        return Err("not a valid strftime pattern (e.g. %Y-%m-%d, %d/%m/%Y %H:%M)".into());
    }
    Ok(())
}
