//! JSON shapes on the wire that both the client and the emulator use.

use serde::{Deserialize, Serialize};

/// The error body of every failed call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiError {
    /// Batch's code for the error, e.g. [`AUTHENTICATION_INVALID`].
    pub error_code: String,
    /// Batch's explanation, for people.
    pub error_message: String,
}

/// The 202 answer of `/profiles/update` (and the plain `{"code":"SUCCESS"}` of
/// `/profiles/mass-update`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct UpdateAnswer {
    /// [`SUCCESS`] or [`SUCCESS_WITH_PARTIAL_ERRORS`].
    pub code: String,
    /// The operations refused; empty unless `code` is [`SUCCESS_WITH_PARTIAL_ERRORS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<PartialError>,
}

/// One refused operation inside a `SUCCESS_WITH_PARTIAL_ERRORS` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartialError {
    /// The part of the operation at fault, as Batch names it (`identifiers`,
    /// `attributes`, `events`, `operation`...).
    pub category: String,
    /// 0-based position of the operation in the request array.
    pub bulk_index: usize,
    /// Why Batch refused it.
    pub reason: String,
    /// The attribute (or event, `events[1]`) the refusal names, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
}

/// The answer of the audience and catalog writes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexingAnswer {
    /// Names the indexing of this write, for the view call that tells when it is done.
    pub indexing_token: String,
}

/// The `code` of an answer that applied every operation.
pub const SUCCESS: &str = "SUCCESS";
/// The `code` of an answer that refused some operations, listed in its `errors`.
pub const SUCCESS_WITH_PARTIAL_ERRORS: &str = "SUCCESS_WITH_PARTIAL_ERRORS";
/// The `error_code` of a 401: the REST API key or the project key is not valid.
pub const AUTHENTICATION_INVALID: &str = "AUTHENTICATION_INVALID";
