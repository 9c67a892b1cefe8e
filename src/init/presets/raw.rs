//! The shape of a preset file, as serde reads it: unknown keys, wrong types
//! and unknown names (a role, a type) are refused here, with their span;
//! `load` checks what depends on more than one key.

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTool {
    pub name: Spanned<String>,
    pub source: Option<String>,
    pub email_as_id: Option<String>,
    #[serde(default)]
    pub native_hint: String,
    #[serde(default)]
    pub opt_out_channel: OptOutChannel,
    #[serde(default)]
    pub ids: Vec<RawId>,
    #[serde(default)]
    pub notes: Vec<RawNote>,
    pub file_consent: Option<RawFileConsent>,
    pub consent_by_type: Option<RawTypeRows>,
    #[serde(default)]
    pub columns: Vec<RawColumn>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OptOutChannel {
    Email,
    Sms,
    #[default]
    Both,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawId {
    pub header: Spanned<String>,
    pub why: String,
    #[serde(default)]
    pub after_email: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNote {
    pub text: Spanned<String>,
    #[serde(default)]
    pub if_columns: Vec<String>,
    #[serde(default)]
    pub unless_columns: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFileConsent {
    pub cases: Spanned<Vec<RawCase>>,
    #[serde(default)]
    pub unless_columns: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCase {
    #[serde(default)]
    pub if_columns: Vec<String>,
    pub value: RawValue,
    pub why: String,
    #[serde(default)]
    pub file_word: String,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum RawValue {
    Subscribed,
    Unsubscribed,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTypeRows {
    pub type_column: Spanned<String>,
    #[serde(default)]
    pub email: Vec<String>,
    #[serde(default)]
    pub sms: Vec<String>,
}

/// One `[[columns]]` table: the keys of every role; `Cx::role` checks
/// which ones the role takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawColumn {
    pub headers: Spanned<Vec<String>>,
    pub role: Spanned<RoleName>,
    #[serde(default)]
    pub note: String,
    pub name: Option<Spanned<String>>,
    #[serde(rename = "type")]
    pub ty: Option<Spanned<HintName>>,
    pub separator: Option<Spanned<String>>,
    pub subscribed: Option<Spanned<Vec<String>>>,
    pub unsubscribed: Option<Spanned<Vec<String>>>,
    pub undecided: Option<Spanned<Vec<String>>>,
    pub type_column: Option<Spanned<String>>,
    pub email: Option<Spanned<Vec<String>>>,
    pub sms: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    Email,
    Phone,
    Language,
    Region,
    Timezone,
    Attribute,
    Skip,
    EmailMarketing,
    SmsMarketing,
    ChannelBy,
    SubscriptionBy,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HintName {
    Text,
    Int,
    Float,
    Bool,
    Date,
    Array,
    JsonList,
    Infer,
}
