//! What each tool's export looks like: its documented columns and what they are
//! in Batch. A preset only proposes; `plan` checks every proposal against the
//! sampled values and falls back to inference when the file disagrees.
//!
//! Presets are data: one TOML file per tool (`mailchimp.toml`...), embedded in
//! the binary, read by `load` into a `Tool`. `batchport init --preset-file`
//! reads a user's file of the same format (docs/guide.md: "Presets as data").

mod load;
mod raw;

use super::consent::Channel;
use super::names;

pub use load::PresetError;

/// The shipped presets (`--preset` spells them so), and their data.
const BUILTIN: &[(&str, &str)] = &[
    ("mailchimp", include_str!("mailchimp.toml")),
    ("klaviyo", include_str!("klaviyo.toml")),
    ("braze", include_str!("braze.toml")),
    ("onesignal", include_str!("onesignal.toml")),
    ("customerio", include_str!("customerio.toml")),
    ("hubspot", include_str!("hubspot.toml")),
    ("brevo", include_str!("brevo.toml")),
    ("shopify", include_str!("shopify.toml")),
    ("airship", include_str!("airship.toml")),
    ("clevertap", include_str!("clevertap.toml")),
];

/// A tool's export, as data.
#[derive(Debug, Clone)]
pub struct Tool {
    /// The tool's name, for comments ("Mailchimp").
    pub name: String,
    /// Where the column names come from (pages, code): for people, not read.
    #[cfg_attr(not(test), allow(dead_code))]
    pub source: Option<String>,
    /// Columns that can be the Custom ID, best first.
    pub ids: Vec<IdRule>,
    /// Why email is the Custom ID when no `ids` column is usable.
    pub email_as_id: String,
    /// Facts about the whole export, printed at the top of the job file.
    pub notes: Vec<Note>,
    pub columns: Vec<Known>,
    /// A commented-out `[mapping.native]` line to suggest (empty for none).
    pub native_hint: String,
    /// The channel of opt-out columns whose name does not say one
    /// (`UNSUB_TIME` in an email tool is about email).
    pub opt_out_channel: Channel,
    /// Consent the whole file states (Mailchimp's per-status files).
    pub file_consent: Option<FileConsent>,
    /// Exports with one row per channel: the type column and its values for
    /// email and SMS rows; consent columns then apply to their channel's rows.
    pub consent_by_type: Option<TypeRows>,
}

/// Lines for the top of the job file, printed when the header has
/// (`if_columns`: any of them) or lacks (`unless_columns`: all of them)
/// some columns.
#[derive(Debug, Clone)]
pub struct Note {
    pub lines: Vec<String>,
    pub if_columns: Vec<String>,
    pub unless_columns: Vec<String>,
}

/// The `$email_marketing` value a whole file states: the first case whose
/// columns the header has decides, unless the file's name says another
/// case's word (a renamed file that disagrees decides nothing).
#[derive(Debug, Clone)]
pub struct FileConsent {
    pub cases: Vec<FileCase>,
    /// Columns whose presence says a file is *not* the export a "subscribed"
    /// case was read from (Mailchimp's `UNSUB_TIME`): the job file says
    /// `unless_columns`, so that another export dropped at the same path is
    /// refused at run time instead of imported as subscribed.
    pub unless_columns: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FileCase {
    /// Any of these in the header (none: always).
    pub if_columns: Vec<String>,
    pub value: ConsentValue,
    pub why: String,
    /// The word a file name of this case has (lowercase; may be empty).
    pub file_word: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentValue {
    Subscribed,
    Unsubscribed,
}

impl ConsentValue {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentValue::Subscribed => "subscribed",
            ConsentValue::Unsubscribed => "unsubscribed",
        }
    }
}

/// A type column and its values on email and on SMS rows.
#[derive(Debug, Clone)]
pub struct TypeRows {
    pub column: String,
    pub email: Vec<String>,
    pub sms: Vec<String>,
}

/// A tool's words for subscribed / unsubscribed / neither (sends nothing:
/// "never asked" is no opt-out).
#[derive(Debug, Clone)]
pub struct Words {
    pub subscribed: Vec<String>,
    pub unsubscribed: Vec<String>,
    pub undecided: Vec<String>,
}

/// A column that can be the Custom ID.
#[derive(Debug, Clone)]
pub struct IdRule {
    /// Header, compared by `names::key` (case, spaces and punctuation ignored).
    pub header: String,
    pub why: String,
    /// Tried only when there is no usable email column: an id that is not the
    /// person's (a device id) is worse than their email.
    pub after_email: bool,
}

/// A documented column of the export.
#[derive(Debug, Clone)]
pub struct Known {
    /// Header spellings, compared by `names::key`.
    pub headers: Vec<String>,
    pub role: Role,
    /// Why it maps this way; written above the mapping line.
    pub note: String,
}

#[derive(Debug, Clone)]
pub enum Role {
    Email,
    Phone,
    Language,
    Region,
    Timezone,
    /// The tool's documented consent state.
    EmailMarketing(Words),
    SmsMarketing(Words),
    /// A custom attribute with this name.
    Attr(String, Hint),
    /// Documented, deliberately not sent; the note says why.
    Skip,
    /// An address whose channel a type column tells (OneSignal's `identifier`:
    /// an email when `device_type` is 11, a phone when it is 14).
    ChannelBy(TypeRows),
    /// A subscription state for the channel the type column tells.
    SubscriptionBy(TypeRows, Words),
}

/// The type a preset expects; the sample confirms it or inference takes over.
#[derive(Debug, Clone)]
pub enum Hint {
    Text,
    Int,
    Float,
    Bool,
    /// A date; its format (or Unix seconds) is read from the sample.
    Date,
    /// Cells split on this separator.
    Array(String),
    /// Cells that are JSON lists (`"a","b"` or `["a","b"]`).
    JsonList,
    Infer,
}

/// The preset `--preset` names (`None` for `plain` or an unknown name).
pub fn tool(name: &str) -> Option<Tool> {
    let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
    // Every shipped preset is parsed by a unit test: an error here is a bug.
    Some(load::parse(text, &format!("src/init/presets/{name}.toml")).unwrap_or_else(|e| panic!("{e}")))
}

/// A user's preset file (`--preset-file`).
pub fn from_file(path: &std::path::Path) -> Result<Tool, PresetError> {
    load::read(path)
}

impl Tool {
    /// The documented column `header` is, if any.
    pub fn known(&self, header: &str) -> Option<&Known> {
        let k = names::key(header);
        self.columns.iter().find(|c| c.headers.iter().any(|h| names::key(h) == k))
    }

    /// This tool for a file with `headers`: type columns spelled as the file
    /// spells them (the job names them exactly). A column whose channel is
    /// told by a type column the file lacks cannot be read by channel: it is
    /// left out, and said so; without `consent_by_type`'s column, consent
    /// applies to every row.
    pub fn for_headers(&self, headers: &[String]) -> Tool {
        let find = |c: &str| headers.iter().find(|h| names::key(h) == names::key(c)).cloned();
        let mut t = self.clone();
        t.consent_by_type = t.consent_by_type.take().and_then(|mut rows| {
            rows.column = find(&rows.column)?;
            Some(rows)
        });
        for k in &mut t.columns {
            let (Role::ChannelBy(rows) | Role::SubscriptionBy(rows, _)) = &mut k.role else { continue };
            match find(&rows.column) {
                Some(h) => rows.column = h,
                None => {
                    k.note = format!(
                        "its channel is told by `{}`, which this file does not have: map it by hand",
                        rows.column
                    );
                    k.role = Role::Skip;
                }
            }
        }
        t
    }

    /// The notes whose conditions the header meets, one line each.
    pub fn notes(&self, headers: &[String]) -> Vec<String> {
        let notes = self.notes.iter().filter(|n| {
            (n.if_columns.is_empty() || has_any(headers, &n.if_columns)) && !has_any(headers, &n.unless_columns)
        });
        notes.flat_map(|n| n.lines.iter().cloned()).collect()
    }

    /// The `$email_marketing` value the whole file states, and why.
    pub fn file_consent(&self, headers: &[String], path: &str) -> Option<(&'static str, String)> {
        let fc = self.file_consent.as_ref()?;
        let case = fc.cases.iter().find(|c| c.if_columns.is_empty() || has_any(headers, &c.if_columns))?;
        let name =
            std::path::Path::new(path).file_name().map(|f| f.to_string_lossy().to_lowercase()).unwrap_or_default();
        let words: Vec<&str> = fc.cases.iter().map(|c| c.file_word.as_str()).filter(|w| !w.is_empty()).collect();
        // A word inside a longer word of another case that the name has does
        // not count (`subscribed` in `unsubscribed_members.csv`).
        let named =
            |w: &str| name.contains(w) && !words.iter().any(|o| o.len() > w.len() && o.contains(w) && name.contains(o));
        if words.iter().filter(|w| **w != case.file_word).any(|w| named(w)) {
            return None;
        }
        Some((case.value.as_str(), case.why.clone()))
    }
}

/// Whether the header has any of `columns` (compared by `names::key`).
fn has_any(headers: &[String], columns: &[String]) -> bool {
    columns.iter().any(|c| headers.iter().any(|h| names::key(h) == names::key(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_tables_are_well_formed() {
        // Every shipped preset loads (`load` refuses what is checked below
        // too: checked again here, whatever `load` becomes).
        for (name, _) in BUILTIN {
            let t = tool(name).unwrap();
            assert!(t.source.as_deref().is_some_and(|s| s.contains("Source") || s.contains("http")), "{name}: source");
            assert!(!t.columns.is_empty() && !t.email_as_id.is_empty(), "{name}");
            let mut seen = std::collections::HashSet::new();
            for c in &t.columns {
                for h in &c.headers {
                    assert!(seen.insert(names::key(h)), "{name}: `{h}` listed twice");
                }
                if let Role::Attr(n, _) = &c.role {
                    assert!(batchport_api::rules::is_valid_name(n), "{name}: `{n}`");
                }
                if let Role::EmailMarketing(w) | Role::SmsMarketing(w) | Role::SubscriptionBy(_, w) = &c.role {
                    let (s, u, n) = (&w.subscribed, &w.unsubscribed, &w.undecided);
                    assert!(s.iter().all(|w| !u.contains(w) && !n.contains(w)), "{name}: a word in two lists");
                    assert!(u.iter().all(|w| !n.contains(w)), "{name}: a word in two lists");
                    assert!(!s.is_empty() && !u.is_empty(), "{name}: {:?}", c.headers);
                }
            }
        }
        assert!(tool("plain").is_none());
        // `--preset` offers exactly the shipped presets.
        for p in <super::super::Preset as clap::ValueEnum>::value_variants() {
            assert_eq!(tool(p.as_str()).is_some(), *p != super::super::Preset::Plain, "{}", p.as_str());
        }
        assert_eq!(BUILTIN.len() + 1, <super::super::Preset as clap::ValueEnum>::value_variants().len());
    }

    fn mailchimp() -> Tool {
        tool("mailchimp").unwrap()
    }

    #[test]
    fn file_consent_reads_columns_and_a_file_name_that_disagrees_decides_nothing() {
        let h = |cols: &[&str]| cols.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let t = mailchimp();
        let sub = h(&["Email Address"]);
        let unsub = h(&["Email Address", "UNSUB_TIME"]);
        let clean = h(&["Email Address", "CLEAN_TIME"]);
        assert_eq!(t.file_consent(&sub, "dir/subscribed_members.csv").unwrap().0, "subscribed");
        assert_eq!(t.file_consent(&sub, "export.csv").unwrap().0, "subscribed");
        assert_eq!(t.file_consent(&unsub, "unsubscribed_members.csv").unwrap().0, "unsubscribed");
        assert_eq!(t.file_consent(&clean, "cleaned_members.csv").unwrap().0, "unsubscribed");
        assert!(t.file_consent(&sub, "unsubscribed_members.csv").is_none());
        assert!(t.file_consent(&sub, "cleaned.csv").is_none());
        assert!(t.file_consent(&clean, "subscribed.csv").is_none());
        assert!(t.file_consent(&unsub, "cleaned.csv").is_none());
        assert!(tool("klaviyo").unwrap().file_consent(&sub, "subscribed.csv").is_none());
        assert_eq!(t.notes(&unsub)[1], "This file has UNSUB_TIME: it is the *unsubscribed* export.");
        assert!(t.notes(&clean)[1].contains("CLEAN_TIME"));
        assert!(t.notes(&sub)[1].contains("no UNSUB_TIME"));
        assert_eq!(t.notes(&sub).len(), 3);
    }
}
