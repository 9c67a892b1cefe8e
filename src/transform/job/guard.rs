//! `[guard]` and `[notify]`, resolved: what an unattended run must look like
//! before anything is sent, and whom to tell how it ended. Each guard is on
//! by default (`GuardSettings::defaults`) and can be set or turned off with
//! `false`; every error names the key and its line.

use super::error::JobError;
use super::file::{GuardSection, NotifySection};
use super::resolve::{Resolver, one_of};
use super::settings::{AudienceMode, Kind, Mapping};
use toml::Spanned;

/// The guards' names, as `[guard]` keys, `--override-guard` and summaries say them.
pub const GUARD_NAMES: [&str; 6] =
    ["refuse_empty", "min_rows", "min_rows_share", "max_rejects_share", "max_changed_share", "max_clears_share"];

/// `[guard]`: the limits a run is judged by before its first request. `None`: off.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardSettings {
    /// `refuse_empty` (default true; false for an audience with
    /// `allow_empty = true`): an input with no row is refused.
    pub refuse_empty: bool,
    /// `min_rows` (default off): fewer rows than this are refused.
    pub min_rows: Option<u64>,
    /// `min_rows_share` (default 0.5): fewer rows than this share of the
    /// last successful run's are refused.
    pub min_rows_share: Option<f64>,
    /// `max_rejects_share` (default 0.5): more rejected rows than this share
    /// of the rows read are refused.
    pub max_rejects_share: Option<f64>,
    /// `max_changed_share` (default 0.5, `changed_only` jobs): more changed
    /// rows than this share of the rows read are refused.
    pub max_changed_share: Option<f64>,
    /// `max_clears_share` (default 0.5, `blank = "clear"` jobs): more values
    /// sent as `null` than this share of the values the rows map are refused.
    pub max_clears_share: Option<f64>,
    /// `min_rows_for_shares` (default 100): the shares are judged only for
    /// an input (for `min_rows_share`: a baseline) of at least this many
    /// rows; a share of a handful of rows is chance.
    pub min_rows_for_shares: u64,
}

impl GuardSettings {
    /// The defaults of a job of this mapping.
    pub fn defaults(mapping: &Mapping) -> GuardSettings {
        // An audience replace that may empty the audience says so itself.
        let empty_allowed = matches!(mapping, Mapping::Audience(a) if a.allow_empty && a.mode == AudienceMode::Replace);
        GuardSettings {
            refuse_empty: !empty_allowed,
            min_rows: None,
            min_rows_share: Some(0.5),
            max_rejects_share: Some(0.5),
            max_changed_share: Some(0.5),
            max_clears_share: Some(0.5),
            min_rows_for_shares: 100,
        }
    }
}

/// `[notify] events`: which endings are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyEvent {
    /// `failed`: the run stopped on an error.
    Failed,
    /// `refused`: a guard (or the audience check) refused the run.
    Refused,
    /// `rejects`: the run ended with rejected or partially applied rows.
    Rejects,
    /// `uncertain`: the run ended with rows held, their outcome unknown.
    Uncertain,
    /// `recovered`: the first success after a failed or refused run.
    Recovered,
}

impl NotifyEvent {
    /// All of them, in the order the job file lists them (the default).
    pub const ALL: [NotifyEvent; 5] = [
        NotifyEvent::Failed,
        NotifyEvent::Refused,
        NotifyEvent::Rejects,
        NotifyEvent::Uncertain,
        NotifyEvent::Recovered,
    ];

    /// The name the job file and the summary use.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::Failed => "failed",
            NotifyEvent::Refused => "refused",
            NotifyEvent::Rejects => "rejects",
            NotifyEvent::Uncertain => "uncertain",
            NotifyEvent::Recovered => "recovered",
        }
    }
}

/// `[notify] format`: the webhook body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyFormat {
    /// `json` (default): `{"message": "...", "summary": {...}}`.
    Json,
    /// `slack`: `{"text": "..."}`, which Slack (and Mattermost, Discord's
    /// `/slack` endpoints, Teams workflows) take.
    Slack,
}

/// `[notify]`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifySettings {
    /// `url_env`: the environment variable holding the webhook URL (a
    /// secret: never in the job file).
    pub url_env: String,
    /// `events` (default: all).
    pub events: Vec<NotifyEvent>,
    /// `format` (default `json`).
    pub format: NotifyFormat,
}

impl Resolver<'_> {
    pub(super) fn guard(
        &self,
        g: Option<&GuardSection>,
        mapping: &Mapping,
        kind: Kind,
    ) -> Result<GuardSettings, JobError> {
        let mut out = GuardSettings::defaults(mapping);
        let Some(g) = g else { return Ok(out) };
        if kind == Kind::Export {
            let span =
                [&g.min_rows, &g.min_rows_share, &g.max_rejects_share, &g.max_changed_share, &g.max_clears_share]
                    .into_iter()
                    .flatten()
                    .map(|s| s.span())
                    .chain(g.refuse_empty.as_ref().map(|s| s.span()))
                    .chain(g.min_rows_for_shares.as_ref().map(|s| s.span()))
                    .next()
                    .unwrap_or(0..0);
            return self.err(span, "[guard] is for jobs that read an input; an export job sends nothing");
        }
        if let Some(e) = &g.refuse_empty {
            out.refuse_empty = *e.get_ref();
        }
        if let Some(n) = &g.min_rows_for_shares {
            out.min_rows_for_shares = u64::try_from(*n.get_ref()).or_else(|_| {
                self.err(n.span(), "guard.min_rows_for_shares must be a whole number of rows, 0 or more")
            })?;
        }
        if let Some(v) = &g.min_rows {
            out.min_rows = match v.get_ref() {
                toml::Value::Boolean(false) => None,
                toml::Value::Integer(n) if *n >= 1 => Some(*n as u64),
                _ => {
                    return self
                        .err(v.span(), "guard.min_rows must be a whole number of rows, at least 1, or false (off)");
                }
            };
        }
        for (key, raw, slot) in [
            ("min_rows_share", &g.min_rows_share, &mut out.min_rows_share),
            ("max_rejects_share", &g.max_rejects_share, &mut out.max_rejects_share),
            ("max_changed_share", &g.max_changed_share, &mut out.max_changed_share),
            ("max_clears_share", &g.max_clears_share, &mut out.max_clears_share),
        ] {
            if let Some(v) = raw {
                *slot = self.share(key, v)?;
            }
        }
        Ok(out)
    }

    /// A share between 0 and 1 (`0.5`, or `1` written as an integer), or `false`.
    fn share(&self, key: &str, v: &Spanned<toml::Value>) -> Result<Option<f64>, JobError> {
        let n = match v.get_ref() {
            toml::Value::Boolean(false) => return Ok(None),
            toml::Value::Float(f) => *f,
            toml::Value::Integer(i) => *i as f64,
            _ => f64::NAN,
        };
        if !(0.0..=1.0).contains(&n) {
            return self
                .err(v.span(), format!("guard.{key} must be a share between 0 and 1 (0.5 is half), or false (off)"));
        }
        Ok(Some(n))
    }

    pub(super) fn notify(
        &self,
        n: Option<&NotifySection>,
        key_envs: [&str; 2],
    ) -> Result<Option<NotifySettings>, JobError> {
        let Some(n) = n else { return Ok(None) };
        let name = n.url_env.get_ref();
        check_url_env(name, key_envs).or_else(|m| self.err(n.url_env.span(), m))?;
        let events = match &n.events {
            None => NotifyEvent::ALL.to_vec(),
            Some(list) => events_of(list.get_ref()).or_else(|m| self.err(list.span(), m))?,
        };
        let format = match &n.format {
            None => NotifyFormat::Json,
            Some(f) => format_of(f.get_ref()).or_else(|m| self.err(f.span(), m))?,
        };
        Ok(Some(NotifySettings { url_env: name.clone(), events, format }))
    }
}

impl NotifySettings {
    /// A `[notify]` given outside a job file (`schedule --notify-url-env`):
    /// the same checks, errors without a line. `None` events: all of them.
    pub fn from_flags(
        url_env: &str,
        events: Option<&[String]>,
        format: Option<&str>,
    ) -> Result<NotifySettings, String> {
        check_url_env(url_env, ["BATCH_REST_KEY", "BATCH_PROJECT_KEY"])?;
        Ok(NotifySettings {
            url_env: url_env.to_string(),
            events: match events {
                None => NotifyEvent::ALL.to_vec(),
                Some(list) => events_of(list)?,
            },
            format: format.map_or(Ok(NotifyFormat::Json), format_of)?,
        })
    }

    /// Whether `url_env` names one of `job`'s key variables (such a default
    /// is not applied to it: the keys never leave).
    pub fn names_a_key_of(&self, job: &super::Job) -> bool {
        [&job.api.rest_key_env, &job.api.project_key_env].contains(&&self.url_env)
    }
}

/// `url_env` is a variable name, and not one holding an API key.
fn check_url_env(name: &str, key_envs: [&str; 2]) -> Result<(), String> {
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(format!(
            "notify.url_env `{}` must be the name of an environment variable (upper case, digits, `_`) \
             holding the webhook URL, e.g. BATCHPORT_WEBHOOK_URL; the URL itself is a secret and never goes in the job file",
            name.escape_debug()
        ));
    }
    // The API keys must never leave for another server.
    if key_envs.contains(&name) {
        return Err(format!(
            "notify.url_env `{name}` is the variable of an API key: name the one holding the webhook URL"
        ));
    }
    Ok(())
}

fn events_of(list: &[String]) -> Result<Vec<NotifyEvent>, String> {
    let mut out = Vec::new();
    for e in list {
        let Some(ev) = NotifyEvent::ALL.into_iter().find(|k| k.as_str() == e.trim()) else {
            let names: Vec<&str> = NotifyEvent::ALL.iter().map(|k| k.as_str()).collect();
            return Err(format!("notify.events: {}", one_of(e, &names)));
        };
        if !out.contains(&ev) {
            out.push(ev);
        }
    }
    Ok(out)
}

fn format_of(f: &str) -> Result<NotifyFormat, String> {
    match f {
        "json" => Ok(NotifyFormat::Json),
        "slack" => Ok(NotifyFormat::Slack),
        other => Err(format!("notify.format {}", one_of(other, &["json", "slack"]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn job(extra: &str) -> Result<crate::job::Job, JobError> {
        crate::job::parse(
            &format!(
                "[job]\nname = \"j\"\nkind = \"profiles\"\n[source]\npath = \"a.csv\"\n[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nplan = \"plan\"\n{extra}"
            ),
            Path::new("job.toml"),
        )
    }

    #[test]
    fn every_guard_is_on_by_default_and_each_can_be_set_or_turned_off() {
        let j = job("").unwrap();
        assert_eq!(j.guard, GuardSettings::defaults(&j.mapping));
        assert!(j.guard.refuse_empty && j.guard.min_rows.is_none());
        assert_eq!((j.guard.min_rows_share, j.guard.min_rows_for_shares), (Some(0.5), 100));
        assert!(j.notify.is_none() && j.metrics_file.is_none());
        let j = job("[guard]\nrefuse_empty = false\nmin_rows = 10\nmin_rows_share = 1\nmax_rejects_share = false\nmax_changed_share = 0\nmin_rows_for_shares = 0\n").unwrap();
        let g = &j.guard;
        assert!(!g.refuse_empty);
        assert_eq!((g.min_rows, g.min_rows_share, g.max_rejects_share), (Some(10), Some(1.0), None));
        assert_eq!((g.max_changed_share, g.max_clears_share, g.min_rows_for_shares), (Some(0.0), Some(0.5), 0));
    }

    #[test]
    fn an_audience_that_may_be_emptied_does_not_refuse_an_empty_input() {
        let j = crate::job::parse(
            "[job]\nname = \"a\"\nkind = \"audience\"\n[source]\npath = \"a.csv\"\n[audience]\nname = \"vip\"\nmode = \"replace\"\nallow_empty = true\n[mapping]\ncustom_id = \"id\"\n",
            Path::new("job.toml"),
        )
        .unwrap();
        assert!(!j.guard.refuse_empty);
    }

    #[test]
    fn notify_defaults_and_errors_name_the_key_and_line() {
        let j = job("[notify]\nurl_env = \"HOOK_URL\"\n").unwrap();
        let n = j.notify.unwrap();
        assert_eq!(
            (n.url_env.as_str(), n.format, n.events),
            ("HOOK_URL", NotifyFormat::Json, NotifyEvent::ALL.to_vec())
        );
        let j = job(
            "[notify]\nurl_env = \"HOOK_URL\"\nevents = [\"failed\", \"failed\", \"recovered\"]\nformat = \"slack\"\n",
        )
        .unwrap();
        let n = j.notify.unwrap();
        assert_eq!((n.format, n.events), (NotifyFormat::Slack, vec![NotifyEvent::Failed, NotifyEvent::Recovered]));
        for (extra, line, says) in [
            ("[notify]\nurl_env = \"BATCH_PROJECT_KEY\"\n", 11, "API key"),
            ("[notify]\nurl_env = \"hook\"\n", 11, "environment variable"),
            ("[notify]\nurl_env = \"H\"\nevents = [\"always\"]\n", 12, "`always` is not one of"),
            ("[guard]\nmax_clears_share = -0.1\n", 11, "between 0 and 1"),
            ("[guard]\nmin_rows_for_shares = -1\n", 11, "min_rows_for_shares"),
        ] {
            let e = job(extra).unwrap_err().to_string();
            assert!(e.starts_with(&format!("job.toml:{line}:")) && e.contains(says), "{extra}: {e}");
        }
    }
}
