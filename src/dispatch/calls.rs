//! The retry logic of plain API calls (export requests and polling, export
//! download links, audience look-ups and indexing polls): a 2xx is the
//! answer, 429/408/5xx and lost answers are tried again, anything else is
//! refused for good. Imports have their own logic (`send.rs`): they split,
//! reject and hold.

use super::retry::{Action, RetryLogic, Transient};
use batchport_api::client::{Bytes, Outcome};

/// A refusal the API will repeat (4xx other than 408/429, or 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{endpoint} answered HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
pub struct Refused {
    endpoint: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// Batch's error code, when the answer had Batch's error body.
    pub code: Option<String>,
    /// Batch's error message, else the body.
    pub message: String,
}

impl Refused {
    /// Whether the API said the thing asked about does not exist: a 404, or a
    /// 400 whose code or message says "not found". API.md does not document
    /// the answer for a missing audience or catalog (the OpenAPI lists no
    /// 404), so both readings count.
    pub fn is_not_found(&self) -> bool {
        self.status == 404
            || self.status == 400
                && (self.code.as_deref().is_some_and(|c| c.contains("NOT_FOUND"))
                    || self.message.to_ascii_lowercase().contains("not found"))
    }
}

/// The logic of a call whose resending does no harm: reads, and requests
/// whose worst repeat is harmless (one export more).
#[derive(Debug, Clone, Copy)]
pub struct ApiCall {
    /// For messages: the endpoint's path without its leading slash.
    pub name: &'static str,
}

impl ApiCall {
    /// The logic of calls to `endpoint`.
    pub fn new(endpoint: batchport_api::Endpoint) -> ApiCall {
        ApiCall { name: &endpoint.path()[1..] }
    }
}

impl RetryLogic for ApiCall {
    type Input = Outcome;
    type Output = Bytes;
    type Error = Refused;

    fn classify(&self, outcome: Outcome) -> Action<Bytes, Refused> {
        match outcome {
            Outcome::Ok { body, .. } => Action::Done(body),
            Outcome::Unknown { reason } => {
                Action::Retry(Transient { status: None, retry_after: None, reason, connect: false })
            }
            other @ Outcome::Retry { .. } => Action::Retry(transient(other)),
            Outcome::Rejected { status, error, body } => {
                let (code, message) = match error {
                    Some(e) => (Some(e.error_code), e.error_message),
                    None => (None, body),
                };
                Action::Fail(Refused { endpoint: self.name, status, code, message })
            }
            Outcome::Unauthorized { error } => {
                let message = error.map(|e| e.error_message).unwrap_or_default();
                Action::Fail(Refused {
                    endpoint: self.name,
                    status: 401,
                    code: None,
                    message: format!("the REST API key or project key was refused {message}"),
                })
            }
        }
    }
}

/// An `Outcome::Retry` as the driver's [`Transient`]. The client gives no
/// status only when the connection could not be opened.
pub fn transient(outcome: Outcome) -> Transient {
    match outcome {
        Outcome::Retry { status, retry_after, reason } => {
            Transient { status, retry_after, reason, connect: status.is_none() }
        }
        Outcome::Unknown { reason } => Transient { status: None, retry_after: None, reason, connect: false },
        other => Transient { status: None, retry_after: None, reason: format!("{other:?}"), connect: false },
    }
}
