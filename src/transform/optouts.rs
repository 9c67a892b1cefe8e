//! One person, several rows: OneSignal writes one row per subscription (each
//! device, each email address, each phone), Airship one per channel, all with
//! the same Custom ID. Rows update the profile in file order, so an opt-in row
//! after an opt-out row would subscribe someone who opted out. For such jobs
//! (`[mapping] opt_outs = "person"`, which `init` writes when sampled rows
//! repeat a Custom ID, or a subscription told by a type column: `when`/`is`)
//! the run's whole input (every file of a glob) is read once before the run:
//! every Custom ID with an opt-out row, per channel, is kept
//! (8 bytes each, a hash), and any row of theirs that would send `subscribed`
//! sends `unsubscribed` instead. Reading ahead makes this independent of row
//! order, of batches sent concurrently and of a resume part way: the input
//! decides, not what this process happened to see. The pre-read maps each row
//! with the consent part of the mapping alone (Custom ID and subscriptions),
//! so a row the run rejects for an unrelated cell still says its person
//! opted out. A hash collision can only
//! turn a subscription into an opt-out, never the reverse: the safe side.

use super::Transformer;
use crate::job::{Job, JobError, Mapping, NativeKind};
use batchport_source::CsvSource;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows read per pass of the pre-read.
const CHUNK: usize = 16_384;

/// The Custom IDs (hashed) with an opt-out row, per channel, over a run's input.
#[derive(Debug, Default)]
pub struct OptOuts {
    email: HashSet<u64>,
    sms: HashSet<u64>,
}

impl OptOuts {
    /// (email, SMS): whether this person opted out on some row of the file.
    pub(crate) fn held(&self, key: &str) -> (bool, bool) {
        if self.email.is_empty() && self.sms.is_empty() {
            return (false, false);
        }
        let h = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
        (self.email.contains(&h), self.sms.contains(&h))
    }
}

/// The consent part of `job`'s mapping alone: its Custom ID columns and its
/// email and SMS subscriptions (with the columns their rules read), as a
/// profiles job. `None` when the job maps no subscription.
fn consent_only(job: &Job) -> Option<Job> {
    let profile = match &job.mapping {
        Mapping::Profiles(p) => p,
        Mapping::Events(e) => &e.profile,
        _ => return None,
    };
    let mut p = profile.clone();
    p.native.retain(|n| matches!(n.kind, NativeKind::EmailMarketing(_) | NativeKind::SmsMarketing(_)));
    p.attributes.clear();
    if p.native.is_empty() {
        return None;
    }
    let mut j = job.clone();
    j.kind = crate::job::Kind::Profiles;
    j.mapping = Mapping::Profiles(p);
    Some(j)
}

/// Who opted out, over every file of the run (`files`, in any order), when
/// `job` maps a subscription and its people span several rows: it says so
/// (`opt_outs = "person"`) or reads consent by a type column (`when`/`is`);
/// `None` otherwise.
pub fn of_run(job: &Job, files: &[PathBuf]) -> Result<Option<Arc<OptOuts>>, JobError> {
    let Some(consent) = consent_only(job) else { return Ok(None) };
    // From the job alone: no file is opened for a job that reads no opt-outs ahead.
    let per_person = per_person(job);
    let natives = match &consent.mapping {
        Mapping::Profiles(p) => &p.native,
        _ => return Ok(None),
    };
    if !natives.iter().any(|n| per_person || n.rule.when.is_some()) {
        return Ok(None);
    }
    let opts = job.source.as_ref().map(|s| s.options.clone()).unwrap_or_default();
    let mut out = OptOuts::default();
    for csv in files {
        let bad = |e: String| JobError::File {
            path: csv.clone(),
            message: format!("reading the file ahead for its opt-outs: {e}"),
        };
        let src = CsvSource::open(csv, &opts).map_err(|e| bad(e.to_string()))?;
        let t = Transformer::bind_rows(&consent, src.headers(), csv)?;
        scan(&t, src, &mut out).map_err(bad)?;
    }
    Ok(Some(Arc::new(out)))
}

/// `opt_outs = "person"`.
pub(super) fn per_person(job: &Job) -> bool {
    match &job.mapping {
        Mapping::Profiles(p) => p.opt_outs_per_person,
        Mapping::Events(e) => e.profile.opt_outs_per_person,
        _ => false,
    }
}

/// Read `src` whole and add who opted out to `out`, each row mapped by `t`
/// (the consent part of the mapping, holding nothing yet): a row rejected
/// by the consent part (a bad Custom ID, an unreadable consent value) says
/// nothing, as it sends nothing either.
fn scan(t: &Transformer, mut src: CsvSource, out: &mut OptOuts) -> Result<(), String> {
    let email_out = [super::json::key_bytes("$email_marketing"), b"\"unsubscribed\"".to_vec()].concat();
    let sms_out = [super::json::key_bytes("$sms_marketing"), b"\"unsubscribed\"".to_vec()].concat();
    loop {
        let mut rows = Vec::with_capacity(CHUNK);
        let more = src.read_chunk(CHUNK, &mut rows).map_err(|e| e.to_string())?;
        for op in t.map_chunk(rows).into_iter().flatten() {
            let h = || xxhash_rust::xxh3::xxh3_64(op.key.as_bytes());
            if memchr::memmem::find(&op.attrs, &email_out).is_some() {
                out.email.insert(h());
            }
            if memchr::memmem::find(&op.attrs, &sms_out).is_some() {
                out.sms.insert(h());
            }
        }
        if !more {
            return Ok(());
        }
    }
}

/// `of_run` over one file.
pub(super) fn of_file(job: &Job, csv: &Path) -> Result<Option<Arc<OptOuts>>, JobError> {
    of_run(job, &[csv.to_path_buf()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use batchport_source::{CsvSource, SourceOptions};

    /// A mapped row: its key, attributes and change-index pair.
    type Row = (String, serde_json::Value, Option<(u64, u64)>);

    /// Bind `job` (a `[mapping]` body) to `csv`, map every row.
    fn run(csv: &str, mapping: &str) -> Vec<Row> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, csv).unwrap();
        let text =
            format!("[job]\nname = \"t\"\nkind = \"profiles\"\n[source]\npath = \"in.csv\"\n[mapping]\n{mapping}");
        let job = crate::job::parse(&text, &dir.path().join("job.toml")).unwrap();
        let mut src = CsvSource::open(&path, &SourceOptions::default()).unwrap();
        let t = Transformer::bind(&job, src.headers(), &path).unwrap();
        let mut rows = Vec::new();
        src.read_chunk(100, &mut rows).unwrap();
        let mut buf = Vec::new();
        rows.into_iter()
            .map(|r| {
                let pair = t.change_pair(&r.record, &mut buf);
                let op = t.map_row(r).unwrap();
                (op.key, serde_json::from_slice(&op.attrs).unwrap(), pair)
            })
            .collect()
    }

    const CSV: &str = "id,news\nu1,no\nu2,yes\nu1,yes\nU3,yes\n";
    const MAP: &str =
        "custom_id = { column = \"id\", lowercase = true }\n[mapping.native]\nemail_marketing = \"news\"\n";

    #[test]
    fn an_opt_out_holds_for_every_row_of_the_person() {
        let per_row = run(CSV, MAP);
        assert_eq!(per_row[2].1["$email_marketing"], "subscribed", "by default a later row wins");
        let per_person = run(CSV, &format!("opt_outs = \"person\"\n{MAP}"));
        let marketing: Vec<&str> = per_person.iter().map(|(_, a, _)| a["$email_marketing"].as_str().unwrap()).collect();
        assert_eq!(marketing, ["unsubscribed", "subscribed", "unsubscribed", "subscribed"]);
        // The change index sees it: the same row bytes, held or not, hash apart.
        assert_ne!(per_row[2].2.unwrap().1, per_person[2].2.unwrap().1);
        assert_eq!(per_row[1].2, per_person[1].2, "nobody else changes");
        assert_eq!(per_row[3].2, per_person[3].2, "a lowercased id that is not held");
    }
}
