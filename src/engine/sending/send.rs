//! Sending one batch: 400 → split in halves until the bad operations are
//! isolated, partial errors mapped back to rows, unknown outcomes held when
//! the kind is not idempotent. The waiting, retrying, rate limiting and
//! cancelling are the [`Driver`]'s; what an answer means for a batch is
//! [`BatchLogic`]. What happens to each operation comes back as a `Fate`, in order.

use super::body::{Body, BodyKind};
use super::replace::Replace;
use batchport_api::client::Client;
use batchport_api::client::{Bytes, Outcome};
use batchport_api::wire::{SUCCESS_WITH_PARTIAL_ERRORS, UpdateAnswer};
use batchport_api::{Endpoint, wire::ApiError};
use batchport_dispatch::calls::transient;
use batchport_dispatch::retry::{Action, Driver, RetryLogic, Stop};
use batchport_source::Position;
use batchport_transform::Op;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fate {
    Acked,
    /// Refused by the API; `column` is the source column where it is known.
    Rejected {
        column: String,
        reason: String,
    },
    /// Applied by the API except for a refused attribute or event (partial
    /// error): acknowledged, reported apart, never resent.
    Partial {
        column: String,
        reason: String,
    },
    /// Outcome unknown (answer lost) and the job holds such batches.
    Held {
        reason: String,
    },
}

/// Why a batch could not be settled: the run stops, keeps its progress, and
/// says this.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum SendError {
    #[error(
        "Batch refused the keys (401 {0}): check the REST API key and project key in the environment variables the job names"
    )]
    Unauthorized(String),
    #[error("Batch answered {status} to {endpoint}: {message}")]
    Permanent { status: u16, endpoint: &'static str, message: String },
    #[error("the catalog `{0}` does not exist in this project: create it in Batch, or set create = true in [catalog]")]
    CatalogNotFound(String),
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: String },
    #[error(
        "cannot reach the API ({0}); nothing was sent. Check base_url and the network; the run can be resumed with the same command"
    )]
    Unreachable(String),
    /// The run was cancelled during a wait. `answered`: some of the batch's
    /// operations reached Batch, so the batch stays planned (resent or held
    /// on resume); otherwise none did and its rows can simply be read again.
    #[error("stopped by a signal")]
    Cancelled { answered: bool },
    /// The hand-off could not be recorded: nothing was sent.
    #[error("cannot record that a batch is being sent: {0}")]
    HandOff(String),
}

/// Called once, just before a batch's first request is handed to the HTTP
/// client (after any wait for the limiter): events batches record it in the
/// ledger, so that a batch killed while it waited is resent, not held.
pub(crate) type HandOff =
    Box<dyn FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send>;

/// What an import send keeps beyond the driver's counts.
#[derive(Debug, Default)]
pub(crate) struct SendStats {
    /// The last `indexing_token` an audience or catalog write answered.
    pub(crate) last_token: std::sync::Mutex<Option<String>>,
}

#[derive(Clone)]
pub(crate) struct Sender {
    pub(crate) client: Client,
    pub(crate) driver: Driver,
    pub(crate) endpoint: Endpoint,
    pub(crate) kind: BodyKind,
    /// Hold operations whose outcome is unknown instead of resending them.
    pub(crate) hold_unknown: bool,
    /// Batch attribute name → source column, for the rejects file.
    pub(crate) columns: Arc<HashMap<String, String>>,
    pub(crate) stats: Arc<SendStats>,
    /// Audience `replace`: where it stands (see `replace.rs`).
    pub(crate) replace: Replace,
}

/// An operation in flight: once its body is built, what settling needs.
#[derive(Debug)]
pub(crate) struct SentOp {
    /// Custom ID or item id.
    pub(crate) key: String,
    pub(crate) pos: Position,
    /// The source row for the reports; empty where the file can be read
    /// again at `pos`.
    pub(crate) record: csv::ByteRecord,
    /// `changed_only`: (id hash, content hash), recorded once acknowledged.
    pub(crate) change: Option<(u64, u64)>,
    /// Events: the event-index hash, recorded once acknowledged (or held).
    pub(crate) event: Option<u64>,
    /// What became of it: `Acked` unless the API said otherwise.
    pub(crate) fate: Fate,
    /// Bad values left out of it (`on_bad_value = "drop"`): reported once sent.
    pub(crate) dropped: Vec<(String, String)>,
}

impl SentOp {
    /// `op` once its attributes are in a body. `keep_record`: the file cannot
    /// be read again at its position (stdin-like or compressed input).
    pub(crate) fn new(op: Op, keep_record: bool, change: Option<(u64, u64)>) -> SentOp {
        let record = if keep_record { op.record } else { csv::ByteRecord::new() };
        SentOp { key: op.key, pos: op.pos, record, change, event: None, fate: Fate::Acked, dropped: op.dropped }
    }
}

/// One request's conclusion for a range of operations.
#[derive(Debug)]
enum Step {
    Answered(Bytes),
    Split,
    RejectAll(String),
    HoldAll(String),
}

/// The import's retry rules for one request of `elements` body elements.
#[derive(Debug, Clone, Copy)]
struct BatchLogic {
    endpoint: Endpoint,
    elements: usize,
    hold_unknown: bool,
    /// A catalog edit: a 404 means the catalog is missing.
    catalog: bool,
}

impl RetryLogic for BatchLogic {
    type Input = Outcome;
    type Output = Step;
    type Error = SendError;

    fn classify(&self, outcome: Outcome) -> Action<Step, SendError> {
        match outcome {
            Outcome::Ok { body, .. } => Action::Done(Step::Answered(body)),
            Outcome::Unauthorized { error } => {
                Action::Fail(SendError::Unauthorized(error.map_or("AUTHENTICATION_INVALID".into(), |e| e.error_code)))
            }
            // A missing catalog fails every item alike: splitting would only
            // multiply the calls before every row is rejected. (The name is
            // filled in by `send`.)
            Outcome::Rejected { status: 400 | 404, error: Some(e), .. } if e.error_code == "CATALOG_NOT_FOUND" => {
                Action::Fail(SendError::CatalogNotFound(String::new()))
            }
            Outcome::Rejected { status: 404, .. } if self.catalog => {
                Action::Fail(SendError::CatalogNotFound(String::new()))
            }
            Outcome::Rejected { status: 400 | 413, .. } if self.elements > 1 => Action::Refused(Step::Split),
            // One operation over the body limit: that row is rejected, the run goes on.
            Outcome::Rejected { status: 413, error, body } => Action::Refused(Step::RejectAll(format!(
                "Batch refused the request as too large (413) with this operation alone: {}",
                api_message(error.as_ref(), &body)
            ))),
            Outcome::Rejected { status: 400, error, body } => {
                Action::Refused(Step::RejectAll(format!("Batch refused it: {}", api_message(error.as_ref(), &body))))
            }
            Outcome::Rejected { status, error, body } => Action::Fail(SendError::Permanent {
                status,
                endpoint: self.endpoint.path(),
                message: api_message(error.as_ref(), &body),
            }),
            Outcome::Unknown { reason } if self.hold_unknown => {
                Action::Refused(Step::HoldAll(format!("outcome unknown ({reason}): held, not resent")))
            }
            other => Action::Retry(transient(other)),
        }
    }
}

impl Sender {
    /// The endpoint and body kind of the next batch: an audience replace goes to
    /// `/audiences/replace` until Batch has accepted one.
    pub(crate) fn target(&self) -> (Endpoint, BodyKind) {
        match &self.kind {
            BodyKind::Audience { name, .. } if self.replace.is_pending() => {
                (Endpoint::AudiencesReplace, BodyKind::Audience { name: name.clone(), action: None })
            }
            _ => (self.endpoint, self.kind.clone()),
        }
    }

    /// Send one planned batch, its `body` built by `body::build` for `ops`,
    /// splitting as needed; each op's `fate` says what became of it.
    pub(crate) async fn send(
        &self,
        ops: &mut [SentOp],
        body: &Body,
        endpoint: Endpoint,
        mut handoff: Option<HandOff>,
    ) -> Result<(), SendError> {
        let mut answered = false;
        let all = 0..body.elements.len();
        #[allow(clippy::single_range_in_vec_init)] // a stack of element ranges, starting with one
        let mut todo: Vec<Range<usize>> = vec![all.clone()];
        while let Some(range) = todo.pop() {
            let bytes = if range == all { body.bytes.clone() } else { Bytes::from(body.subset(range.clone())) };
            let rows = || range.clone().flat_map(|e| body.members[e].iter().copied());
            let updates = rows().map(|i| ops[i].key.as_str()).collect::<HashSet<_>>().len() as u32;
            let catalog = match &self.kind {
                BodyKind::Catalog { name, .. } => Some(name),
                _ => None,
            };
            let logic = BatchLogic {
                endpoint,
                elements: range.len(),
                hold_unknown: self.hold_unknown,
                catalog: catalog.is_some(),
            };
            let mut tries = self.driver.attempts(updates);
            let called = async {
                loop {
                    tries.begin().await?;
                    if let Some(h) = handoff.take() {
                        h().await.map_err(|e| Stop::Fail(SendError::HandOff(e)))?;
                    }
                    let input = self.client.post(endpoint, bytes.clone()).await;
                    if let Some(out) = tries.judge(logic.classify(input)).await? {
                        break Ok(out);
                    }
                }
            };
            let step = match called.await {
                Ok(step) => step,
                Err(Stop::Fail(SendError::CatalogNotFound(_))) => {
                    return Err(SendError::CatalogNotFound(catalog.cloned().unwrap_or_default()));
                }
                Err(Stop::Fail(e)) => return Err(e),
                Err(Stop::GaveUp { attempts, last }) => return Err(SendError::GaveUp { attempts, last }),
                Err(Stop::Unreachable { reason }) => return Err(SendError::Unreachable(reason)),
                Err(Stop::Cancelled) => return Err(SendError::Cancelled { answered }),
            };
            answered = true;
            if let Step::Answered(body) = &step
                && let Ok(t) = serde_json::from_slice::<batchport_api::wire::IndexingAnswer>(body)
                && let Ok(mut last) = self.stats.last_token.lock()
            {
                *last = Some(t.indexing_token);
            }
            if endpoint == Endpoint::AudiencesReplace && matches!(step, Step::Answered(_)) {
                self.replace.accepted();
            }
            match step {
                Step::Answered(answer) => self.partial_errors(&answer, &body.members[range.clone()], ops),
                Step::Split => {
                    let mid = range.start + range.len() / 2;
                    // Second half pushed first so the first half goes first.
                    todo.push(mid..range.end);
                    todo.push(range.start..mid);
                }
                Step::RejectAll(reason) => {
                    for i in rows() {
                        ops[i].fate = Fate::Rejected { column: String::new(), reason: reason.clone() };
                    }
                }
                Step::HoldAll(reason) => {
                    for i in rows() {
                        ops[i].fate = Fate::Held { reason: reason.clone() };
                    }
                }
            }
        }
        Ok(())
    }

    /// `SUCCESS_WITH_PARTIAL_ERRORS`: each `bulk_index` → the rows it carried.
    /// Batch drops only what it names and applies the rest (API.md): a refused
    /// event rejects the one row that carried it (nothing of it arrived, so it
    /// may be sent again); a refused attribute leaves the operation's rows
    /// partially applied; an error naming neither refused the whole operation.
    fn partial_errors(&self, answer: &[u8], members: &[Vec<usize>], ops: &mut [SentOp]) {
        let Ok(a) = serde_json::from_slice::<UpdateAnswer>(answer) else { return };
        if a.code != SUCCESS_WITH_PARTIAL_ERRORS {
            return;
        }
        for e in a.errors {
            let Some(rows) = members.get(e.bulk_index) else { continue };
            let event = e
                .attribute
                .as_deref()
                .and_then(|a| a.strip_prefix("events[")?.strip_suffix(']')?.parse::<usize>().ok());
            let column = e.attribute.as_ref().and_then(|a| self.columns.get(a)).cloned().unwrap_or_default();
            let reason = match &e.attribute {
                Some(attr) => format!("Batch refused {attr}: {} ({})", e.reason, e.category),
                None => format!("Batch refused it: {} ({})", e.reason, e.category),
            };
            match (event, &e.attribute) {
                (Some(i), _) => {
                    if let Some(&r) = rows.get(i) {
                        ops[r].fate = Fate::Rejected { column, reason };
                    }
                }
                (None, Some(_)) if e.category != "identifiers" && e.category != "operation" => {
                    for &r in rows {
                        match &mut ops[r].fate {
                            f @ Fate::Acked => *f = Fate::Partial { column: column.clone(), reason: reason.clone() },
                            Fate::Partial { reason: earlier, .. } => {
                                earlier.push_str("; ");
                                earlier.push_str(&reason);
                            }
                            _ => {}
                        }
                    }
                }
                _ => {
                    for &r in rows {
                        ops[r].fate = Fate::Rejected { column: column.clone(), reason: reason.clone() };
                    }
                }
            }
        }
    }
}

fn api_message(error: Option<&ApiError>, body: &str) -> String {
    match error {
        Some(e) => format!("{} ({})", e.error_message, e.error_code),
        None if body.is_empty() => "no details given".into(),
        None => body.chars().take(300).collect(),
    }
}
