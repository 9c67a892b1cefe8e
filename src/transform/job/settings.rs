//! The resolved job: defaults applied, names checked, limits looked up. The rest
//! of the code trusts these values and never reads the raw file again.

use batchport_api::{Endpoint, Limits, Version};
use batchport_source::SourceOptions;
use std::path::PathBuf;

use super::subscription::SubscriptionValues;

pub use batchport_api::Kind;

/// What to do with a batch whose outcome is unknown after a crash or a lost answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUncertain {
    /// `hold` (the default for events, which are not idempotent): the batch's
    /// rows go to the uncertain file and are not sent again.
    Hold,
    /// `resend` (the default for the other kinds): the batch is sent again on
    /// resume.
    Resend,
}

/// Where the API is: `[api] base_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseUrl {
    /// Start an emulator in-process and talk to it.
    Emulator,
    /// A base URL: https, or plain http to this machine only; no trailing `/`
    /// (`https://api.batch.com` by default).
    Url(String),
}

/// `[api]`, resolved: defaults applied and the endpoint's documented limits
/// looked up for the API version.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// `base_url`.
    pub base_url: BaseUrl,
    /// `version` (`Version::CURRENT` by default): the limits and rules it has.
    pub version: Version,
    /// `endpoint` for profiles and events jobs (`mass-update` by default, or
    /// `update`); the kind's own endpoint for the others.
    pub endpoint: Endpoint,
    /// The documented limits of `endpoint` in `version`: batch size, rates,
    /// concurrency.
    pub limits: Limits,
    /// `rest_key_env`: the environment variable holding the REST API key
    /// (`BATCH_REST_KEY` by default; only `BATCH_*` names).
    pub rest_key_env: String,
    /// `project_key_env`: the environment variable holding the project key
    /// (`BATCH_PROJECT_KEY` by default; only `BATCH_*` names).
    pub project_key_env: String,
    /// Updates/s override; `Some(0)` means unlimited (loopback only).
    pub rate: Option<u32>,
    /// `concurrency` (1 to 64): requests in flight; the endpoint's by default.
    pub concurrency: usize,
    /// `batch_size`: operations per call; by default the endpoint's maximum,
    /// or half its bucket where the bucket has no burst.
    pub batch_size: usize,
    /// Events older than this (or in the future) are rejects; `None` = no window.
    pub(crate) event_max_age: Option<chrono::Duration>,
}

/// `[source]`, resolved.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// A path or a glob, as written.
    pub pattern: String,
    /// Relative patterns are relative to the job file's folder.
    pub base_dir: PathBuf,
    /// `delimiter`, `encoding`, `format` and `endpoint`, as the reader takes them.
    pub options: SourceOptions,
}

/// A column the mapping reads, with where the job file names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The header name, trimmed.
    pub name: String,
    /// The job-file key that names it, e.g. `mapping.attributes.first_name`.
    pub(crate) key: String,
    /// The line of the job file that names it.
    pub line: usize,
}

/// `[mapping] blank`: what a blank cell sends (`ignore` by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blank {
    /// A blank cell sends nothing.
    Ignore,
    /// A blank cell sends `null`, deleting the attribute.
    Clear,
}

/// An array attribute's `mode`: what its items do to the array in Batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayMode {
    /// `replace` (the default): the items become the array.
    Replace,
    /// `add`: the items are added to the array (`$add`).
    Add,
    /// `remove`: the items are taken out of the array (`$remove`).
    Remove,
}

/// An attribute's `type` (with `format`, `separator` and `mode`): how its
/// cell is read and sent. A bare column name is a `string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueType {
    /// `string`: the text as it is, within the attribute's length limit.
    String,
    /// `int`: a whole number.
    Int,
    /// `float`: a number; decimal commas and thousands separators are read.
    Float,
    /// `bool`: true/false, yes/no or 1/0.
    Bool,
    /// `format` is a strftime pattern; `None` accepts RFC 3339 and `YYYY-MM-DD`.
    Date {
        /// The attribute's `format`; several (`format = [...]`, tried in
        /// order) joined by `value::FORMAT_SEPARATOR`.
        format: Option<String>,
    },
    /// `url`: a URL, sent as `url(name)`.
    Url,
    /// `array`: the cell's items, split on `separator` or read as a JSON list.
    Array {
        /// `separator` (`,` by default).
        separator: String,
        /// `mode`.
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
    /// The column read (`column`, or the entry's bare string).
    pub column: Column,
    /// `type` and its options.
    pub ty: ValueType,
    /// `{ value = "..." }`: sent for every row; `column` then only names the key.
    pub constant: Option<String>,
}

/// Which native attribute a `[mapping.native]` key maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeKind {
    /// `email_address`.
    Email,
    /// `email_marketing`, with the words its column uses.
    EmailMarketing(SubscriptionValues),
    /// `phone_number`, sent as E.164.
    Phone,
    /// `sms_marketing`, with the words its column uses.
    SmsMarketing(SubscriptionValues),
    /// `language`: an ISO 639-1 code.
    Language,
    /// `region`: an ISO 3166-1 alpha-2 country code.
    Region,
    /// `timezone`: an IANA zone name.
    Timezone,
}

impl NativeKind {
    /// The attribute's name in the API (`$email_address`...).
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

/// One `[mapping.native]` entry.
#[derive(Debug, Clone)]
pub struct NativeMap {
    /// Which native, from the entry's key.
    pub kind: NativeKind,
    /// The column read; with a `rule.constant`, only the key that named it.
    pub column: Column,
    /// Its rules besides the column (a table entry's keys).
    pub rule: NativeRule,
}

/// A column whose value says "opted out": one of `values`, or (`except`)
/// any non-blank value but those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValueSuppression {
    pub(crate) column: Column,
    /// Lowercased.
    pub(crate) values: Vec<String>,
    pub(crate) except: bool,
}

impl ValueSuppression {
    /// Whether `cell` opts out.
    pub(crate) fn opts_out(&self, cell: &str) -> bool {
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
    pub(crate) suppressed_when: Vec<ValueSuppression>,
    /// Phones: the region national numbers are read in (`FR`), or its column.
    pub(crate) region: Option<String>,
    /// `region_column`: a column holding each row's region, read before `region`.
    pub region_column: Option<Column>,
    /// A subscription decided by `suppressed_by` alone: no column is read.
    pub(crate) only_suppressions: bool,
    /// With `constant`: a file whose header has one of these columns is
    /// refused (named as the job file wrote them; compared ignoring case,
    /// spaces and punctuation).
    pub(crate) unless_columns: Vec<String>,
}

/// A Custom ID column; `lowercase` folds emails used as ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdColumn {
    pub(crate) column: Column,
    /// `lowercase`: the ID is sent in lower case.
    pub lowercase: bool,
}

/// The `[mapping]` of a profiles job, and the profile part of an events job.
#[derive(Debug, Clone)]
pub struct ProfileMapping {
    /// The first Custom ID column (`id_columns[0]`).
    pub custom_id: Column,
    /// Every Custom ID column, tried in order per row (the first non-blank wins).
    pub id_columns: Vec<IdColumn>,
    pub(crate) blank: Blank,
    /// `changed_only`: send only the rows whose operation differs from what
    /// the change index says Batch already has.
    pub changed_only: bool,
    /// `opt_outs = "person"`: an opt-out on any row of a Custom ID holds for
    /// every row of it (the file is read ahead for them).
    pub(crate) opt_outs_per_person: bool,
    /// `on_bad_value = "drop"` (the default): a value that fails its type or
    /// rule is left out of the operation (and reported), the rest of the row
    /// is sent; only a bad identity (Custom ID, event name or time) rejects
    /// the row. `"reject_row"`: any bad value rejects the row.
    pub(crate) drop_bad_values: bool,
    /// `subscribed_needs_address` (default true): no `subscribed` on a row
    /// without the channel's address, where the job maps one.
    pub(crate) subscribed_needs_address: bool,
    /// `[mapping.native]`: addresses, language, region and time zone, then
    /// the subscriptions.
    pub native: Vec<NativeMap>,
    /// `[mapping.attributes]`, in the file's order.
    pub attributes: Vec<AttrMap>,
}

impl ProfileMapping {
    /// `blank = "clear"`: a blank cell deletes the attribute in Batch.
    pub fn clears_blanks(&self) -> bool {
        self.blank == Blank::Clear
    }

    /// The values a row maps (natives and attributes): what a row could
    /// clear at most.
    pub fn mapped_values(&self) -> usize {
        self.native.len() + self.attributes.len()
    }
}

impl Mapping {
    /// The profile part of a profiles or events job.
    pub fn profile(&self) -> Option<&ProfileMapping> {
        match self {
            Mapping::Profiles(p) => Some(p),
            Mapping::Events(e) => Some(&e.profile),
            _ => None,
        }
    }
}

/// Where an event's name comes from.
#[derive(Debug, Clone)]
pub(crate) enum EventName {
    /// `mapping.event`: a column, the name of each row's event.
    Column(Column),
    /// `mapping.event_name`: the same name for every row.
    Constant(String),
}

/// The `[mapping]` of an events job.
#[derive(Debug, Clone)]
pub struct EventMapping {
    /// The profile part: a job may map attributes and one event per row.
    pub profile: ProfileMapping,
    pub(crate) name: EventName,
    /// `event_case = "snake"`: a column's event names are put in snake case.
    pub(crate) snake_case: bool,
    pub(crate) time: Option<(Column, Option<String>)>,
    /// `[mapping.event_attributes]`, in the file's order (`object.member`
    /// names are members of an object attribute).
    pub attributes: Vec<AttrMap>,
}

impl EventMapping {
    /// Whether the job maps the event's time (`[mapping] time`). Without one,
    /// Batch stamps each event when it arrives: two identical rows are two
    /// events.
    pub fn has_time(&self) -> bool {
        self.time.is_some()
    }
}

/// `[audience] mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudienceMode {
    /// `add` (the default): the file's ids join the audience.
    Add,
    /// `remove`: the file's ids leave it.
    Remove,
    /// `replace`: the audience becomes the file's ids.
    Replace,
}

/// `[audience]` of an audience job, with the ids and attributes of its
/// `[mapping]`.
#[derive(Debug, Clone)]
pub struct AudienceSettings {
    /// `name`: the audience in Batch.
    pub name: String,
    /// `display_name` (the name by default): given when the job creates it.
    pub display_name: String,
    /// `create`: create the audience when it is missing.
    pub create: bool,
    /// `replace` with no row to send empties the audience instead of refusing.
    pub allow_empty: bool,
    /// `mode`.
    pub mode: AudienceMode,
    pub(crate) custom_id: Column,
    pub(crate) id_columns: Vec<IdColumn>,
    /// `[mapping.attributes]`, sent with each id (`add` and `replace` only).
    pub attributes: Vec<AttrMap>,
}

/// `[catalog]` of a catalog job, with the item id and attributes of its
/// `[mapping]`.
#[derive(Debug, Clone)]
pub struct CatalogSettings {
    /// `name`: the catalog in Batch.
    pub name: String,
    pub(crate) item_id: Column,
    /// `[mapping.attributes]`: the items' fields.
    pub attributes: Vec<AttrMap>,
    /// Create the catalog when it is missing, its schema from `attributes`.
    pub create: bool,
    /// Remove the items instead of adding them.
    pub remove: bool,
}

/// `[export] type`: what Batch exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportType {
    /// `attributes`: the profiles' identifiers and attributes.
    Attributes,
    /// `events`: the events since `from`.
    Events,
    /// `reachability`: the subscription changes since `from`.
    Reachability,
}

/// `[export]` of an export job.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// `type`.
    pub ty: ExportType,
    /// `attributes`: the attributes asked for.
    pub attributes: Vec<String>,
    /// `identifiers`: the identifiers asked for besides `custom_id`, which
    /// is always exported.
    pub identifiers: Vec<String>,
    /// `segment`: only the profiles of this segment.
    pub segment: Option<String>,
    /// `from` (at most 90 days back): where an events or reachability export
    /// starts.
    pub from: Option<chrono::NaiveDate>,
    /// `output` (.csv or .ndjson), relative to the job file's folder; an
    /// object URL (`s3://...`) is kept as written and uploaded at the end.
    pub output: PathBuf,
    /// CSV output: text cells starting with `=`, `+`, `-`, `@`, tab or CR
    /// (and not a number) get a leading `'` (default true).
    pub escape_formulas: bool,
    /// `mode`: the output file's permissions (octal `"0640"`, for a group that
    /// reads it); `None`: private to its owner (0600), as every file of rows.
    pub mode: Option<u32>,
}

/// What the rows of a job become.
#[derive(Debug, Clone)]
pub enum Mapping {
    /// `kind = "profiles"`.
    Profiles(ProfileMapping),
    /// `kind = "events"`.
    Events(EventMapping),
    /// `kind = "audience"`.
    Audience(AudienceSettings),
    /// `kind = "catalog"`.
    Catalog(CatalogSettings),
    /// `kind = "export"`: no rows are read; the export's settings.
    Export(ExportSettings),
}

/// A job file, resolved: what `job::load` and `job::parse`
/// return.
#[derive(Debug, Clone)]
pub struct Job {
    /// `[job] name`: keys the job's state and names its files.
    pub name: String,
    /// `[job] kind`.
    pub kind: Kind,
    /// `[job] schedule`: a cron expression, checked to fire at some date.
    pub schedule: Option<String>,
    /// `[job] rejects`, relative to the job file's folder; `None`: the state
    /// folder's `rejects`.
    pub rejects_dir: Option<PathBuf>,
    /// `[job] keep_reports_days`: the job's rejects, uncertain and partial
    /// files older than this are deleted when it runs (they hold people's
    /// rows); `None`: kept until deleted by hand.
    pub keep_reports_days: Option<u32>,
    /// `[job] on_uncertain`.
    pub on_uncertain: OnUncertain,
    /// `[api]`.
    pub api: ApiSettings,
    /// Absent only for exports.
    pub source: Option<SourceSettings>,
    /// `[mapping]`, with the kind's own section.
    pub mapping: Mapping,
    /// The job file, for messages.
    pub file: PathBuf,
    /// `[mapping] custom_id_trim`: trim Custom IDs instead of rejecting them.
    pub(crate) custom_id_trim: bool,
    /// What the job sends for a row, as a print (the kind and the `[mapping]`
    /// table, keys sorted, comments and layout ignored): a run records it, so
    /// that an edited mapping never resumes a run or counts as "already
    /// imported" (see `job::resolve::mapping_print`).
    pub mapping_print: String,
    /// `[guard]`: checked before a run's first request.
    pub guard: super::GuardSettings,
    /// `[notify]`: the webhook told how runs end; `None`: nobody is.
    pub notify: Option<super::NotifySettings>,
    /// `[job] metrics_file`, relative to the job file's folder: Prometheus
    /// text written at the end of every run.
    pub metrics_file: Option<PathBuf>,
    /// `[job] catch_up` (default true): `schedule` runs once, when it starts,
    /// a job whose slot passed while it was down (systemd's `Persistent=true`).
    pub catch_up: bool,
}
