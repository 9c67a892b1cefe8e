//! Turning what came back from one request (an answer, or none) into an
//! [`Outcome`]: the status table ([`classify`]), the error body, `Retry-After`,
//! and whether a request without an answer may have been processed.

use std::error::Error as _;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header;

use super::Bytes;
use crate::limits::Endpoint;
use crate::wire::ApiError;

/// Error bodies are kept for reports; a proxy's HTML page need not be kept whole.
const MAX_ERROR_BODY: usize = 4096;

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the raw body (callers parse UpdateAnswer / IndexingAnswer / etc.).
    Ok {
        /// The HTTP status.
        status: u16,
        /// The body, unparsed.
        body: Bytes,
    },
    /// Worth retrying: 429, 408, 5xx, or a connection that could not be opened, so
    /// the request was surely not sent. `retry_after` comes from a `Retry-After`
    /// header (seconds or HTTP date) when the server gave one.
    Retry {
        /// The HTTP status; `None` when no connection could be opened.
        status: Option<u16>,
        /// How long the server asked to wait.
        retry_after: Option<Duration>,
        /// What happened, for messages.
        reason: String,
    },
    /// The request may have reached the server but no answer came (connection
    /// closed after sending, timeout waiting for the answer). Resend idempotent
    /// kinds; hold events.
    Unknown {
        /// What happened, for messages.
        reason: String,
    },
    /// Permanent: 400 and the other 4xx except 401, 408 and 429.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The error body, when it is Batch's JSON.
        error: Option<ApiError>,
        /// The body as text, cut after 4,096 bytes.
        body: String,
    },
    /// 401: the key is not valid for the project. Fail the job fast.
    Unauthorized {
        /// The error body, when it is Batch's JSON.
        error: Option<ApiError>,
    },
}

/// The class of an HTTP status, before the body is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx.
    Success,
    /// 408, 429 and 5xx: worth another attempt.
    Retry,
    /// 401.
    Unauthorized,
    /// Any other status: permanent.
    Rejected,
}

/// Status ranges and their class, first match wins; anything not listed
/// (other 4xx, and 1xx/3xx which the API never sends on these calls) is
/// permanent. The same rule as vector's `RetryStrategy`.
const CLASSES: &[(u16, u16, Class)] = &[
    (200, 299, Class::Success),
    (401, 401, Class::Unauthorized),
    (408, 408, Class::Retry),
    (429, 429, Class::Retry),
    (500, 599, Class::Retry),
];

/// The class of `status`: 2xx success, 401 unauthorized, 408, 429 and 5xx
/// worth a retry, anything else rejected.
pub fn classify(status: u16) -> Class {
    CLASSES.iter().find(|(lo, hi, _)| (*lo..=*hi).contains(&status)).map_or(Class::Rejected, |(_, _, class)| *class)
}

/// Turns an answer into an [`Outcome`] by its status class.
pub(super) async fn answer(endpoint: Endpoint, response: reqwest::Response) -> Outcome {
    let status = response.status();
    let code = status.as_u16();
    let retry_after =
        response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
    tracing::debug!(?endpoint, status = code, "answer");
    let body = match response.bytes().await {
        Ok(body) => body,
        // The status came but not the whole body: a 2xx without its partial
        // errors is not an acknowledgement we can trust.
        Err(e) if classify(code) == Class::Success => {
            return Outcome::Unknown { reason: format!("HTTP {code}, then the answer was cut: {}", chain(&e)) };
        }
        Err(_) => Bytes::new(),
    };
    let error = || serde_json::from_slice::<ApiError>(&body).ok();
    match classify(code) {
        Class::Success => Outcome::Ok { status: code, body },
        Class::Retry => Outcome::Retry {
            status: Some(code),
            retry_after,
            reason: match error() {
                Some(e) => format!("HTTP {code} {}: {}", e.error_code, e.error_message),
                None => format!("HTTP {}", describe(status)),
            },
        },
        Class::Unauthorized => Outcome::Unauthorized { error: error() },
        Class::Rejected => Outcome::Rejected {
            status: code,
            error: error(),
            body: truncate(String::from_utf8_lossy(&body).into_owned()),
        },
    }
}

/// No answer at all. Only a connection that was never opened proves the request
/// was not sent; anything later (reset, close, timeout waiting) may have been
/// processed by the server.
pub(super) fn transport_outcome(e: &reqwest::Error) -> Outcome {
    if e.is_connect() {
        Outcome::Retry { status: None, retry_after: None, reason: format!("could not connect: {}", chain(e)) }
    } else if e.is_timeout() {
        Outcome::Unknown { reason: format!("no answer in time: {}", chain(e)) }
    } else {
        Outcome::Unknown { reason: format!("connection lost: {}", chain(e)) }
    }
}

/// `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    // A date already past means "now".
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// reqwest's top-level message is vague ("error sending request"); the cause
/// chain says what happened (refused, reset, timed out).
fn chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn describe(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

fn truncate(mut body: String) -> String {
    if body.len() > MAX_ERROR_BODY {
        let mut cut = MAX_ERROR_BODY;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
        body.push('…');
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_like_vector() {
        for (status, class) in [
            (200, Class::Success),
            (202, Class::Success),
            (400, Class::Rejected),
            (401, Class::Unauthorized),
            (403, Class::Rejected),
            (404, Class::Rejected),
            (408, Class::Retry),
            (413, Class::Rejected),
            (429, Class::Retry),
            (500, Class::Retry),
            (503, Class::Retry),
            (599, Class::Retry),
            (307, Class::Rejected),
            (600, Class::Rejected),
        ] {
            assert_eq!(classify(status), class, "status {status}");
        }
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let wait = parse_retry_after(&later).unwrap();
        assert!(wait > Duration::from_secs(85) && wait <= Duration::from_secs(90), "{wait:?}");
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn long_error_bodies_are_cut_on_a_char_boundary() {
        let cut = truncate("é".repeat(MAX_ERROR_BODY));
        assert!(cut.len() <= MAX_ERROR_BODY + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
