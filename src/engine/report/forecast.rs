//! What `validate` tells a person before anything is sent: rejects grouped by
//! column and reason (with counts and the first lines), and what the consent
//! attributes will be (email / SMS: subscribed, unsubscribed, not sent), next
//! to the list of attributes the job sends. `--json` carries the same as the
//! optional `forecast` field.
//!
//! [`Forecast`] and its parts are plain data and part of the library facade
//! (re-exported at the crate root, reached through `Summary::forecast`);
//! [`Tally`] is the counting behind them, internal.

use batchport_transform::job::{Job, Mapping, NativeKind};
use batchport_transform::{Op, Reject};
use serde::Serialize;
use std::collections::HashMap;

/// Line numbers kept per group.
const FIRST_LINES: usize = 5;
/// Distinct groups kept; the rest are counted as "other" (bounded memory).
const MAX_GROUPS: usize = 200;

/// What `validate` found the job would do, before anything is sent: the
/// `forecast` of its summary (`--json` prints it as is).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Forecast {
    /// Rows that would be rejected, grouped by column and reason (at most 200
    /// groups; the rest are counted under "other reasons").
    pub rejects: Vec<RejectGroup>,
    /// What the valid rows would send as `$email_marketing`.
    pub email_marketing: ConsentCounts,
    /// What the valid rows would send as `$sms_marketing`.
    pub sms_marketing: ConsentCounts,
    /// The attributes the job sends (wire names), in mapping order.
    pub attributes: Vec<String>,
    /// Values that would be left out of rows that are sent
    /// (`on_bad_value = "drop"`), grouped like `rejects`.
    pub values_dropped: Vec<RejectGroup>,
    /// Where each value of the consent columns went: per channel and source
    /// value, how many rows sent subscribed, unsubscribed or nothing (an
    /// opt-out in another column can make a row that says "yes" send
    /// unsubscribed). At most 50 values per channel, the rest counted under
    /// `(other values)`.
    pub consent_values: Vec<ConsentValue>,
}

/// Rows whose consent column held one value, and what they would send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ConsentValue {
    /// `email` or `sms`.
    pub channel: &'static str,
    /// The source column the channel's consent is read from.
    pub column: String,
    /// The value as written (trimmed); empty for a blank cell.
    pub value: String,
    /// Rows with it sending `subscribed`.
    pub subscribed: u64,
    /// Rows with it sending `unsubscribed`.
    pub unsubscribed: u64,
    /// Rows with it sending nothing for this channel.
    pub not_sent: u64,
}

/// Distinct source values kept per consent channel.
const MAX_CONSENT_VALUES: usize = 50;

/// Rejects of one column for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RejectGroup {
    /// The source column at fault (its header), empty for the whole row.
    pub column: String,
    /// The reason with the cell's value taken out (`… is not a number`).
    pub reason: String,
    /// Rows rejected so.
    pub count: u64,
    /// The source lines of the first few of them.
    pub first_lines: Vec<u64>,
}

/// How many valid rows would send a consent attribute as subscribed,
/// unsubscribed, or not at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ConsentCounts {
    /// Rows sending `subscribed`.
    pub subscribed: u64,
    /// Rows sending `unsubscribed`.
    pub unsubscribed: u64,
    /// Rows sending nothing for this channel.
    pub not_sent: u64,
}

/// Counts a [`Forecast`] row by row (`validate`).
#[derive(Debug, Default)]
pub struct Tally {
    forecast: Forecast,
    index: HashMap<(String, String), usize>,
    dropped_index: HashMap<(String, String), usize>,
    /// The email and SMS consent columns the job maps.
    consent_columns: [Option<String>; 2],
    /// Per channel: source value → its entry in `consent_values`.
    values_index: [HashMap<String, usize>; 2],
}

impl Tally {
    /// An empty tally for `job`: its attributes listed.
    pub fn new(job: &Job) -> Tally {
        let (native, attrs) = match &job.mapping {
            Mapping::Profiles(p) => (&p.native[..], &p.attributes[..]),
            Mapping::Events(e) => (&e.profile.native[..], &e.profile.attributes[..]),
            Mapping::Audience(a) => (&[][..], &a.attributes[..]),
            Mapping::Catalog(c) => (&[][..], &c.attributes[..]),
            Mapping::Export(_) => (&[][..], &[][..]),
        };
        let attributes = native
            .iter()
            .map(|n| n.kind.wire_name().to_string())
            .chain(attrs.iter().map(|a| a.wire_name.clone()))
            .collect();
        let mut consent_columns = [None, None];
        for n in native {
            let slot = match n.kind {
                NativeKind::EmailMarketing(_) => 0,
                NativeKind::SmsMarketing(_) => 1,
                _ => continue,
            };
            if consent_columns[slot].is_none() && !n.column.name.is_empty() {
                consent_columns[slot] = Some(n.column.name.clone());
            }
        }
        Tally { forecast: Forecast { attributes, ..Forecast::default() }, consent_columns, ..Tally::default() }
    }

    /// What a valid row with these consent cells (`Checked`'s last member)
    /// would send, per source value.
    pub fn add_consent_values(&mut self, cells: &[Option<String>; 2], email: Consent, sms: Consent) {
        for (slot, outcome) in [(0, email), (1, sms)] {
            let (Some(value), Some(column)) = (&cells[slot], &self.consent_columns[slot]) else { continue };
            let index = &mut self.values_index[slot];
            let values = &mut self.forecast.consent_values;
            let i = match index.get(value.as_str()) {
                Some(&i) => i,
                None => {
                    let value =
                        if index.len() < MAX_CONSENT_VALUES { value.clone() } else { "(other values)".to_string() };
                    *index.entry(value.clone()).or_insert_with(|| {
                        values.push(ConsentValue {
                            channel: if slot == 0 { "email" } else { "sms" },
                            column: column.clone(),
                            value,
                            subscribed: 0,
                            unsubscribed: 0,
                            not_sent: 0,
                        });
                        values.len() - 1
                    })
                }
            };
            let v = &mut values[i];
            match outcome {
                Consent::Subscribed => v.subscribed += 1,
                Consent::Unsubscribed => v.unsubscribed += 1,
                Consent::NotSent => v.not_sent += 1,
            }
        }
    }

    /// The forecast so far (consent values: email first, then by rows).
    pub fn finish(mut self) -> Forecast {
        self.forecast
            .consent_values
            .sort_by_key(|v| (v.channel != "email", std::cmp::Reverse(v.subscribed + v.unsubscribed + v.not_sent)));
        self.forecast
    }

    /// A row that would be sent.
    pub fn add_op(&mut self, op: &Op) {
        let (email, sms) = Consent::both(&op.attrs);
        self.add_consent(email, sms);
    }

    /// A valid row's consent values, found by [`Consent::both`] where the row
    /// was transformed (off this thread).
    pub fn add_consent(&mut self, email: Consent, sms: Consent) {
        self.forecast.email_marketing.add(email);
        self.forecast.sms_marketing.add(sms);
    }

    /// A row that would be rejected.
    pub fn add_reject(&mut self, r: &Reject) {
        group(&mut self.forecast.rejects, &mut self.index, &r.column, &r.reason, r.pos.line);
    }

    /// A value a sent row would leave out, at `line`.
    pub fn add_dropped(&mut self, line: u64, column: &str, reason: &str) {
        group(&mut self.forecast.values_dropped, &mut self.dropped_index, column, reason, line);
    }
}

/// Count one (column, reason) at `line` into `groups`, at most `MAX_GROUPS`.
fn group(
    rejects: &mut Vec<RejectGroup>,
    index: &mut HashMap<(String, String), usize>,
    column: &str,
    reason: &str,
    line: u64,
) {
    {
        let key = (column.to_string(), generic(reason));
        let i = match index.get(&key) {
            Some(&i) => i,
            None if rejects.len() < MAX_GROUPS => {
                rejects.push(RejectGroup {
                    column: key.0.clone(),
                    reason: key.1.clone(),
                    count: 0,
                    first_lines: Vec::new(),
                });
                index.insert(key, rejects.len() - 1);
                rejects.len() - 1
            }
            None => {
                let other = ("".to_string(), "other reasons".to_string());
                *index.entry(other.clone()).or_insert_with(|| {
                    rejects.push(RejectGroup { column: other.0, reason: other.1, count: 0, first_lines: Vec::new() });
                    rejects.len() - 1
                })
            }
        };
        let g = &mut rejects[i];
        g.count += 1;
        if g.first_lines.len() < FIRST_LINES {
            g.first_lines.push(line);
        }
    }
}

impl Forecast {
    /// For people, on stderr: the biggest groups first.
    pub(crate) fn human(&self) -> String {
        let mut s = String::new();
        if !self.rejects.is_empty() {
            s.push_str("  rejects by column and reason:\n");
            let mut groups: Vec<&RejectGroup> = self.rejects.iter().collect();
            groups.sort_by_key(|g| std::cmp::Reverse(g.count));
            for g in groups {
                let lines: Vec<String> = g.first_lines.iter().map(u64::to_string).collect();
                let more = if g.count > g.first_lines.len() as u64 { ", ..." } else { "" };
                let col = if g.column.is_empty() { "(row)".to_string() } else { format!("`{}`", g.column) };
                s.push_str(&format!("    {:>8}  {col}: {} (lines {}{more})\n", g.count, g.reason, lines.join(", ")));
            }
        }
        if !self.attributes.is_empty() {
            s.push_str(&format!("  attributes sent: {}\n", self.attributes.join(", ")));
        }
        // A job that sends no consent at all (events, audiences, profiles
        // without it) gets no all-zero table.
        let sends = |c: &ConsentCounts| c.subscribed + c.unsubscribed > 0;
        if sends(&self.email_marketing) || sends(&self.sms_marketing) || !self.consent_values.is_empty() {
            s.push_str("  consent          subscribed  unsubscribed    not sent\n");
            for (name, c) in [("email", self.email_marketing), ("SMS", self.sms_marketing)] {
                s.push_str(&format!("    {name:<13}{:>12}{:>14}{:>12}\n", c.subscribed, c.unsubscribed, c.not_sent));
            }
        }
        let mut column = None;
        for v in &self.consent_values {
            if column != Some((v.channel, &v.column)) {
                column = Some((v.channel, &v.column));
                let channel = if v.channel == "email" { "email" } else { "SMS" };
                s.push_str(&format!("  {channel} consent by value of `{}`:\n", v.column));
            }
            let went: Vec<String> =
                [("subscribed", v.subscribed), ("unsubscribed", v.unsubscribed), ("not sent", v.not_sent)]
                    .iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(what, n)| format!("{what} {n}"))
                    .collect();
            let value = if v.value.is_empty() { "(blank)".to_string() } else { format!("`{}`", v.value) };
            s.push_str(&format!("    {value:<24} → {}\n", went.join(", ")));
        }
        s.trim_end().to_string()
    }
}

/// What one row's operation says of one consent attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// The row sends `subscribed`.
    Subscribed,
    /// The row sends `unsubscribed`.
    Unsubscribed,
    /// The row sends nothing for it.
    NotSent,
}

const EMAIL_KEY: &[u8] = b"\"$email_marketing\":\"";
const SMS_KEY: &[u8] = b"\"$sms_marketing\":\"";
/// The end both keys share: one search finds either.
const SHARED: &[u8] = b"_marketing\":\"";

/// Built once: the naive window scan this replaces was a quarter of
/// `validate`'s CPU, on its one consuming thread.
static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(SHARED));

impl Consent {
    /// `$email_marketing` in an operation's attributes object.
    pub fn email(attrs: &[u8]) -> Consent {
        Consent::both(attrs).0
    }

    /// `$sms_marketing` in an operation's attributes object.
    pub fn sms(attrs: &[u8]) -> Consent {
        Consent::both(attrs).1
    }

    /// Email and SMS, in one pass over the attributes: each key's value where
    /// the key is first written. Inside a JSON string every `"` is escaped,
    /// so `":"` after the name only matches a real member.
    pub fn both(attrs: &[u8]) -> (Consent, Consent) {
        let (mut email, mut sms) = (None, None);
        for at in FINDER.find_iter(attrs) {
            let end = at + SHARED.len();
            let is = |key: &[u8]| end >= key.len() && &attrs[end - key.len()..end] == key;
            if email.is_none() && is(EMAIL_KEY) {
                email = Some(Consent::value(&attrs[end..]));
            } else if sms.is_none() && is(SMS_KEY) {
                sms = Some(Consent::value(&attrs[end..]));
            }
            if email.is_some() && sms.is_some() {
                break;
            }
        }
        (email.unwrap_or(Consent::NotSent), sms.unwrap_or(Consent::NotSent))
    }

    /// What a row sends of one subscription (`transform::json::Subscriptions`):
    /// nothing or `null` is not sent; the same reading as [`Consent::both`].
    pub fn sent(value: Option<Option<&str>>) -> Consent {
        match value.flatten() {
            Some("subscribed") => Consent::Subscribed,
            Some("unsubscribed") => Consent::Unsubscribed,
            _ => Consent::NotSent,
        }
    }

    fn value(rest: &[u8]) -> Consent {
        if rest.starts_with(b"subscribed\"") {
            Consent::Subscribed
        } else if rest.starts_with(b"unsubscribed\"") {
            Consent::Unsubscribed
        } else {
            Consent::NotSent
        }
    }
}

impl ConsentCounts {
    fn add(&mut self, c: Consent) {
        match c {
            Consent::Subscribed => self.subscribed += 1,
            Consent::Unsubscribed => self.unsubscribed += 1,
            Consent::NotSent => self.not_sent += 1,
        }
    }
}

#[cfg(test)]
fn count(c: &mut ConsentCounts, attrs: &[u8], key: &[u8]) {
    let (email, sms) = Consent::both(attrs);
    c.add(if key == EMAIL_KEY { email } else { sms });
}

/// "`abc` is not a number" → "`…` is not a number": reasons group by kind.
/// Only the first quoted span is the cell's value; later ones are the job's
/// words (`does not match the date format `%d/%m/%Y``, `set a `format``), kept.
fn generic(reason: &str) -> String {
    let Some(open) = reason.find('`') else { return reason.to_string() };
    let Some(len) = reason[open + 1..].find('`') else { return reason.to_string() };
    format!("{}`…`{}", &reason[..open], &reason[open + 1 + len + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_group_without_their_values() {
        assert_eq!(generic("age: `abc` is not a whole number"), "age: `…` is not a whole number");
        assert_eq!(generic("the Custom ID is blank"), "the Custom ID is blank");
        assert_eq!(
            generic("d: `1/2/3` is not a date (expected YYYY-MM-DD; set a `format` for others)"),
            "d: `…` is not a date (expected YYYY-MM-DD; set a `format` for others)"
        );
        assert_eq!(
            generic("d: `12/31` does not match the date format `%d/%m`"),
            "d: `…` does not match the date format `%d/%m`"
        );
        let mut c = ConsentCounts::default();
        count(&mut c, br#"{"$email_marketing":"unsubscribed","x":1}"#, b"\"$email_marketing\":\"");
        count(&mut c, br#"{"$email_marketing":"subscribed"}"#, b"\"$email_marketing\":\"");
        count(&mut c, br#"{"x":"subscribed"}"#, b"\"$email_marketing\":\"");
        assert_eq!((c.subscribed, c.unsubscribed, c.not_sent), (1, 1, 1));
    }
}
