//! JSON shapes on the wire that both the client and the emulator use.

use serde::{Deserialize, Serialize};

/// The error body of every failed call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiError {
    pub error_code: String,
    pub error_message: String,
}

/// The 202 answer of `/profiles/update` (and the plain `{"code":"SUCCESS"}` of
/// `/profiles/mass-update`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct UpdateAnswer {
    pub code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<PartialError>,
}

/// One refused operation inside a `SUCCESS_WITH_PARTIAL_ERRORS` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartialError {
    pub category: String,
    /// 0-based position of the operation in the request array.
    pub bulk_index: usize,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
}

/// The answer of the audience and catalog writes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexingAnswer {
    pub indexing_token: String,
}

pub const SUCCESS: &str = "SUCCESS";
pub const SUCCESS_WITH_PARTIAL_ERRORS: &str = "SUCCESS_WITH_PARTIAL_ERRORS";
pub const AUTHENTICATION_INVALID: &str = "AUTHENTICATION_INVALID";
