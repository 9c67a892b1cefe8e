//! From a sample (and maybe a preset) to a mapping: which column is the Custom
//! ID, what each column becomes, and what cannot be sent and why. Every
//! proposal, the preset's included, is checked against the sampled values; a
//! column that fails falls back to inference, and one that cannot be sent at all
//! is listed, never dropped in silence.

use super::consent::{self, Channel, Found, Signal};
use super::infer::{self, Guess};
use super::names::Names;
use super::presets::{Hint, Known, Role, Tool, TypeRows};
use super::sample::Sample;
use batchport_api::rules;
use batchport_transform::job::{ArrayMode, NativeKind, SubscriptionValues, ValueType};

#[derive(Debug)]
pub struct Plan {
    /// The Custom ID columns, tried in order, and whether each is lowercased.
    pub custom_id: Vec<(String, bool)>,
    /// Why that column, and what follows from it.
    pub id_notes: Vec<String>,
    pub natives: Vec<Mapped>,
    pub attrs: Vec<Mapped>,
    pub left: Vec<Left>,
    /// Facts about the whole export (from the preset), and consent not sent.
    pub notes: Vec<String>,
    /// The column holding each row's country, for national phone numbers.
    pub region_col: Option<String>,
    /// Sampled rows repeat a Custom ID.
    pub id_repeats: bool,
    /// Sampled Custom IDs have spaces around them.
    pub id_trim: bool,
}

#[derive(Debug)]
pub struct Mapped {
    pub column: String,
    pub target: Target,
    pub notes: Vec<String>,
    /// Proposed by the preset (kept first when the 50-attribute limit bites).
    pub known: bool,
    pub extra: Extra,
}

/// The job-file keys of a native mapping besides its column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extra {
    /// `value = "..."` instead of a column.
    pub constant: Option<String>,
    /// `unless_columns = [...]` with a "subscribed" constant.
    pub unless_columns: Vec<String>,
    pub suppressed_by: Vec<String>,
    /// `suppressed_by` entries `{ column = "...", not = [...] }` (true) or
    /// `{ column = "...", is = [...] }`.
    pub suppressed_when: Vec<(String, Vec<String>, bool)>,
    /// `when = "column", is = [...]`.
    pub when: Option<(String, Vec<String>)>,
    /// Phones: `region_column`.
    pub region_column: Option<String>,
}

impl Mapped {
    pub(super) fn new(column: &str, target: Target, notes: Vec<String>, known: bool) -> Mapped {
        Mapped { column: column.into(), target, notes, known, extra: Extra::default() }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Native(NativeKind),
    Attr { name: String, ty: ValueType },
}

/// A column the job does not send, with why, and the line to uncomment if any.
#[derive(Debug)]
pub struct Left {
    pub column: String,
    pub reason: String,
    pub line: Option<Mapped>,
}

impl Plan {
    pub fn build(sample: &Sample, tool: Option<&Tool>, path: &str) -> Plan {
        let tool = tool.map(|t| t.for_headers(&sample.headers));
        let tool = tool.as_ref();
        let ids = super::ids::choose(sample, tool);
        let custom_id = ids.first();
        let mut plan = Plan {
            custom_id: ids.columns.iter().map(|&(c, l)| (sample.headers[c].clone(), l)).collect(),
            id_notes: ids.notes.clone(),
            natives: Vec::new(),
            attrs: Vec::new(),
            left: Vec::new(),
            notes: tool.map(|t| t.notes(&sample.headers)).unwrap_or_default(),
            region_col: None,
            id_repeats: ids.repeats,
            id_trim: ids.trim,
        };
        plan.region_col = region_column(sample, tool);
        let mut names = Names::default();
        let consumed = plan.consent(sample, tool, path);
        for (i, header) in sample.headers.iter().enumerate() {
            if consumed.contains(&i) {
                continue;
            }
            let left = |reason: String| Left { column: header.clone(), reason, line: None };
            if header.is_empty() {
                plan.left.push(left(format!("column {} has no header name: a job names columns by header", i + 1)));
                continue;
            }
            let copies = sample.headers.iter().filter(|h| *h == header).count();
            if copies > 1 {
                if i != custom_id {
                    plan.left.push(left(format!(
                        "appears {copies} times in the header: a job cannot tell them apart; rename them to map them"
                    )));
                }
                continue;
            }
            let values = sample.values(i);
            let known = tool.and_then(|t| t.known(header));
            let outcome = plan.decide(header, i, &values, known, &mut names);
            let outcome = match outcome {
                Outcome::Many(list) => {
                    plan.natives.extend(list);
                    continue;
                }
                o => o,
            };
            match outcome {
                Outcome::Many(_) => unreachable!("handled above"),
                Outcome::Map(m) => {
                    // The Custom ID is sent as the identifier; as an attribute
                    // only when it is also a native (an email used as the id).
                    if i == custom_id && !matches!(m.target, Target::Native(_)) {
                        continue;
                    }
                    match m.target {
                        Target::Native(_) => plan.natives.push(*m),
                        Target::Attr { .. } => plan.attrs.push(*m),
                    }
                }
                Outcome::Leave(_) if i == custom_id => {}
                Outcome::Leave(reason) => plan.left.push(left(reason)),
            }
        }
        plan.phone_region(sample);
        plan.enforce_limit();
        plan
    }

    pub(super) fn free(&self, kind: &NativeKind) -> bool {
        let same = |a: &NativeKind| std::mem::discriminant(a) == std::mem::discriminant(kind);
        !self.natives.iter().any(|m| matches!(&m.target, Target::Native(k) if same(k)))
    }

    fn decide(&self, header: &str, index: usize, values: &[&str], known: Option<&Known>, names: &mut Names) -> Outcome {
        let free = |k: &NativeKind| self.free(k);
        let mut notes = Vec::new();
        let Some(known) = known else {
            let inferred = infer::infer(header, values, &free);
            if !matches!(inferred.guess, Guess::Native(_)) && self.national_phones(header, values) {
                notes.push(
                    "a phone column beside a country column: national numbers are read in their row's country".into(),
                );
                return Outcome::Map(Box::new(Mapped::new(header, Target::Native(NativeKind::Phone), notes, false)));
            }
            return outcome(header, index, inferred, notes, false, names);
        };
        if !known.note.is_empty() {
            notes.push(known.note.clone());
        }
        let native = match &known.role {
            Role::Skip => return Outcome::Leave(format!("not sent: {}", known.note)),
            Role::Email => Some(NativeKind::Email),
            Role::Phone => Some(NativeKind::Phone),
            Role::Language => Some(NativeKind::Language),
            Role::Region => Some(NativeKind::Region),
            Role::Timezone => Some(NativeKind::Timezone),
            // Subscriptions are decided by `consent` over the whole row.
            Role::EmailMarketing(..) | Role::SmsMarketing(..) | Role::SubscriptionBy(..) => {
                return Outcome::Leave("read for consent: see $email_marketing / $sms_marketing".into());
            }
            Role::ChannelBy(rows) => return self.channel_by(header, known, rows),
            Role::Attr(..) => None,
        };
        if let Some(kind) = native {
            let wire = kind.wire_name();
            if !self.free(&kind) {
                notes.push(format!("{wire} is already mapped from another column"));
            } else {
                match infer::check_native(&kind, values) {
                    Ok(()) => {
                        notes.push(format!("{n}/{n} sampled values fit {wire}", n = values.len()));
                        return Outcome::Map(Box::new(Mapped::new(header, Target::Native(kind), notes, true)));
                    }
                    // Phones may still fit once read in their row's country.
                    Err(_) if kind == NativeKind::Phone && self.region_source().is_some() => {
                        return Outcome::Map(Box::new(Mapped::new(header, Target::Native(kind), notes, true)));
                    }
                    Err((bad, first)) if infer::minority(bad, values.len()) => {
                        notes.push(infer::rejects_note(bad, values.len(), &first, wire));
                        return Outcome::Map(Box::new(Mapped::new(header, Target::Native(kind), notes, true)));
                    }
                    Err((bad, first)) => notes.push(format!(
                        "not sent as {wire}: {bad}/{} sampled values do not fit it (e.g. `{first}`)",
                        values.len()
                    )),
                }
            }
            // The native's own column is the wrong one to infer it from again.
            let others = |k: &NativeKind| free(k) && std::mem::discriminant(k) != std::mem::discriminant(&kind);
            return outcome(header, index, infer::infer(header, values, &others), notes, true, names);
        }
        let Role::Attr(name, hint) = &known.role else { unreachable!("natives and skips returned above") };
        let proposed = match hint {
            Hint::Text => Some(infer::string(values)),
            Hint::Int => attr(ValueType::Int, values, "whole numbers"),
            Hint::Float => attr(ValueType::Float, values, "numbers"),
            Hint::Bool => attr(ValueType::Bool, values, "true/false, yes/no or 1/0"),
            Hint::Date if infer::unix_seconds(values) => attr(
                ValueType::Date { format: Some("%s".into()) },
                values,
                "Unix timestamps in seconds, read with format %s",
            ),
            Hint::Date if values.is_empty() => attr(ValueType::Date { format: None }, values, "dates"),
            Hint::Date => infer::date_format(values)
                .map(|(format, evidence)| infer::Inferred { guess: Guess::Attr(ValueType::Date { format }), evidence }),
            Hint::Array(sep) => {
                let ty = ValueType::Array { separator: sep.clone(), mode: ArrayMode::Replace, json: false };
                attr(ty, values, &format!("lists split on `{sep}`"))
            }
            Hint::JsonList => {
                let ty = ValueType::Array { separator: ",".into(), mode: ArrayMode::Replace, json: true };
                attr(ty, values, "JSON lists (\"a\",\"b\" or [\"a\",\"b\"])")
            }
            Hint::Infer => None,
        };
        let inferred = match proposed {
            Some(p) => p,
            None => {
                if !matches!(hint, Hint::Infer) {
                    notes.push("the sample does not fit the documented type: guessed from the values".into());
                }
                infer::infer(header, values, &free)
            }
        };
        let inferred = match inferred.guess {
            // The preset knows this column is not one of Batch's natives.
            Guess::Native(_) => infer::string(values),
            _ => inferred,
        };
        outcome(name, index, inferred, notes, true, names).with_column(header)
    }

    /// Batch takes 50 attributes per profile: keep natives and the preset's
    /// columns first, list the rest as lines to swap in.
    fn enforce_limit(&mut self) {
        let room = rules::MAX_ATTRIBUTES.saturating_sub(self.natives.len());
        if self.attrs.len() <= room {
            return;
        }
        let mut order: Vec<usize> = (0..self.attrs.len()).collect();
        order.sort_by_key(|&i| (!self.attrs[i].known, i));
        let keep: std::collections::HashSet<usize> = order.into_iter().take(room).collect();
        let all = std::mem::take(&mut self.attrs);
        for (i, m) in all.into_iter().enumerate() {
            if keep.contains(&i) {
                self.attrs.push(m);
            } else {
                self.left.push(Left {
                    column: m.column.clone(),
                    reason: format!(
                        "over Batch's limit of {} attributes per profile: swap it for a mapped one if it matters more",
                        rules::MAX_ATTRIBUTES
                    ),
                    line: Some(m),
                });
            }
        }
    }
}

enum Outcome {
    Map(Box<Mapped>),
    /// Natives from one column (an address whose channel a type column tells).
    Many(Vec<Mapped>),
    Leave(String),
}

impl Outcome {
    fn with_column(self, header: &str) -> Outcome {
        match self {
            Outcome::Map(mut m) => {
                m.column = header.to_string();
                Outcome::Map(m)
            }
            o => o,
        }
    }
}

/// The preset's type, if every sampled value passes it, or all but a
/// minority that will be rejected (said in the evidence).
fn attr(ty: ValueType, values: &[&str], what: &str) -> Option<infer::Inferred> {
    let n = values.len();
    match infer::check_attr(&ty, values) {
        Ok(()) => {
            Some(infer::Inferred { guess: Guess::Attr(ty), evidence: format!("{n}/{n} sampled values are {what}") })
        }
        Err((bad, first)) if infer::minority(bad, n) => Some(infer::Inferred {
            evidence: format!(
                "{}/{n} sampled values are {what}; {}",
                n - bad,
                infer::rejects_note(bad, n, &first, "it")
            ),
            guess: Guess::Attr(ty),
        }),
        Err(_) => None,
    }
}

/// `name` is the header, or the preset's attribute name.
fn outcome(
    name: &str,
    index: usize,
    inferred: infer::Inferred,
    mut notes: Vec<String>,
    known: bool,
    names: &mut Names,
) -> Outcome {
    notes.push(inferred.evidence);
    match inferred.guess {
        Guess::TooLong(_) => Outcome::Leave(format!("not sent: {}", notes.join("; "))),
        Guess::Native(kind) => Outcome::Map(Box::new(Mapped::new(name, Target::Native(kind), notes, known))),
        Guess::Attr(ty) => {
            // `custom_attributes.plan` (JSON lines): the attribute is `plan`.
            let wanted = name.rsplit('.').find(|p| !p.trim().is_empty()).unwrap_or(name);
            Outcome::Map(Box::new(Mapped::new(
                name,
                Target::Attr { name: names.claim(wanted, index), ty },
                notes,
                known,
            )))
        }
    }
}

impl Plan {
    /// `identifier`-like columns: an email on the type column's email rows,
    /// a phone on its SMS rows; push rows send neither.
    fn channel_by(&self, header: &str, known: &Known, rows: &TypeRows) -> Outcome {
        let mut out = Vec::new();
        let type_column = &rows.column;
        let lower = |l: &[String]| l.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
        for (kind, values, what) in [(NativeKind::Email, &rows.email, "email"), (NativeKind::Phone, &rows.sms, "SMS")] {
            // A tool whose type column has no rows of this channel here.
            if values.is_empty() || !self.free(&kind) {
                continue;
            }
            let notes = vec![
                known.note.clone(),
                format!("sent as {} only on {what} rows (`{type_column}` = {})", kind.wire_name(), values.join(" or ")),
            ];
            let mut m = Mapped::new(header, Target::Native(kind), notes, true);
            m.extra.when = Some((type_column.to_string(), lower(values)));
            out.push(m);
        }
        if out.is_empty() {
            return Outcome::Leave("its email and phone natives are already mapped from other columns".into());
        }
        Outcome::Many(out)
    }

    /// The column national phone numbers are read in: the mapped `$region`,
    /// else a column of countries.
    pub(super) fn region_source(&self) -> Option<&str> {
        self.natives
            .iter()
            .find(|m| m.target == Target::Native(NativeKind::Region))
            .map(|m| m.column.as_str())
            .or(self.region_col.as_deref())
    }
}

/// `SubscriptionValues` from a preset's own words.
pub fn words<S: AsRef<str>>(subscribed: &[S], unsubscribed: &[S], undecided: &[S]) -> SubscriptionValues {
    let own = |l: &[S]| l.iter().map(|s| s.as_ref().to_lowercase()).collect();
    SubscriptionValues {
        subscribed: own(subscribed),
        unsubscribed: own(unsubscribed),
        undecided: own(undecided),
        when_set: false,
    }
}

/// What consent the columns carry, for `consent_plan`.
pub(super) fn consent_signal(
    header: &str,
    values: &[&str],
    known: Option<&Known>,
    tool: Option<&Tool>,
) -> Option<Signal> {
    let fix = |s: Signal| match s {
        Signal::OptOut { channel: Channel::Both } => {
            Signal::OptOut { channel: tool.map(|t| t.opt_out_channel).unwrap_or(Channel::Both) }
        }
        other => other,
    };
    // The tool's documented consent words, and the words the file uses
    // besides them where it uses others (an export edited, or from another
    // version of the tool): an opt-out in the file's own words still arrives.
    let documented = |channel: Channel, w: &super::presets::Words| {
        let mut subscribed = w.subscribed.clone();
        let mut unsubscribed = w.unsubscribed.clone();
        let mut undecided = w.undecided.clone();
        let listed = |v: &str, lists: [&Vec<String>; 3]| {
            lists.iter().any(|l| l.iter().any(|x| x.eq_ignore_ascii_case(v.trim())))
        };
        let strangers = values
            .iter()
            .any(|v| batchport_transform::is_set(v) && !listed(v, [&subscribed, &unsubscribed, &undecided]));
        if strangers
            && let Some(Signal::OptIn { subscribed: s, unsubscribed: u, undecided: n, .. }) =
                consent::classify(header, values)
        {
            for (to, from) in [(&mut subscribed, s), (&mut unsubscribed, u), (&mut undecided, n)] {
                for word in from {
                    if !listed(&word, [&w.subscribed, &w.unsubscribed, &w.undecided]) && !to.contains(&word) {
                        to.push(word);
                    }
                }
            }
        }
        Signal::OptIn { channel, subscribed, unsubscribed, undecided }
    };
    match known.map(|k| &k.role) {
        Some(Role::EmailMarketing(w)) => Some(documented(Channel::Email, w)),
        Some(Role::SmsMarketing(w)) => Some(documented(Channel::Sms, w)),
        Some(Role::SubscriptionBy(..)) => None,
        // A documented column is read for consent only when it is an opt-out:
        // an opt-out signal is never ignored, whatever the preset calls it.
        Some(_) => match consent::classify(header, values) {
            Some(s @ Signal::OptOut { .. }) => Some(fix(s)),
            _ => None,
        },
        // A column the tool does not document: its own name says the channel.
        None => consent::classify(header, values),
    }
}

/// Every column's consent signal.
pub(super) fn signals(sample: &Sample, tool: Option<&Tool>) -> Vec<(usize, Found)> {
    let mut out = Vec::new();
    for (i, header) in sample.headers.iter().enumerate() {
        if header.is_empty() || sample.headers.iter().filter(|h| *h == header).count() > 1 {
            continue;
        }
        let values = sample.values(i);
        let known = tool.and_then(|t| t.known(header));
        if let Some(signal) = consent_signal(header, &values, known, tool) {
            // A preset's opt-in column named as a generic opt-out
            // (`unsubscribed` = true/false) is an opt-out for the other channel too.
            if let Signal::OptIn { channel, .. } = &signal
                && let Some(Signal::OptOut { channel: Channel::Both }) = consent::classify(header, &values)
                && values.iter().all(|v| !batchport_transform::is_set(v) || consent::is_flag(v))
            {
                let other = if *channel == Channel::Email { Channel::Sms } else { Channel::Email };
                out.push((
                    i,
                    Found { header: header.clone(), signal: Signal::OptOut { channel: other }, documented: false },
                ));
            }
            let documented = known.is_some_and(|k| matches!(k.role, Role::EmailMarketing(..) | Role::SmsMarketing(..)));
            out.push((i, Found { header: header.clone(), signal, documented }));
        }
    }
    out
}

/// A column of countries: the preset's `$region` column, or one named like a
/// country whose values read as countries.
fn region_column(sample: &Sample, tool: Option<&Tool>) -> Option<String> {
    sample.headers.iter().enumerate().find_map(|(i, h)| {
        let values = sample.values(i);
        let named = match tool.and_then(|t| t.known(h)) {
            Some(k) => matches!(k.role, Role::Region),
            None => infer::country_name(h),
        };
        (named && !values.is_empty() && infer::check_native(&NativeKind::Region, &values).is_ok()).then(|| h.clone())
    })
}
