//! `init` on an events file (`user_id,event,timestamp,...`): one row is one
//! event. Found by its columns (an event-name column beside a time column),
//! or asked for with `--kind events`; written as a `kind = "events"` job:
//! the Custom ID, the event name (in snake case when the file's names are
//! not Batch's `[a-z0-9_]`), its time with the format found, and the other
//! columns as event attributes typed from their values.

use super::infer::{self, Guess};
use super::names::{self, Names};
use super::plan::{Mapped, Target};
use super::render::{comment, custom_id, mapped, q, source_section};
use super::sample::Sample;
use batchport_api::rules;
use batchport_transform::job::ValueType;
use std::fmt::Write as _;

/// Header spellings (`names::key`) of the column holding each row's event.
const EVENT_NAMES: &[&str] = &["event", "eventname", "eventtype", "action", "activity"];
/// Header spellings of the event's time.
const TIME_NAMES: &[&str] =
    &["timestamp", "time", "eventtime", "eventtimestamp", "occurredat", "createdat", "datetime", "date", "ts"];

/// The event-name column, and the time column if one reads as dates.
pub(super) struct EventColumns {
    pub name: usize,
    pub time: Option<(usize, Option<String>, String)>,
}

/// The file's event columns: the name's by its header, the time's by its
/// header and values (dates, or Unix seconds).
pub(super) fn find(s: &Sample) -> Option<EventColumns> {
    let by_key =
        |keys: &[&str]| keys.iter().find_map(|k| (0..s.headers.len()).find(|&i| names::key(&s.headers[i]) == *k));
    let name = by_key(EVENT_NAMES)?;
    let time = TIME_NAMES.iter().find_map(|k| {
        let i = (0..s.headers.len()).find(|&i| names::key(&s.headers[i]) == *k && i != name)?;
        let values = s.values(i);
        if infer::unix_seconds(&values) {
            return Some((i, Some("%s".to_string()), "Unix timestamps in seconds, read with format %s".to_string()));
        }
        infer::date_format(&values).map(|(format, evidence)| (i, format, evidence))
    });
    Some(EventColumns { name, time })
}

/// The events job for `s` at `path`: comments, `[job]`, `[api]`,
/// `[source]`, then `mapping`'s sections.
pub(super) fn render(s: &Sample, cols: &EventColumns, ids: &super::ids::Ids, path: &str, how: &str) -> String {
    let mut o = String::new();
    comment(&mut o, &format!("batchport job for `{path}`, written by `batchport init {how}`."));
    comment(
        &mut o,
        &format!(
            "Every mapping was checked against {} of the file; read the guesses, then run `batchport validate` on this file.",
            s.describe()
        ),
    );
    comment(
        &mut o,
        "One row is one event: Batch adds it to the profile of its Custom ID (at most 15 per profile in a call).",
    );
    let mut distinct = s.values(cols.name);
    distinct.sort();
    distinct.dedup();
    comment(
        &mut o,
        &format!("Event name: column `{}`; {} distinct names in the sample.", s.headers[cols.name], distinct.len()),
    );
    let odd = distinct.iter().filter(|n| !rules::is_valid_name(n)).count();
    if odd > 0 {
        comment(
            &mut o,
            &format!(
                "{odd} of them are not Batch event names (a-z, 0-9 and _, at most 30): event_case = \"snake\" sends `Viewed Product` as viewed_product."
            ),
        );
    }
    match &cols.time {
        Some((i, _, evidence)) => comment(
            &mut o,
            &format!(
                "Time: column `{}`: {evidence}. Batch refuses events older than 24 h or in the future: a backfill of history is rejected row by row (see \"Bringing history\" in docs/guide.md).",
                s.headers[*i]
            ),
        ),
        None => comment(
            &mut o,
            "Time: no column reads as the event's time: Batch stamps each event when it arrives (two identical rows are two events).",
        ),
    }
    comment(&mut o, "Not an events file? `batchport init --kind profiles` writes a profiles job.");
    o.push_str("#\n");
    for n in &ids.notes {
        comment(&mut o, n);
    }
    let job_name = names::job_name(std::path::Path::new(path));
    let _ = writeln!(o, "\n[job]\nname = {}\nkind = \"events\"", q(&job_name));
    o.push_str("# rejects = \"rejects/\"          # where rejects files go (default: the state folder)\n");
    o.push_str("\n[api]\n# base_url = \"emulator\"       # to rehearse against a local emulator\n");
    o.push_str(
        "# endpoint = \"update\"          # per-row errors from Batch; mass-update (the default) for big files\n",
    );
    source_section(&mut o, s, path);
    let id: Vec<(String, bool)> = ids.columns.iter().map(|&(c, l)| (s.headers[c].clone(), l)).collect();
    o.push_str(&mapping(s, cols, &id, ids.trim));
    o
}

/// `[mapping]` and `[mapping.event_attributes]` for `s`.
fn mapping(s: &Sample, cols: &EventColumns, id: &[(String, bool)], trim: bool) -> String {
    let mut o = String::from("\n[mapping]\n");
    let _ = writeln!(o, "custom_id = {}", custom_id(id));
    if trim {
        o.push_str("custom_id_trim = true           # sampled IDs have spaces around them\n");
    }
    let _ = writeln!(o, "event = {}", q(&s.headers[cols.name]));
    if s.values(cols.name).iter().any(|n| !rules::is_valid_name(n)) {
        o.push_str("event_case = \"snake\"            # `Viewed Product` is sent as viewed_product\n");
    }
    if let Some((i, format, _)) = &cols.time {
        match format {
            Some(f) if f.contains(batchport_transform::value::FORMAT_SEPARATOR) => {
                let list: Vec<String> = f.split(batchport_transform::value::FORMAT_SEPARATOR).map(q).collect();
                let _ = writeln!(o, "time = {{ column = {}, format = [{}] }}", q(&s.headers[*i]), list.join(", "));
            }
            Some(f) => {
                let _ = writeln!(o, "time = {{ column = {}, format = {} }}", q(&s.headers[*i]), q(f));
            }
            None => {
                let _ = writeln!(o, "time = {{ column = {} }}", q(&s.headers[*i]));
            }
        }
    }
    o.push_str("\n[mapping.event_attributes]\n");
    let ids: Vec<&str> = id.iter().map(|(c, _)| c.as_str()).collect();
    let mut names = Names::default();
    let mut n = 0;
    for (i, header) in s.headers.iter().enumerate() {
        let taken = i == cols.name || cols.time.as_ref().is_some_and(|t| t.0 == i) || ids.contains(&header.as_str());
        if taken || header.is_empty() || n >= rules::MAX_EVENT_ATTRIBUTES {
            continue;
        }
        let values = s.values(i);
        let inferred = infer::infer(header, &values, &|_| false);
        let ty = match inferred.guess {
            Guess::Attr(ty) => ty,
            Guess::Native(_) | Guess::TooLong(_) => ValueType::String,
        };
        let m = Mapped::new(header, Target::Attr { name: names.claim(header, i), ty }, vec![inferred.evidence], false);
        mapped(&mut o, &m, "");
        n += 1;
    }
    o
}
