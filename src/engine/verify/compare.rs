//! One partition at a time: the input side's profiles of the partition held
//! in memory (each attribute's expected state, `expect.rs`), the export side
//! streamed past them. Every profile ends matching, differing (each attribute
//! that differs goes to the differences file) or missing from Batch; what
//! `--repair` and `--rebuild-index` need is handed to the [`Outcomes`].

use super::expect::{Want, cell};
use super::input::{Expected, decode, sample_hash};
use super::spill::read_frames;
use crate::export::output::attribute;
use anyhow::{Context as _, Result};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The consent attributes, counted apart from the others.
pub(crate) const CONSENT: [&str; 2] = ["$email_marketing", "$sms_marketing"];

/// What the comparison counts.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    pub(crate) checked: u64,
    pub(crate) matching: u64,
    pub(crate) missing: u64,
    pub(crate) differing: u64,
    /// Profiles with at least one consent attribute that differs.
    pub(crate) consent_differing: u64,
    /// Profiles differing on each attribute (consent attributes not among them).
    pub(crate) by_attribute: BTreeMap<String, u64>,
    /// Profiles differing on each consent attribute.
    pub(crate) consent: BTreeMap<String, u64>,
}

/// One attribute's expectation and the row that last set it. The key is an
/// index in the partition's key table: a profile holds a dozen of them, and
/// a partition tens of thousands of profiles.
struct Expect {
    key: u16,
    want: Want,
    file: u32,
    line: u64,
}

/// One profile of the input side.
#[derive(Default)]
struct Profile {
    expects: Vec<Expect>,
    /// The change pair of its last row.
    last_pair: Option<(u64, u64)>,
    /// Its rows' source records, in input order (`--repair`).
    rows: Vec<(usize, u64, csv::ByteRecord)>,
    /// Where its last row is.
    last: (usize, u64),
}

/// What the comparison tells the rest of the verify, profile by profile.
pub(crate) trait Outcomes {
    /// An attribute of `id` differs (or, `attribute` `None`, the profile is missing).
    fn difference(&mut self, d: Difference<'_>) -> Result<()>;
    /// `id` matches: the change pair of its last row, if it has one.
    fn matching(&mut self, id: &str, pair: Option<(u64, u64)>) -> Result<()>;
    /// `id` differs or is missing: the change pair of its last row, and its
    /// rows, in input order (empty unless kept).
    fn to_repair(&mut self, id: &str, pair: Option<(u64, u64)>, rows: &[(usize, u64, csv::ByteRecord)]) -> Result<()>;
}

/// One line of the differences file.
pub(crate) struct Difference<'a> {
    pub(crate) file: usize,
    pub(crate) line: u64,
    pub(crate) id: &'a str,
    pub(crate) attribute: Option<&'a str>,
    pub(crate) expected: String,
    pub(crate) found: String,
}

/// The name an attribute is reported under: its plain name (`birthdate`
/// for `date(birthdate)`).
pub(crate) fn plain(key: &str) -> &str {
    ["date(", "url("].iter().find_map(|p| key.strip_prefix(p).and_then(|r| r.strip_suffix(')'))).unwrap_or(key)
}

/// Compare every partition.
pub(crate) fn all(exp: &Expected, export_parts: &[std::path::PathBuf], out: &mut dyn Outcomes) -> Result<Tally> {
    let mut tally = Tally::default();
    for (input, export) in exp.parts.iter().zip(export_parts) {
        partition(exp, input, export, &mut tally, out)?;
    }
    Ok(tally)
}

fn partition(exp: &Expected, input: &Path, export: &Path, tally: &mut Tally, out: &mut dyn Outcomes) -> Result<()> {
    let damaged = |p: &Path| format!("cannot read the verify's work file {}", p.display());
    let mut profiles: HashMap<Box<str>, Profile> = HashMap::new();
    let mut keys: Vec<String> = Vec::new();
    read_frames(input, |f| {
        let row = decode(f)?;
        if let Some((max, seed)) = exp.sample
            && sample_hash(seed, row.id) > max
        {
            return Ok(());
        }
        let attrs: Map<String, Value> = serde_json::from_slice(row.attrs).map_err(std::io::Error::other)?;
        let p = profiles.entry(row.id.into()).or_default();
        let file = row.file as u32;
        for (k, v) in attrs {
            let key = match keys.iter().position(|x| *x == k) {
                Some(i) => i as u16,
                None => {
                    keys.push(k);
                    (keys.len() - 1) as u16
                }
            };
            match p.expects.iter_mut().find(|e| e.key == key) {
                Some(e) => {
                    let prev = std::mem::replace(&mut e.want, Want::Absent);
                    (e.want, e.file, e.line) = (Want::then(Some(prev), &v), file, row.line);
                }
                None => p.expects.push(Expect { want: Want::then(None, &v), key, file, line: row.line }),
            }
        }
        p.last_pair = row.pair;
        p.last = (row.file, row.line);
        if let Some(r) = row.record {
            p.rows.push((row.file, row.line, r));
        }
        Ok(())
    })
    .with_context(|| damaged(input))?;
    let mut failed: Option<anyhow::Error> = None;
    read_frames(export, |f| {
        let id = f.str()?;
        let Some(p) = profiles.remove(id) else { return Ok(()) };
        let attrs: Map<String, Value> = serde_json::from_slice(f.bytes()?).map_err(std::io::Error::other)?;
        if let Err(e) = check(id, &p, &keys, &attrs, tally, out) {
            failed = Some(e);
            return Err(std::io::Error::other("stopped"));
        }
        Ok(())
    })
    .map_err(|e| failed.take().unwrap_or_else(|| anyhow::Error::new(e).context(damaged(export))))?;
    // Sorted, so that the differences file is the same from one verify to the next.
    let mut missing: Vec<(Box<str>, Profile)> = profiles.into_iter().collect();
    missing.sort_by_key(|a| a.1.last);
    for (id, p) in missing {
        tally.checked += 1;
        tally.missing += 1;
        let (file, line) = p.last;
        let d = Difference {
            file,
            line,
            id: &id,
            attribute: None,
            expected: "a profile".into(),
            found: "(no profile)".into(),
        };
        out.difference(d)?;
        out.to_repair(&id, p.last_pair, &p.rows)?;
    }
    Ok(())
}

fn check(
    id: &str,
    p: &Profile,
    keys: &[String],
    attrs: &Map<String, Value>,
    tally: &mut Tally,
    out: &mut dyn Outcomes,
) -> Result<()> {
    tally.checked += 1;
    let (mut differs, mut consent) = (false, false);
    for e in &p.expects {
        let key = keys[e.key as usize].as_str();
        let found = attribute(attrs, key);
        if e.want.matches(key, found) {
            continue;
        }
        let name = plain(key);
        if CONSENT.contains(&key) {
            consent = true;
            *tally.consent.entry(name.to_string()).or_default() += 1;
        } else {
            *tally.by_attribute.entry(name.to_string()).or_default() += 1;
        }
        differs = true;
        let d = Difference {
            file: e.file as usize,
            line: e.line,
            id,
            attribute: Some(name),
            expected: e.want.text(),
            found: cell(found),
        };
        out.difference(d)?;
    }
    if differs {
        tally.differing += 1;
        tally.consent_differing += u64::from(consent);
        out.to_repair(id, p.last_pair, &p.rows)
    } else {
        tally.matching += 1;
        out.matching(id, p.last_pair)
    }
}
