//! From a sample (and maybe a preset) to a mapping: which column is the Custom
//! ID, what each column becomes, and what cannot be sent and why. Every
//! proposal, the preset's included, is checked against the sampled values; a
//! column that fails falls back to inference, and one that cannot be sent at all
//! is listed, never dropped in silence.

use super::infer::{self, Guess};
use super::names::{self, Names};
use super::presets::{Hint, Known, Role, Tool};
use super::sample::Sample;
use crate::api::rules;
use crate::job::{ArrayMode, NativeKind, ValueType};

#[derive(Debug)]
pub struct Plan {
    pub custom_id: String,
    /// Why that column, and what follows from it.
    pub id_notes: Vec<String>,
    pub natives: Vec<Mapped>,
    pub attrs: Vec<Mapped>,
    pub left: Vec<Left>,
    /// Facts about the whole export (from the preset).
    pub notes: Vec<String>,
}

#[derive(Debug)]
pub struct Mapped {
    pub column: String,
    pub target: Target,
    pub notes: Vec<String>,
    /// Proposed by the preset (kept first when the 50-attribute limit bites).
    pub known: bool,
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
    pub fn build(sample: &Sample, tool: Option<&Tool>) -> Plan {
        let (custom_id, id_notes) = choose_id(sample, tool);
        let mut plan = Plan {
            custom_id: sample.headers[custom_id].clone(),
            id_notes,
            natives: Vec::new(),
            attrs: Vec::new(),
            left: Vec::new(),
            notes: tool.map(|t| (t.notes)(&sample.headers)).unwrap_or_default(),
        };
        let mut names = Names::default();
        for (i, header) in sample.headers.iter().enumerate() {
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
            match outcome {
                Outcome::Map(m) => {
                    // The Custom ID is sent as the identifier; as an attribute
                    // only when it is also a native (an email used as the id).
                    if i == custom_id && !matches!(m.target, Target::Native(_)) {
                        continue;
                    }
                    match m.target {
                        Target::Native(_) => plan.natives.push(m),
                        Target::Attr { .. } => plan.attrs.push(m),
                    }
                }
                Outcome::Leave(_) if i == custom_id => {}
                Outcome::Leave(reason) => plan.left.push(left(reason)),
            }
        }
        plan.enforce_limit();
        plan
    }

    fn free(&self, kind: &NativeKind) -> bool {
        let same = |a: &NativeKind| std::mem::discriminant(a) == std::mem::discriminant(kind);
        !self.natives.iter().any(|m| matches!(&m.target, Target::Native(k) if same(k)))
    }

    fn decide(&self, header: &str, index: usize, values: &[&str], known: Option<&Known>, names: &mut Names) -> Outcome {
        let free = |k: &NativeKind| self.free(k);
        let mut notes = Vec::new();
        let Some(known) = known else {
            return outcome(header, index, infer::infer(header, values, &free), notes, false, names);
        };
        if !known.note.is_empty() {
            notes.push(known.note.to_string());
        }
        let native = match known.role {
            Role::Skip => return Outcome::Leave(format!("not sent: {}", known.note)),
            Role::Email => Some(NativeKind::Email),
            Role::Phone => Some(NativeKind::Phone),
            Role::Language => Some(NativeKind::Language),
            Role::Region => Some(NativeKind::Region),
            Role::Timezone => Some(NativeKind::Timezone),
            Role::EmailMarketing(s, u) => Some(NativeKind::EmailMarketing(infer::subscription_values(s, u))),
            Role::SmsMarketing(s, u) => Some(NativeKind::SmsMarketing(infer::subscription_values(s, u))),
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
                        return Outcome::Map(Mapped {
                            column: header.into(),
                            target: Target::Native(kind),
                            notes,
                            known: true,
                        });
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
        let Role::Attr(name, hint) = known.role else { unreachable!("natives and skips returned above") };
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
                if let Some(q) = values.iter().find(|v| v.split(sep).any(|t| t.trim().starts_with('"'))) {
                    return Outcome::Leave(format!(
                        "a list whose items are quoted (e.g. `{}`): a job's array type cannot strip the quotes, \
                         so Batch would get `\"tag\"`; remove the quotes in the file, then map it as \
                         {{ type = \"array\", separator = \"{sep}\" }}",
                        crate::transform::value::clip(q)
                    ));
                }
                let ty = ValueType::Array { separator: sep.into(), mode: ArrayMode::Replace };
                attr(ty, values, &format!("lists split on `{sep}`"))
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
    Map(Mapped),
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

/// The preset's type, if every sampled value passes it.
fn attr(ty: ValueType, values: &[&str], what: &str) -> Option<infer::Inferred> {
    infer::check_attr(&ty, values).ok().map(|()| infer::Inferred {
        guess: Guess::Attr(ty),
        evidence: format!("{n}/{n} sampled values are {what}", n = values.len()),
    })
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
        Guess::Native(kind) => Outcome::Map(Mapped { column: name.into(), target: Target::Native(kind), notes, known }),
        Guess::Attr(ty) => Outcome::Map(Mapped {
            column: name.into(),
            target: Target::Attr { name: names.claim(name, index), ty },
            notes,
            known,
        }),
    }
}

/// Header spellings that name a user id in files without a preset.
const ID_NAMES: &[&str] =
    &["customid", "userid", "externalid", "customerid", "accountid", "memberid", "contactid", "personid", "uid", "id"];

fn choose_id(s: &Sample, tool: Option<&Tool>) -> (usize, Vec<String>) {
    let n = s.len();
    let usable = |i: usize| !s.headers[i].is_empty() && s.headers.iter().filter(|h| **h == s.headers[i]).count() == 1;
    let find = |key: &str| (0..s.headers.len()).find(|&i| usable(i) && names::key(&s.headers[i]) == key);
    let filled = |i: usize| s.values(i).len();
    let mostly = |i: usize| n == 0 || filled(i) * 2 >= n;
    let mut notes = Vec::new();
    let email_col = (0..s.headers.len()).find(|&i| {
        usable(i)
            && match tool.and_then(|t| t.known(&s.headers[i])) {
                Some(k) => matches!(k.role, Role::Email),
                None => {
                    let v = s.values(i);
                    !v.is_empty() && v.iter().all(|v| rules::is_valid_email(v))
                }
            }
    });
    let mut pick: Option<(usize, String)> = None;
    if tool.is_none() {
        pick = ID_NAMES.iter().find_map(|k| find(k)).filter(|&i| mostly(i)).map(|i| (i, "named like a user id".into()));
    }
    if let Some(t) = tool {
        for after_email in [false, true] {
            if after_email && pick.is_none() && email_col.is_some_and(mostly) {
                break;
            }
            for rule in t.ids.iter().filter(|r| r.after_email == after_email) {
                let Some(i) = find(&names::key(rule.header)) else { continue };
                if pick.is_none() && mostly(i) {
                    pick = Some((i, rule.why.to_string()));
                } else if pick.is_none() {
                    notes.push(format!(
                        "`{}` is blank in {} of {n} sampled rows, so it is not the Custom ID",
                        s.headers[i],
                        n - filled(i)
                    ));
                }
            }
        }
    }
    if pick.is_none()
        && let Some(e) = email_col.filter(|&e| mostly(e))
    {
        let why = tool.map(|t| t.email_as_id).unwrap_or("no column is named like a user id and this one holds emails");
        pick = Some((e, format!("the email address is the Custom ID: {why}")));
        notes
            .push("A person who changes email becomes a new profile in Batch (the old one keeps the old data),".into());
        notes.push("and Custom IDs match exactly: `Jane@example.com` and `jane@example.com` are two profiles.".into());
        notes.push("If your app logs people in with another id, map that column here instead.".into());
    }
    let unique = |i: usize| {
        let v = s.values(i);
        v.len() == n && v.iter().collect::<std::collections::HashSet<_>>().len() == n
    };
    if pick.is_none() {
        pick = ID_NAMES.iter().find_map(|k| find(k)).map(|i| (i, "named like a user id".to_string()));
    }
    if pick.is_none() {
        pick = (0..s.headers.len())
            .find(|&i| usable(i) && unique(i))
            .map(|i| (i, "the first column whose sampled values are all filled and distinct".to_string()));
    }
    let (i, why) = pick.unwrap_or_else(|| {
        let i = (0..s.headers.len()).find(|&i| usable(i)).unwrap_or(0);
        (i, "no column looks like an id: the first column is used; CHECK THIS".to_string())
    });
    let mut all = vec![format!("Custom ID: column `{}`: {why}.", s.headers[i])];
    if filled(i) < n {
        all.push(format!(
            "{} of {n} sampled rows have no `{}`: `validate` and `run` reject them (Batch needs a Custom ID).",
            n - filled(i),
            s.headers[i]
        ));
    }
    let distinct = s.values(i).iter().collect::<std::collections::HashSet<_>>().len();
    if distinct < filled(i) {
        all.push(format!(
            "{} sampled rows repeat a Custom ID: rows with the same id update the same profile, in file order.",
            filled(i) - distinct
        ));
    }
    all.extend(notes);
    (i, all)
}
