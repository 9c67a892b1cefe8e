//! Which column is the Custom ID: the tool's own user id when it is filled
//! in, else the email. When the id column is blank on some rows that have an
//! email, the email is the per-row fallback (`custom_id = ["id", { column =
//! "email", lowercase = true }]`). An email used as an id is lowercased: Custom
//! IDs match exactly, and `Jane@x.com` and `jane@x.com` are one person.

use super::names;
use super::presets::{Role, Tool};
use super::sample::Sample;

/// Header spellings that name a user id in files without a preset.
const ID_NAMES: &[&str] =
    &["customid", "userid", "externalid", "customerid", "accountid", "memberid", "contactid", "personid", "uid", "id"];

/// The chosen columns, in the order they are tried.
#[derive(Debug, Clone)]
pub struct Ids {
    /// (column index, lowercase)
    pub columns: Vec<(usize, bool)>,
    pub notes: Vec<String>,
    /// Sampled rows repeat a Custom ID: people span several rows.
    pub repeats: bool,
    /// Sampled IDs have spaces around them (`custom_id_trim = true`).
    pub trim: bool,
}

impl Ids {
    pub fn first(&self) -> usize {
        self.columns[0].0
    }
}

pub fn choose(s: &Sample, tool: Option<&Tool>) -> Ids {
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
                None => super::infer::emails(&s.values(i)).is_some(),
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
                let Some(i) = find(&names::key(&rule.header)) else { continue };
                if pick.is_none() && mostly(i) {
                    pick = Some((i, rule.why.clone()));
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
    let mut email_is_id = false;
    if pick.is_none()
        && let Some(e) = email_col.filter(|&e| mostly(e))
    {
        let why = tool
            .map(|t| t.email_as_id.as_str())
            .unwrap_or("no column is named like a user id and this one holds emails");
        pick = Some((e, format!("the email address is the Custom ID: {why}")));
        email_is_id = true;
        notes
            .push("A person who changes email becomes a new profile in Batch (the old one keeps the old data).".into());
        notes.push(
            "The email is lowercased (lowercase = true): `Jane@example.com` and `jane@example.com` are one".into(),
        );
        notes.push(
            "person, and Custom IDs match exactly. If your app logs people in with another id, map that here.".into(),
        );
    }
    let unique = |i: usize| {
        let v = s.values(i);
        v.len() == n && v.iter().collect::<std::collections::HashSet<_>>().len() == n
    };
    // A column named like an id but blank in most rows (an unused
    // `external_id` beside a filled `id`) would reject most rows: a filled
    // one first, then any column of distinct values, and only then a blank one.
    if pick.is_none() {
        pick = ID_NAMES
            .iter()
            .find_map(|k| find(k).filter(|&i| mostly(i)))
            .map(|i| (i, "named like a user id".to_string()));
    }
    if pick.is_none() {
        pick = (0..s.headers.len())
            .find(|&i| usable(i) && unique(i))
            .map(|i| (i, "the first column whose sampled values are all filled and distinct".to_string()));
    }
    if pick.is_none() {
        pick = ID_NAMES.iter().find_map(|k| find(k)).map(|i| (i, "named like a user id".to_string()));
    }
    let (i, why) = pick.unwrap_or_else(|| {
        let i = (0..s.headers.len()).find(|&i| usable(i)).unwrap_or(0);
        (i, "no column looks like an id: the first column is used; CHECK THIS".to_string())
    });
    let mut columns = vec![(i, email_is_id)];
    let mut all = vec![format!("Custom ID: column `{}`: {why}.", s.headers[i])];
    // Rows with no id but an email: the email is their Custom ID.
    let rescued = |e: usize| (0..n).filter(|&r| s.cells[i][r].is_empty() && !s.cells[e][r].is_empty()).count();
    if let Some(e) = email_col.filter(|&e| e != i && filled(i) < n && rescued(e) > 0) {
        columns.push((e, true));
        all.push(format!(
            "{} of {n} sampled rows have no `{}` but an email: the lowercased `{}` is their Custom ID \
             (such a profile will not merge with the one your app creates when the person logs in).",
            rescued(e),
            s.headers[i],
            s.headers[e]
        ));
    }
    let blank = (0..n).filter(|&r| columns.iter().all(|&(c, _)| s.cells[c][r].is_empty())).count();
    if blank > 0 {
        all.push(format!(
            "{blank} of {n} sampled rows have no Custom ID: `validate` and `run` reject them (Batch needs one)."
        ));
    }
    let distinct = s.values(i).iter().collect::<std::collections::HashSet<_>>().len();
    let repeats = distinct < filled(i);
    if repeats {
        all.push(format!(
            "{} sampled rows repeat a Custom ID: rows with the same id update the same profile, in file order.",
            filled(i) - distinct
        ));
    }
    // ` jane@example.com`: a job without `custom_id_trim` rejects the row.
    // (The sample's cells are trimmed: the rows as read say it.)
    let padded = s
        .rows
        .iter()
        .filter(|r| r.record.len() == s.headers.len())
        .flat_map(|r| columns.iter().filter_map(move |&(c, _)| r.record.get(c)))
        .filter(|v| v.trim_ascii().len() != v.len() && !v.trim_ascii().is_empty())
        .count();
    if padded > 0 {
        all.push(format!(
            "{padded} sampled Custom IDs have spaces around them: custom_id_trim = true trims them (without it those rows are rejects)."
        ));
    }
    all.extend(notes);
    Ids { columns, notes: all, repeats, trim: padded > 0 }
}
