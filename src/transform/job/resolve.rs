//! Raw job file → `Job`: defaults, name and value checks, per-version limits. Every
//! error names the key and its line, because users fix job files by line.

use super::error::{JobError, Lines};
use super::file::*;
use super::settings::*;
use batchport_api::limits::limits;
use batchport_api::{Endpoint, Version};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Read and resolve a job file.
pub fn load(path: &Path) -> Result<Job, JobError> {
    let bytes = std::fs::read(path).map_err(|error| JobError::Read { path: path.to_path_buf(), error })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        // Windows editors save "Unicode" as UTF-16, with its byte order mark.
        let utf16 = e.as_bytes().starts_with(&[0xFF, 0xFE]) || e.as_bytes().starts_with(&[0xFE, 0xFF]);
        let hint = if utf16 { "it is saved as UTF-16" } else { "it is not valid UTF-8" };
        JobError::File {
            path: path.to_path_buf(),
            message: format!("{hint}; a job file is TOML text in UTF-8: save it as UTF-8 and run again"),
        }
    })?;
    parse(&text, path)
}

/// Resolve the text of a job file; `path` names it in errors and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Job, JobError> {
    let lines = Lines::new(path, text);
    let raw: JobFile = toml::from_str(text).map_err(|e| match e.span() {
        Some(span) => {
            // serde says "invalid type: string \"100\", expected usize": name the key.
            let message = e.message().trim_end();
            match key_at(text, span.start) {
                Some(key) if !message.contains(&key) => lines.at(span, format!("{key}: {message}")),
                _ => lines.at(span, message),
            }
        }
        None => lines.file(e.message().trim_end()),
    })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let r = Resolver { lines: &lines, base_dir };
    let mut job = r.job(raw)?;
    job.mapping_print = mapping_print(text, job.kind);
    Ok(job)
}

/// The print of what a job sends for a row: the kind and its `[mapping]`
/// table (with `[audience]` and `[catalog]`, which say what is done with a
/// row), as sorted JSON, hashed. Comments, layout and key order do not count;
/// any change of a key or value does.
fn mapping_print(text: &str, kind: Kind) -> String {
    let tables =
        toml::from_str::<toml::Table>(text).ok().map(|mut t| ["mapping", "audience", "catalog"].map(|k| t.remove(k)));
    let canonical = serde_json::to_string(&tables).unwrap_or_default();
    let print = xxhash_rust::xxh3::xxh3_64(format!("{}|{canonical}", kind.as_str()).as_bytes());
    format!("{print:016x}")
}

/// The dotted key whose value starts at `offset` (`api.batch_size`), read
/// from the text: the `[section]` above and the `key =` before the value.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let eq = before.rfind('=')?;
    let key = before[..eq].trim_end();
    let key = key.rsplit(['{', ',', ' ', '\t']).next()?.trim().trim_matches('"');
    if key.is_empty() {
        return None;
    }
    let section = text[..line_start].lines().rev().find_map(|l| {
        let l = l.trim();
        (l.starts_with('[') && !l.starts_with("[[")).then(|| l.trim_matches(['[', ']']).trim().to_string())
    });
    Some(match section {
        Some(s) if !s.is_empty() => format!("{s}.{key}"),
        _ => key.to_string(),
    })
}

/// A key, where it was written, and the kinds it belongs to.
type Foreign<'k> = (&'static str, Option<std::ops::Range<usize>>, &'k [Kind]);

pub(super) struct Resolver<'a> {
    pub(super) lines: &'a Lines<'a>,
    pub(super) base_dir: PathBuf,
}

pub(super) fn one_of(value: &str, allowed: &[&str]) -> String {
    format!("`{value}` is not one of {}", allowed.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", "))
}

impl Resolver<'_> {
    pub(super) fn err<T>(&self, span: std::ops::Range<usize>, msg: impl Into<String>) -> Result<T, JobError> {
        Err(self.lines.at(span, msg))
    }

    fn job(&self, raw: JobFile) -> Result<Job, JobError> {
        let name = raw.job.name.get_ref().trim().to_string();
        // It names a folder under the state's `jobs/`: `.`, `..` or a hidden
        // name would land elsewhere or out of sight.
        if name.is_empty()
            || name.starts_with('.')
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return self.err(
                raw.job.name.span(),
                format!(
                    "job.name `{}` must be non-empty, use only letters, digits, `_`, `-` and `.`, and not start with `.` (it names state and files)",
                    name.escape_debug()
                ),
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
                if let Err(e) = super::cron::check_cron(expr) {
                    return self.err(s.span(), format!("job.schedule `{expr}` {e}"));
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
        // Found now, by `run` and `validate` alike (exit 2), not when the first
        // reject is written part way through a run.
        if let Some(d) = rejects_dir.as_ref().filter(|d| d.exists() && !d.is_dir()) {
            return Err(self.lines.file(format!(
                "job.rejects `{}` is a file: give a folder (the rejects, uncertain and partial files go in it)",
                d.display()
            )));
        }
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
        let keep_reports_days = match &raw.job.keep_reports_days {
            None => None,
            Some(d) => match u32::try_from(*d.get_ref()) {
                Ok(days) if days >= 1 => Some(days),
                _ => return self.err(d.span(), "job.keep_reports_days must be a whole number of days, at least 1"),
            },
        };
        Ok(Job {
            name,
            kind,
            schedule,
            rejects_dir,
            keep_reports_days,
            on_uncertain,
            api,
            source,
            mapping,
            file: self.lines.path.to_path_buf(),
            custom_id_trim: raw.mapping.custom_id_trim.as_ref().is_some_and(|t| *t.get_ref()),
            mapping_print: String::new(),
        })
    }

    /// Keys and sections that belong to other kinds are errors, not silently ignored.
    fn check_sections(&self, raw: &JobFile, kind: Kind) -> Result<(), JobError> {
        let m = &raw.mapping;
        let foreign: Vec<Foreign> = vec![
            ("mapping.item_id", m.item_id.as_ref().map(|s| s.span()), &[Kind::Catalog]),
            ("mapping.event", m.event.as_ref().map(|s| s.span()), &[Kind::Events]),
            ("mapping.event_name", m.event_name.as_ref().map(|s| s.span()), &[Kind::Events]),
            ("mapping.event_case", m.event_case.as_ref().map(|s| s.span()), &[Kind::Events]),
            ("mapping.time", m.time.as_ref().map(|s| s.span()), &[Kind::Events]),
            (
                "mapping.custom_id",
                m.custom_id.as_ref().map(|s| s.span()),
                &[Kind::Profiles, Kind::Events, Kind::Audience],
            ),
            ("mapping.blank", m.blank.as_ref().map(|s| s.span()), &[Kind::Profiles, Kind::Events]),
            ("mapping.opt_outs", m.opt_outs.as_ref().map(|s| s.span()), &[Kind::Profiles, Kind::Events]),
            (
                "mapping.custom_id_trim",
                m.custom_id_trim.as_ref().map(|s| s.span()),
                &[Kind::Profiles, Kind::Events, Kind::Audience],
            ),
            ("api.event_max_age", raw.api.event_max_age.as_ref().map(|s| s.span()), &[Kind::Events]),
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
                // `http://127.0.0.1:1@api.batch.com` is api.batch.com, its user
                // `127.0.0.1`: no user or password in the URL (nor keys: they
                // come from the environment).
                let authority = url.split_once("://").map_or("", |(_, r)| r).split(['/', '?', '#']).next();
                if authority.is_some_and(|a| a.contains('@')) {
                    return self.err(
                        u.span(),
                        // Not echoed: the part before `@` may be a password.
                        "api.base_url holds a user name or password (`…@` before the host): give the host alone; \
                         keys come from the environment",
                    );
                }
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
            lim.rates.iter().find(|r| r.unit == batchport_api::limits::RateUnit::Updates).map(|r| r.per_second);
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
        // with 5,000, at the same sustained rate). Whatever `rate` says: it is
        // Batch's bucket that the calls must fit in.
        let no_burst =
            lim.rates.iter().find(|r| r.unit == batchport_api::limits::RateUnit::Updates && r.burst == r.per_second);
        let default_batch = match no_burst {
            Some(r) => lim.max_ops.min((r.burst as usize / 2).max(1)),
            None => lim.max_ops,
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
            rest_key_env: self.key_env("api.rest_key_env", &a.rest_key_env, "BATCH_REST_KEY")?,
            project_key_env: self.key_env("api.project_key_env", &a.project_key_env, "BATCH_PROJECT_KEY")?,
            rate,
            concurrency,
            batch_size,
            event_max_age: match &a.event_max_age {
                None => Some(chrono::Duration::hours(24)),
                Some(s) => batchport_api::check::parse_age(s.get_ref())
                    .or_else(|m| self.err(s.span(), format!("api.event_max_age: {m}")))?,
            },
        })
    }

    /// The name of the variable holding a key. Only `BATCH_*` names: a job
    /// file must not be able to make `HOME` or `AWS_SECRET_ACCESS_KEY` the
    /// bearer token sent to a server.
    fn key_env(&self, key: &str, v: &Option<Spanned<String>>, default: &str) -> Result<String, JobError> {
        let Some(v) = v else { return Ok(default.to_string()) };
        let name = v.get_ref();
        let valid = name.starts_with("BATCH_")
            && name.len() > "BATCH_".len()
            && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return self.err(
                v.span(),
                format!(
                    "{key} `{}` must be an environment variable name beginning with `BATCH_` (upper case, digits, `_`), e.g. BATCH_STAGING_REST_KEY",
                    name.escape_debug()
                ),
            );
        }
        Ok(name.clone())
    }

    fn source(&self, s: &SourceSection) -> Result<SourceSettings, JobError> {
        let mut options = batchport_source::SourceOptions::default();
        if let Some(d) = &s.delimiter {
            options.delimiter =
                d.get_ref().parse().or_else(|e: String| self.err(d.span(), format!("source.delimiter: {e}")))?;
        }
        if let Some(e) = &s.encoding {
            options.encoding =
                e.get_ref().parse().or_else(|m: String| self.err(e.span(), format!("source.encoding: {m}")))?;
        }
        if let Some(f) = &s.format {
            options.format =
                f.get_ref().parse().or_else(|m: String| self.err(f.span(), format!("source.format: {m}")))?;
        }
        if s.path.get_ref().trim().is_empty() {
            return self.err(s.path.span(), "source.path is empty");
        }
        if let Some(e) = &s.endpoint {
            let url = e.get_ref().trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return self
                    .err(e.span(), "source.endpoint: give the store's base URL, e.g. \"https://s3.fr-par.scw.cloud\"");
            }
            if !batchport_source::objstore::is_url(s.path.get_ref()) {
                return self
                    .err(e.span(), "source.endpoint is for object store paths (s3://bucket/...), not local files");
            }
            options.endpoint = Some(url.trim_end_matches('/').to_string());
        }
        Ok(SourceSettings { pattern: s.path.get_ref().clone(), base_dir: self.base_dir.clone(), options })
    }

    pub(super) fn column(&self, key: &str, s: &Spanned<String>) -> Result<Column, JobError> {
        let name = s.get_ref().trim();
        if name.is_empty() {
            return self.err(s.span(), format!("{key}: the column name is empty"));
        }
        Ok(Column { name: name.to_string(), key: key.to_string(), line: self.lines.line(s.span().start) })
    }

    pub(super) fn required_column(&self, key: &str, s: &Option<Spanned<String>>) -> Result<Column, JobError> {
        match s {
            Some(s) => self.column(key, s),
            None => Err(self.lines.file(format!("`{key}` is missing: name the column that holds it"))),
        }
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
