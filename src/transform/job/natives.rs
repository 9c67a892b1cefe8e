//! The richer forms of `[mapping]` a migration needs: Custom ID fallbacks
//! (`custom_id = ["id", { column = "email", lowercase = true }]`), natives as
//! tables (a constant `value`, a channel told by a type column with
//! `when`/`is`, a phone `region`), and subscriptions decided by several columns
//! (`suppressed_by`: an opt-out anywhere in the row wins).

use super::error::JobError;
use super::file::{IdTable, NativeTable, SubscriptionTable, Suppression};
use super::resolve::Resolver;
use super::settings::*;
use super::subscription::SubscriptionValues;
use toml::Spanned;

/// The words a plain `email_marketing = "column"` understands.
const DEFAULT_SUBSCRIBED: &[&str] = &["subscribed", "yes", "true", "1"];
const DEFAULT_UNSUBSCRIBED: &[&str] = &["unsubscribed", "no", "false", "0"];

impl Resolver<'_> {
    /// `custom_id` in any of its forms; at least one column.
    pub(super) fn id_columns(&self, key: &str, v: &Option<Spanned<toml::Value>>) -> Result<Vec<IdColumn>, JobError> {
        let Some(v) = v else {
            return Err(self.lines.file(format!("`{key}` is missing: name the column that holds it")));
        };
        let line = self.lines.line(v.span().start);
        let one = |item: &toml::Value| -> Result<IdColumn, JobError> {
            let (name, lowercase) = match item {
                toml::Value::String(s) => (s.trim().to_string(), false),
                other => {
                    let t: IdTable = other.clone().try_into().or_else(|e: toml::de::Error| {
                        self.err(
                            v.span(),
                            format!("{key}: {} (a column, {{ column, lowercase }}, or a list of them)", e.message()),
                        )
                    })?;
                    (t.column.trim().to_string(), t.lowercase)
                }
            };
            if name.is_empty() {
                return self.err(v.span(), format!("{key}: the column name is empty"));
            }
            Ok(IdColumn { column: Column { name, key: key.to_string(), line }, lowercase })
        };
        let cols = match v.get_ref() {
            toml::Value::Array(items) if items.is_empty() => {
                return self.err(v.span(), format!("{key}: the list of columns is empty"));
            }
            toml::Value::Array(items) => items.iter().map(one).collect::<Result<Vec<_>, _>>()?,
            other => vec![one(other)?],
        };
        if let Some(dup) =
            cols.iter().enumerate().find(|(i, c)| cols[..*i].iter().any(|d| d.column.name == c.column.name))
        {
            return self.err(v.span(), format!("{key}: column `{}` is listed twice", dup.1.column.name));
        }
        Ok(cols)
    }

    /// A native other than a subscription: `"column"` or a `NativeTable`.
    pub(super) fn native_entry(
        &self,
        key: &str,
        kind: NativeKind,
        v: &Spanned<toml::Value>,
    ) -> Result<NativeMap, JobError> {
        let line = self.lines.line(v.span().start);
        let t = match v.get_ref() {
            toml::Value::String(s) => {
                let column = self.named(key, s, v)?;
                return Ok(NativeMap { kind, column, rule: NativeRule::default() });
            }
            other => other
                .clone()
                .try_into::<NativeTable>()
                .or_else(|e: toml::de::Error| self.err(v.span(), format!("{key}: {}", e.message())))?,
        };
        let phone = kind == NativeKind::Phone;
        if !phone && (t.region.is_some() || t.region_column.is_some()) {
            return self.err(v.span(), format!("{key}: `region` and `region_column` go with phone_number"));
        }
        if let Some(r) = &t.region
            && !(r.len() == 2 && r.parse::<phonenumber::country::Id>().is_ok())
        {
            return self.err(v.span(), format!("{key}: region `{r}` is not a two-letter country code (e.g. FR, US)"));
        }
        let (column, constant) = self.column_or_value(key, line, t.column, t.value, v)?;
        let mut rule = NativeRule { constant, ..NativeRule::default() };
        rule.when = self.when(key, line, t.when, t.is, v)?;
        rule.region = t.region.map(|r| r.to_ascii_uppercase());
        rule.region_column = match t.region_column {
            Some(c) => Some(self.named(key, &c, v)?),
            None => None,
        };
        if let Some(c) = &rule.constant {
            let mut out = Vec::new();
            crate::value::native(&kind, c, &mut out).or_else(|m| self.err(v.span(), format!("{key}: value: {m}")))?;
        }
        Ok(NativeMap { kind, column, rule })
    }

    /// `email_marketing` / `sms_marketing`: a column with the default words, or a
    /// `SubscriptionTable`.
    pub(super) fn subscription_entry(
        &self,
        key: &str,
        email: bool,
        v: &Spanned<toml::Value>,
    ) -> Result<NativeMap, JobError> {
        let lower = |v: &[String]| v.iter().map(|s| s.trim().to_lowercase()).collect::<Vec<_>>();
        let defaults = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let kind = |values| if email { NativeKind::EmailMarketing(values) } else { NativeKind::SmsMarketing(values) };
        let line = self.lines.line(v.span().start);
        let t = match v.get_ref() {
            toml::Value::String(s) => {
                let values = SubscriptionValues {
                    subscribed: defaults(DEFAULT_SUBSCRIBED),
                    unsubscribed: defaults(DEFAULT_UNSUBSCRIBED),
                    undecided: Vec::new(),
                    when_set: false,
                };
                return Ok(NativeMap {
                    kind: kind(values),
                    column: self.named(key, s, v)?,
                    rule: NativeRule::default(),
                });
            }
            other => other
                .clone()
                .try_into::<SubscriptionTable>()
                .or_else(|e: toml::de::Error| self.err(v.span(), format!("{key}: {}", e.message())))?,
        };
        let (subscribed, unsubscribed, undecided) = (lower(&t.subscribed), lower(&t.unsubscribed), lower(&t.undecided));
        let only_suppressions = t.column.is_none() && t.value.is_none() && !t.suppressed_by.is_empty();
        let when_set = match t.when_set.as_deref() {
            None => false,
            Some("subscribed") if t.column.is_some() => true,
            Some("subscribed") => {
                return self.err(v.span(), format!("{key}: `when_set` reads a `column` (the column of opt-in dates)"));
            }
            Some(other) => {
                return self.err(
                    v.span(),
                    format!(
                        "{key}: when_set = \"{}\": only \"subscribed\" (an opt-out column is `suppressed_by`)",
                        other.escape_debug()
                    ),
                );
            }
        };
        let mut values = SubscriptionValues { subscribed, unsubscribed, undecided, when_set };
        if t.value.is_some() || only_suppressions {
            if !(values.subscribed.is_empty() && values.unsubscribed.is_empty()) {
                return self.err(
                    v.span(),
                    format!("{key}: `subscribed`/`unsubscribed` list a column's values; `value` is the value"),
                );
            }
            values.subscribed = vec!["subscribed".into()];
            values.unsubscribed = vec!["unsubscribed".into()];
        } else if values.subscribed.is_empty() && values.unsubscribed.is_empty() && !values.when_set {
            return self
                .err(v.span(), format!(
                    "{key}: list the column's values in `subscribed` and/or `unsubscribed`, or say when_set = \"subscribed\""
                ));
        }
        for (a, b, an, bn) in [
            (&values.subscribed, &values.unsubscribed, "subscribed", "unsubscribed"),
            (&values.subscribed, &values.undecided, "subscribed", "undecided"),
            (&values.unsubscribed, &values.undecided, "unsubscribed", "undecided"),
        ] {
            if let Some(both) = a.iter().find(|s| b.contains(s)) {
                return self.err(v.span(), format!("{key}: `{both}` is in both `{an}` and `{bn}`"));
            }
        }
        let (column, constant) = if only_suppressions {
            let names: Vec<&str> = t.suppressed_by.iter().map(Suppression::column).collect();
            (Column { name: format!("suppressed_by {names:?}"), key: key.to_string(), line }, None)
        } else {
            self.column_or_value(key, line, t.column, t.value, v)?
        };
        if let Some(c) = &constant
            && !matches!(c.trim().to_lowercase().as_str(), "subscribed" | "unsubscribed")
        {
            return self.err(v.span(), format!("{key}: value `{c}` is not \"subscribed\" or \"unsubscribed\""));
        }
        let (mut suppressed_by, mut suppressed_when) = (Vec::new(), Vec::new());
        for e in &t.suppressed_by {
            let col = self.named(&format!("{key}.suppressed_by"), e.column(), v)?;
            let (values, except) = match e {
                Suppression::Set(_) => {
                    suppressed_by.push(col);
                    continue;
                }
                Suppression::Values(x) => (&x.is, false),
                Suppression::Except(x) => (&x.not, true),
            };
            if values.is_empty() {
                let which = if except { "not" } else { "is" };
                return self
                    .err(v.span(), format!("{key}.suppressed_by: `{which}` lists no value of `{}`", e.column()));
            }
            suppressed_when.push(ValueSuppression { column: col, values: lower(values), except });
        }
        if !t.unless_columns.is_empty() && constant.is_none() {
            return self.err(v.span(), format!("{key}: `unless_columns` guards a constant `value`; there is none"));
        }
        let rule = NativeRule {
            constant: constant.map(|c| c.trim().to_lowercase()),
            when: self.when(key, line, t.when, t.is, v)?,
            suppressed_by,
            suppressed_when,
            region: None,
            region_column: None,
            only_suppressions,
            unless_columns: t.unless_columns,
        };
        Ok(NativeMap { kind: kind(values), column, rule })
    }

    /// Exactly one of `column` and `value`.
    pub(super) fn column_or_value(
        &self,
        key: &str,
        line: usize,
        column: Option<String>,
        value: Option<String>,
        v: &Spanned<toml::Value>,
    ) -> Result<(Column, Option<String>), JobError> {
        match (column, value) {
            (Some(c), None) => Ok((self.named(key, &c, v)?, None)),
            (None, Some(val)) if val.trim().is_empty() => self.err(v.span(), format!("{key}: value is empty")),
            (None, Some(val)) => Ok((
                Column { name: format!("value \"{val}\""), key: key.to_string(), line },
                Some(val.trim().to_string()),
            )),
            (Some(_), Some(_)) => self.err(v.span(), format!("{key}: give `column` or `value`, not both")),
            (None, None) => self.err(v.span(), format!("{key}: `column` (or a constant `value`) is missing")),
        }
    }

    fn when(
        &self,
        key: &str,
        line: usize,
        when: Option<String>,
        is: Vec<String>,
        v: &Spanned<toml::Value>,
    ) -> Result<Option<(Column, Vec<String>)>, JobError> {
        match (when, is.is_empty()) {
            (None, true) => Ok(None),
            (Some(c), false) => {
                let name = c.trim().to_string();
                if name.is_empty() {
                    return self.err(v.span(), format!("{key}: `when` names an empty column"));
                }
                let col = Column { name, key: format!("{key}.when"), line };
                Ok(Some((col, is.iter().map(|s| s.trim().to_lowercase()).collect())))
            }
            _ => self.err(v.span(), format!("{key}: `when` (a column) and `is` (its values) go together")),
        }
    }

    fn named(&self, key: &str, name: &str, v: &Spanned<toml::Value>) -> Result<Column, JobError> {
        let name = name.trim();
        if name.is_empty() {
            return self.err(v.span(), format!("{key}: the column name is empty"));
        }
        Ok(Column { name: name.to_string(), key: key.to_string(), line: self.lines.line(v.span().start) })
    }
}
