//! The plan's `$email_marketing` and `$sms_marketing`, from every column's
//! consent signal (`consent`), and the region national phone numbers are read
//! in. Runs before the per-column mapping: the opt-in column it picks is not
//! also sent as an attribute; opt-out columns are (they are useful data).

use super::consent::{self, Channel};
use super::infer;
use super::plan::{self, Mapped, Plan, Target};
use super::presets::{Role, Tool};
use super::sample::Sample;
use batchport_transform::job::{NativeKind, SubscriptionValues};
use std::collections::HashSet;

impl Plan {
    /// Map consent; returns the columns it consumed.
    pub(super) fn consent(&mut self, sample: &Sample, tool: Option<&Tool>, path: &str) -> HashSet<usize> {
        let mut consumed = HashSet::new();
        let found = plan::signals(sample, tool);
        let list: Vec<consent::Found> = found.iter().map(|(_, f)| f.clone()).collect();
        let index_of = |h: &str| found.iter().find(|(_, f)| f.header == h).map(|(i, _)| *i);
        let constant = tool.and_then(|t| t.file_consent(&sample.headers, path));
        // A subscription state column whose channel a type column tells (OneSignal).
        let by_type = tool.and_then(|t| {
            sample.headers.iter().enumerate().find_map(|(i, h)| match t.known(h).map(|k| &k.role) {
                Some(Role::SubscriptionBy(rows, words)) => Some((i, rows, words)),
                _ => None,
            })
        });
        for ch in [Channel::Email, Channel::Sms] {
            let email = ch == Channel::Email;
            let wire = if email { "$email_marketing" } else { "$sms_marketing" };
            let kind = |v: SubscriptionValues| {
                if email { NativeKind::EmailMarketing(v) } else { NativeKind::SmsMarketing(v) }
            };
            let mut d = consent::decide(&list, ch, if email { constant.clone() } else { None });
            // The tool's own state column (a type column tells its channel)
            // decides; any other opt-in column is read beside it for its
            // opt-outs only: no opt-out is lost because two columns speak.
            let others: Vec<&consent::Found> = list
                .iter()
                .filter(|f| matches!(f.signal, consent::Signal::OptIn { channel, .. } if channel == ch || channel == Channel::Both))
                .collect();
            if let Some((i, ..)) = by_type.filter(|_| !others.is_empty() && d.constant.is_none()) {
                let decider = &sample.headers[i];
                d.column = None;
                d.suppressed_when.clear();
                d.notes.retain(|n| !n.starts_with(&format!("{wire} from `")) && !n.contains(" also where `"));
                for f in others {
                    if let Some((entry, note)) = consent::suppression(f, decider, wire) {
                        d.notes.push(note);
                        d.suppressed_when.push(entry);
                    }
                }
            }
            let by_type = by_type.filter(|_| d.column.is_none() && d.constant.is_none());
            let mut m = if let Some((i, type_rows, w)) = by_type {
                let rows = if email { &type_rows.email } else { &type_rows.sms };
                consumed.insert(i);
                let mut m = Mapped::new(
                    &sample.headers[i],
                    Target::Native(kind(plan::words(&w.subscribed[..], &w.unsubscribed[..], &[]))),
                    vec![format!(
                        "{wire} from `{}` on {} rows",
                        sample.headers[i],
                        if email { "email" } else { "SMS" }
                    )],
                    true,
                );
                m.extra.when = Some((type_rows.column.clone(), rows.iter().map(|r| r.to_lowercase()).collect()));
                m
            } else if let Some((col, sub, unsub, und)) = &d.column {
                // An opt-in date is also data (when they opted in): kept.
                if let Some(i) = index_of(col).filter(|_| !d.when_set) {
                    consumed.insert(i);
                }
                let values = SubscriptionValues {
                    subscribed: sub.clone(),
                    unsubscribed: unsub.clone(),
                    undecided: und.clone(),
                    when_set: d.when_set,
                };
                let mut notes = Vec::new();
                if let Some(k) = tool.and_then(|t| t.known(col)).filter(|k| !k.note.is_empty()) {
                    notes.push(k.note.clone());
                }
                if let Some(i) = index_of(col) {
                    notes.push(evidence(&sample.values(i), &values));
                }
                Mapped::new(col, Target::Native(kind(values)), notes, true)
            } else if d.maps() {
                let values = plan::words(&["subscribed"], &["unsubscribed"], &[]);
                Mapped::new("", Target::Native(kind(values)), Vec::new(), true)
            } else {
                self.notes.extend(d.notes.iter().cloned());
                continue;
            };
            // A type column decides (OneSignal): "not sent" would contradict it.
            let typed = m.extra.when.is_some() && d.column.is_none() && !d.maps();
            m.notes.splice(0..0, d.notes.iter().filter(|n| !(typed && n.contains(": not sent:"))).cloned());
            m.extra.constant = d.constant.map(str::to_string);
            if d.constant == Some("subscribed") {
                let fc = tool.and_then(|t| t.file_consent.as_ref());
                m.extra.unless_columns = fc.map(|f| f.unless_columns.clone()).unwrap_or_default();
            }
            m.extra.suppressed_by = d.suppressed_by.clone();
            m.extra.suppressed_when = d.suppressed_when.clone();
            if m.extra.when.is_none()
                && let Some(by) = tool.and_then(|t| t.consent_by_type.as_ref())
            {
                let rows = if email { &by.email } else { &by.sms };
                m.extra.when = Some((by.column.clone(), rows.iter().map(|r| r.to_lowercase()).collect()));
                m.notes.push(format!("only on {} rows (`{}` = {})", wire, by.column, rows.join(" or ")));
            }
            self.natives.push(m);
        }
        consumed
    }

    /// National numbers (`06 12 34 56 78`) under a phone-named column beside
    /// a country column: `$phone_number`, read in each row's country
    /// (`phone_region` then checks them row by row).
    pub(super) fn national_phones(&self, header: &str, values: &[&str]) -> bool {
        let digits = |v: &&str| v.chars().filter(char::is_ascii_digit).count() >= 6;
        let national = |v: &&str| !v.starts_with('+') && !v.starts_with("00");
        infer::phone_name(header)
            && self.free(&NativeKind::Phone)
            && self.region_source().is_some()
            && !values.is_empty()
            && values.iter().all(digits)
            && values.iter().any(national)
    }

    /// Phones that are not all international: read national ones in the
    /// row's country (the `$region` column), or leave them as text.
    pub(super) fn phone_region(&mut self, sample: &Sample) {
        let Some(region_col) = self.region_source().map(str::to_string) else { return };
        let Some(r) = sample.headers.iter().position(|h| *h == region_col) else { return };
        let Some(m) = self.natives.iter_mut().find(|m| m.target == Target::Native(NativeKind::Phone)) else { return };
        let Some(p) = sample.headers.iter().position(|h| *h == m.column) else { return };
        let national = (0..sample.len()).filter(|&row| {
            let v = &sample.cells[p][row];
            !v.is_empty() && !v.starts_with('+') && !v.starts_with("00") && !v.starts_with("'+")
        });
        if national.clone().count() == 0 {
            return;
        }
        let pairs: Vec<(&str, &str)> =
            (0..sample.len()).map(|row| (sample.cells[p][row].as_str(), sample.cells[r][row].as_str())).collect();
        let filled: Vec<&(&str, &str)> = pairs.iter().filter(|(v, _)| !v.is_empty()).collect();
        let bad: Vec<&str> = filled
            .iter()
            .filter(|(v, reg)| {
                let region =
                    batchport_transform::places::country(reg).ok().map(|c| String::from_utf8_lossy(&c).into_owned());
                batchport_transform::value::phone(v, region.as_deref()).is_err()
            })
            .map(|(v, _)| *v)
            .collect();
        let n = filled.len();
        m.extra.region_column = Some(region_col.clone());
        m.notes.push(format!(
            "{} sampled numbers are national: each is read in its row's country (`{region_col}`)",
            national.count()
        ));
        if !bad.is_empty() {
            m.notes.push(infer::rejects_note(bad.len(), n, bad[0], "$phone_number"));
            if !infer::minority(bad.len(), n) {
                m.notes.push("CHECK THIS: many numbers do not read as phones; map the column as text instead".into());
            }
        }
    }
}

/// `120/120 sampled values are subscription words...`
fn evidence(values: &[&str], v: &SubscriptionValues) -> String {
    let n = values.len();
    if v.when_set {
        let set = values.iter().filter(|x| batchport_transform::is_set(x)).count();
        return format!("{n} sampled values: {set} set (subscribed), {} say nothing", n - set);
    }
    let is = |l: &[String], x: &str| l.iter().any(|w| w.eq_ignore_ascii_case(x.trim()));
    let sub = values.iter().filter(|x| is(&v.subscribed, x)).count();
    let unsub = values.iter().filter(|x| is(&v.unsubscribed, x)).count();
    let mut seen: Vec<String> =
        values.iter().filter(|x| is(&v.undecided, x)).map(|x| format!("`{}`", x.trim().to_lowercase())).collect();
    seen.sort();
    seen.dedup();
    let which =
        if seen.is_empty() { String::new() } else { format!(" ({}: nothing is sent for them)", seen.join(", ")) };
    format!("{n} sampled values: {sub} say subscribed, {unsub} unsubscribed, {} decide nothing{which}", n - sub - unsub)
}
