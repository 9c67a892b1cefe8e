//! The job file exactly as written: TOML into `deny_unknown_fields` types, with
//! spans kept on the values whose meaning is checked later, so that every error
//! can name its line. Nothing here applies defaults: `resolve` does.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JobFile {
    pub job: JobSection,
    #[serde(default)]
    pub api: ApiSection,
    pub source: Option<SourceSection>,
    #[serde(default)]
    pub mapping: MappingSection,
    pub audience: Option<AudienceSection>,
    pub catalog: Option<CatalogSection>,
    pub export: Option<ExportSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JobSection {
    pub name: Spanned<String>,
    pub kind: Spanned<String>,
    pub schedule: Option<Spanned<String>>,
    pub rejects: Option<String>,
    pub on_uncertain: Option<Spanned<String>>,
    /// Days the rejects, uncertain and partial files of the job's runs are
    /// kept; older ones are deleted when the job runs.
    pub keep_reports_days: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApiSection {
    pub base_url: Option<Spanned<String>>,
    pub version: Option<Spanned<String>>,
    pub endpoint: Option<Spanned<String>>,
    pub rest_key_env: Option<Spanned<String>>,
    pub project_key_env: Option<Spanned<String>>,
    pub rate: Option<Spanned<u32>>,
    pub concurrency: Option<Spanned<usize>>,
    pub batch_size: Option<Spanned<usize>>,
    /// Events older than this are refused before sending ("24h", "7d", "none").
    pub event_max_age: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SourceSection {
    pub path: Spanned<String>,
    pub delimiter: Option<Spanned<String>>,
    pub encoding: Option<Spanned<String>>,
    /// "auto" (the default), "csv" or "ndjson".
    pub format: Option<Spanned<String>>,
    /// The endpoint of an S3-compatible store (MinIO, R2...) for URL paths.
    pub endpoint: Option<Spanned<String>>,
}

/// `[mapping]` for every kind; which keys a kind accepts is checked in `resolve`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MappingSection {
    /// A column, a table `{ column, lowercase }`, or a list of them tried in
    /// order (per-row fallbacks).
    pub custom_id: Option<Spanned<toml::Value>>,
    pub blank: Option<Spanned<String>>,
    pub changed_only: Option<bool>,
    pub native: Option<NativeSection>,
    /// Batch attribute name → column name or table; decoded in `resolve` so
    /// that an error in one entry names that entry's line.
    pub attributes: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    pub event: Option<Spanned<String>>,
    pub event_name: Option<Spanned<String>>,
    /// `"as_is"` (the default) or `"snake"`: `Viewed Product` is sent as
    /// `viewed_product` (Batch takes `[a-z0-9_]` only).
    pub event_case: Option<Spanned<String>>,
    pub time: Option<Spanned<toml::Value>>,
    pub event_attributes: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    pub item_id: Option<Spanned<String>>,
    /// Trim whitespace around Custom IDs (off: such IDs are rejected).
    pub custom_id_trim: Option<Spanned<bool>>,
    /// `"row"` (the default) or `"person"`: an opt-out on any row of a
    /// Custom ID holds for all its rows.
    pub opt_outs: Option<Spanned<String>>,
    /// `"drop"` (the default): a value that fails its type or rule is left
    /// out of the row's operation and reported; `"reject_row"`: the whole row
    /// is rejected, as before.
    pub on_bad_value: Option<Spanned<String>>,
    /// `true` (the default): `subscribed` is sent only on a row that also
    /// sends the channel's address, where the job maps one; `false`: also on
    /// rows whose address is blank or invalid (the person's address is
    /// already in Batch).
    pub subscribed_needs_address: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NativeSection {
    pub email_address: Option<Spanned<toml::Value>>,
    pub email_marketing: Option<Spanned<toml::Value>>,
    pub phone_number: Option<Spanned<toml::Value>>,
    pub sms_marketing: Option<Spanned<toml::Value>>,
    pub language: Option<Spanned<toml::Value>>,
    pub region: Option<Spanned<toml::Value>>,
    pub timezone: Option<Spanned<toml::Value>>,
}

/// The table form of a native attribute other than a subscription.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NativeTable {
    pub column: Option<String>,
    /// A constant sent for every row instead of a column.
    pub value: Option<String>,
    /// Sent only on rows whose column `when` holds one of `is` (a channel
    /// told by a type column: OneSignal's `device_type`).
    pub when: Option<String>,
    #[serde(default)]
    pub is: Vec<String>,
    /// Phones: the region of national numbers (`FR`), or a column holding it.
    pub region: Option<String>,
    pub region_column: Option<String>,
}

/// A Custom ID column in its table form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IdTable {
    pub column: String,
    #[serde(default)]
    pub lowercase: bool,
}

/// The table form of an attribute mapping.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AttrTable {
    pub column: Option<String>,
    /// A constant sent for every row instead of a column.
    pub value: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// A date's strftime pattern, or several tried in order; `"json"` for an
    /// array.
    pub format: Option<Formats>,
    pub separator: Option<String>,
    pub mode: Option<String>,
}

/// `format = "..."` or `format = ["...", "..."]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Formats {
    One(String),
    Many(Vec<String>),
}

impl Formats {
    /// The one format, if there is exactly one.
    pub fn one(&self) -> Option<&str> {
        match self {
            Formats::One(f) => Some(f),
            Formats::Many(l) if l.len() == 1 => Some(&l[0]),
            Formats::Many(_) => None,
        }
    }

    pub fn list(&self) -> Vec<String> {
        match self {
            Formats::One(f) => vec![f.clone()],
            Formats::Many(l) => l.clone(),
        }
    }
}

/// The table form of a subscription mapping.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SubscriptionTable {
    pub column: Option<String>,
    /// A constant for every row (`"unsubscribed"`: a file of opt-outs).
    pub value: Option<String>,
    #[serde(default)]
    pub subscribed: Vec<String>,
    #[serde(default)]
    pub unsubscribed: Vec<String>,
    /// Values that decide nothing: the row sends no subscription.
    #[serde(default)]
    pub undecided: Vec<String>,
    /// `"subscribed"`: a set cell the lists do not name is an opt-in (a
    /// column of opt-in dates); an unset one sends nothing.
    pub when_set: Option<String>,
    /// Columns that, when set (not blank, not false/0/no), mean an opt-out or a
    /// suppression: they win over `column` and `value`. An entry
    /// `{ column = "...", is = [...] }` means an opt-out when the cell is one
    /// of `is`; `{ column = "...", not = [...] }` when it is set to anything
    /// else than one of `not` (an opt-in column beside the one that decides).
    #[serde(default)]
    pub suppressed_by: Vec<Suppression>,
    pub when: Option<String>,
    #[serde(default)]
    pub is: Vec<String>,
    /// With a constant `value`: a file whose header has one of these columns
    /// is refused (another export than the one the constant was read from,
    /// e.g. Mailchimp's unsubscribed file under a "subscribed" constant).
    #[serde(default)]
    pub unless_columns: Vec<String>,
}

/// One `suppressed_by` entry: a column whose being set is an opt-out; a
/// column and the values that are (`is`); or a column and the values that
/// are not (`not`: any other non-blank value is an opt-out, the fail-safe
/// reading of a second consent column).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Suppression {
    Set(String),
    Values(SuppressionValues),
    Except(SuppressionExcept),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SuppressionValues {
    pub column: String,
    pub is: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SuppressionExcept {
    pub column: String,
    pub not: Vec<String>,
}

impl Suppression {
    pub fn column(&self) -> &str {
        match self {
            Suppression::Set(c) => c,
            Suppression::Values(v) => &v.column,
            Suppression::Except(e) => &e.column,
        }
    }
}

/// `time = { column = "time", format = "..." }` of events.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TimeTable {
    pub column: String,
    pub format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AudienceSection {
    pub name: Spanned<String>,
    pub display_name: Option<String>,
    #[serde(default)]
    pub create: bool,
    pub mode: Option<Spanned<String>>,
    /// `replace` with nothing to send empties the audience (refused otherwise).
    #[serde(default)]
    pub allow_empty: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CatalogSection {
    pub name: Spanned<String>,
    /// Create the catalog (schema from the mapping's types) if it is missing.
    #[serde(default)]
    pub create: bool,
    /// add (default) | remove
    pub mode: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExportSection {
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    #[serde(default)]
    pub attributes: Vec<String>,
    #[serde(default)]
    pub identifiers: Vec<String>,
    pub segment: Option<String>,
    pub from: Option<Spanned<String>>,
    pub output: Spanned<String>,
    /// CSV output: prefix cells a spreadsheet would run as a formula with `'`.
    pub escape_formulas: Option<bool>,
    /// The output's permissions, in octal (`"0640"`); default private (0600).
    pub mode: Option<Spanned<String>>,
}
