//! The resolved job: defaults applied, names checked, limits looked up. The rest
//! of the code trusts these values and never reads the raw file again.

use batchport_api::{Endpoint, Limits, Version};
use batchport_source::SourceOptions;
use std::path::PathBuf;

pub use batchport_api::Kind;

/// What to do with a batch whose outcome is unknown after a crash or a lost answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUncertain {
    Hold,
    Resend,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseUrl {
    /// Start an emulator in-process and talk to it.
    Emulator,
    Url(String),
}

#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub base_url: BaseUrl,
    pub version: Version,
    pub endpoint: Endpoint,
    pub limits: Limits,
    pub rest_key_env: String,
    pub project_key_env: String,
    /// Updates/s override; `Some(0)` means unlimited (loopback only).
    pub rate: Option<u32>,
    pub concurrency: usize,
    pub batch_size: usize,
    /// Events older than this (or in the future) are rejects; `None` = no window.
    pub event_max_age: Option<chrono::Duration>,
}

#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// A path or a glob, as written.
    pub pattern: String,
    /// Relative patterns are relative to the job file's folder.
    pub base_dir: PathBuf,
    pub options: SourceOptions,
}

/// A column the mapping reads, with where the job file names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The job-file key that names it, e.g. `mapping.attributes.first_name`.
    pub key: String,
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blank {
    /// A blank cell sends nothing.
    Ignore,
    /// A blank cell sends `null`, deleting the attribute.
    Clear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayMode {
    Replace,
    Add,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueType {
    String,
    Int,
    Float,
    Bool,
    /// `format` is a strftime pattern; `None` accepts RFC 3339 and `YYYY-MM-DD`.
    Date {
        format: Option<String>,
    },
    Url,
    Array {
        separator: String,
        mode: ArrayMode,
        /// Cells are JSON lists: `["a","b"]` or Mailchimp's `"a","b"`.
        json: bool,
    },
    /// A JSON object or array of objects in the cell (event attributes).
    Json,
}

/// One `[mapping.attributes]` (or event / item attribute) entry.
#[derive(Debug, Clone)]
pub struct AttrMap {
    /// The name as the user wrote it (`birthdate`, `$label`).
    pub name: String,
    /// The key sent to Batch: `date(birthdate)`, `url(website)` or the name.
    pub wire_name: String,
    pub column: Column,
    pub ty: ValueType,
    /// `{ value = "..." }`: sent for every row; `column` then only names the key.
    pub constant: Option<String>,
}

/// The user's words for subscribed / unsubscribed, lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionValues {
    pub subscribed: Vec<String>,
    pub unsubscribed: Vec<String>,
    /// Values that send no subscription at all (consent not given either way).
    pub undecided: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeKind {
    Email,
    EmailMarketing(SubscriptionValues),
    Phone,
    SmsMarketing(SubscriptionValues),
    Language,
    Region,
    Timezone,
}

impl NativeKind {
    pub fn wire_name(&self) -> &'static str {
        match self {
            NativeKind::Email => "$email_address",
            NativeKind::EmailMarketing(_) => "$email_marketing",
            NativeKind::Phone => "$phone_number",
            NativeKind::SmsMarketing(_) => "$sms_marketing",
            NativeKind::Language => "$language",
            NativeKind::Region => "$region",
            NativeKind::Timezone => "$timezone",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NativeMap {
    pub kind: NativeKind,
    /// The column read; with a `rule.constant`, only the key that named it.
    pub column: Column,
    pub rule: NativeRule,
}

/// A column whose value says "opted out": one of `values`, or (`except`)
/// any non-blank value but those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSuppression {
    pub column: Column,
    /// Lowercased.
    pub values: Vec<String>,
    pub except: bool,
}

impl ValueSuppression {
    /// Whether `cell` opts out.
    pub fn opts_out(&self, cell: &str) -> bool {
        let c = cell.trim();
        let listed = self.values.iter().any(|v| v.eq_ignore_ascii_case(c));
        if self.except { !c.is_empty() && !listed } else { listed }
    }
}

/// What a native mapping does besides reading its column.
#[derive(Debug, Clone, Default)]
pub struct NativeRule {
    /// `{ value = "..." }`: the same value for every row; no column is read.
    pub constant: Option<String>,
    /// Sent only when this column holds one of these values (lowercased).
    pub when: Option<(Column, Vec<String>)>,
    /// Subscriptions: any of these columns set means unsubscribed, whatever
    /// the column or constant says (an opt-out wins).
    pub suppressed_by: Vec<Column>,
    /// Subscriptions: columns whose cell's value (lowercased) means
    /// unsubscribed, like `suppressed_by`.
    pub suppressed_when: Vec<ValueSuppression>,
    /// Phones: the region national numbers are read in (`FR`), or its column.
    pub region: Option<String>,
    pub region_column: Option<Column>,
    /// A subscription decided by `suppressed_by` alone: no column is read.
    pub only_suppressions: bool,
    /// With `constant`: a file whose header has one of these columns is
    /// refused (named as the job file wrote them; compared ignoring case,
    /// spaces and punctuation).
    pub unless_columns: Vec<String>,
}

/// A Custom ID column; `lowercase` folds emails used as ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdColumn {
    pub column: Column,
    pub lowercase: bool,
}

#[derive(Debug, Clone)]
pub struct ProfileMapping {
    /// The first Custom ID column (`id_columns[0]`).
    pub custom_id: Column,
    /// Every Custom ID column, tried in order per row (the first non-blank wins).
    pub id_columns: Vec<IdColumn>,
    pub blank: Blank,
    pub changed_only: bool,
    /// `opt_outs = "person"`: an opt-out on any row of a Custom ID holds for
    /// every row of it (the file is read ahead for them).
    pub opt_outs_per_person: bool,
    /// `on_bad_value = "drop"` (the default): a value that fails its type or
    /// rule is left out of the operation (and reported), the rest of the row
    /// is sent; only a bad identity (Custom ID, event name or time) rejects
    /// the row. `"reject_row"`: any bad value rejects the row.
    pub drop_bad_values: bool,
    pub native: Vec<NativeMap>,
    pub attributes: Vec<AttrMap>,
}

#[derive(Debug, Clone)]
pub enum EventName {
    Column(Column),
    Constant(String),
}

#[derive(Debug, Clone)]
pub struct EventMapping {
    /// The profile part: a job may map attributes and one event per row.
    pub profile: ProfileMapping,
    pub name: EventName,
    pub time: Option<(Column, Option<String>)>,
    pub attributes: Vec<AttrMap>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudienceMode {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone)]
pub struct AudienceSettings {
    pub name: String,
    pub display_name: String,
    pub create: bool,
    /// `replace` with no row to send empties the audience instead of refusing.
    pub allow_empty: bool,
    pub mode: AudienceMode,
    pub custom_id: Column,
    pub id_columns: Vec<IdColumn>,
    pub attributes: Vec<AttrMap>,
}

#[derive(Debug, Clone)]
pub struct CatalogSettings {
    pub name: String,
    pub item_id: Column,
    pub attributes: Vec<AttrMap>,
    /// Create the catalog when it is missing, its schema from `attributes`.
    pub create: bool,
    /// Remove the items instead of adding them.
    pub remove: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportType {
    Attributes,
    Events,
    Reachability,
}

#[derive(Debug, Clone)]
pub struct ExportSettings {
    pub ty: ExportType,
    pub attributes: Vec<String>,
    pub identifiers: Vec<String>,
    pub segment: Option<String>,
    pub from: Option<chrono::NaiveDate>,
    pub output: PathBuf,
    /// CSV output: text cells starting with `=`, `+`, `-`, `@`, tab or CR
    /// (and not a number) get a leading `'` (default true).
    pub escape_formulas: bool,
}

/// What the rows of a job become.
#[derive(Debug, Clone)]
pub enum Mapping {
    Profiles(ProfileMapping),
    Events(EventMapping),
    Audience(AudienceSettings),
    Catalog(CatalogSettings),
    Export(ExportSettings),
}

#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub kind: Kind,
    pub schedule: Option<String>,
    pub rejects_dir: Option<PathBuf>,
    pub on_uncertain: OnUncertain,
    pub api: ApiSettings,
    /// Absent only for exports.
    pub source: Option<SourceSettings>,
    pub mapping: Mapping,
    /// The job file, for messages.
    pub file: PathBuf,
    /// `[mapping] custom_id_trim`: trim Custom IDs instead of rejecting them.
    pub custom_id_trim: bool,
    /// What the job sends for a row, as a print (the kind and the `[mapping]`
    /// table, keys sorted, comments and layout ignored): a run records it, so
    /// that an edited mapping never resumes a run or counts as "already
    /// imported" (see `job::resolve::mapping_print`).
    pub mapping_print: String,
}
