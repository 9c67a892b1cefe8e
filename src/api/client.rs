//! The HTTP client for the Batch 2.x Project APIs: one authenticated request in,
//! one classified [`Outcome`] out. It never retries and never sleeps: what to do
//! with a `Retry` or an `Unknown` is the dispatcher's decision, made from data
//! (the [`classify`] table here, the retry policy and limiter in `dispatch`).

use std::error::Error as _;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};

use super::limits::{Endpoint, Version};
use super::wire::ApiError;

/// `bytes::Bytes`, through axum's re-export so the crate needs no extra dependency.
pub use axum::body::Bytes;

/// Connection set-up is short: a server that does not answer a SYN in 10 s is down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A mass-update of 10,000 operations can take a while to be accepted.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Error bodies are kept for reports; a proxy's HTML page need not be kept whole.
const MAX_ERROR_BODY: usize = 4096;

/// The two keys of a project. `Debug` prints `***` so a key never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub rest_key: String,
    pub project_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("rest_key", &"***")
            .field("project_key", &"***")
            .finish()
    }
}

/// Why a client could not be built. None of these messages contains a key.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{url}` is not a valid base URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "refusing `{0}`: plain http:// would send the API key unencrypted; use https://, \
         or http:// only to a loopback address (127.0.0.1, ::1, localhost) such as the emulator"
    )]
    Insecure(String),
    #[error("the {0} contains characters that cannot be sent in an HTTP header")]
    BadCredentials(&'static str),
    #[error("could not set up the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the raw body (callers parse UpdateAnswer / IndexingAnswer / etc.).
    Ok { status: u16, body: Bytes },
    /// Worth retrying: 429, 408, 5xx, or a connection that could not be opened, so
    /// the request was surely not sent. `retry_after` comes from a `Retry-After`
    /// header (seconds or HTTP date) when the server gave one.
    Retry {
        status: Option<u16>,
        retry_after: Option<Duration>,
        reason: String,
    },
    /// The request may have reached the server but no answer came (connection
    /// closed after sending, timeout waiting for the answer). Resend idempotent
    /// kinds; hold events.
    Unknown { reason: String },
    /// Permanent: 400 and the other 4xx except 401, 408 and 429.
    Rejected {
        status: u16,
        error: Option<ApiError>,
        body: String,
    },
    /// 401: the key is not valid for the project. Fail the job fast.
    Unauthorized { error: Option<ApiError> },
}

/// The class of an HTTP status, before the body is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Success,
    Retry,
    Unauthorized,
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

pub fn classify(status: u16) -> Class {
    CLASSES
        .iter()
        .find(|(lo, hi, _)| (*lo..=*hi).contains(&status))
        .map_or(Class::Rejected, |(_, _, class)| *class)
}

/// An authenticated client for one project and API version. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    timeout: Duration,
}

struct Inner {
    /// Does not follow redirects: the API answers, it does not redirect, except
    /// `exports/download` whose 307 we want to see.
    api: reqwest::Client,
    /// Follows redirects and has no total timeout, for streaming export files.
    files: reqwest::Client,
    /// `{base}/{version}`, without a trailing slash.
    root: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("root", &self.inner.root)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(
        base_url: &str,
        version: Version,
        creds: Credentials,
    ) -> Result<Client, ClientError> {
        let url = Url::parse(base_url).map_err(|e| ClientError::BadUrl {
            url: base_url.to_string(),
            reason: e.to_string(),
        })?;
        check_scheme(&url, base_url)?;

        let mut auth = HeaderValue::from_str(&format!("Bearer {}", creds.rest_key))
            .map_err(|_| ClientError::BadCredentials("REST API key"))?;
        // Keeps the key out of reqwest's and hyper's own Debug output.
        auth.set_sensitive(true);
        let mut project = HeaderValue::from_str(&creds.project_key)
            .map_err(|_| ClientError::BadCredentials("project key"))?;
        project.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, auth);
        headers.insert("X-Batch-Project", project);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));

        let user_agent = concat!("batchport/", env!("CARGO_PKG_VERSION"));
        let api = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(user_agent)
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        // Export file links are pre-signed: they must not carry our keys. A
        // 100 MB file may take longer than any total timeout, so only stalls count.
        let files = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(user_agent)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(REQUEST_TIMEOUT)
            .build()?;

        let root = format!("{}/{}", base_url.trim_end_matches('/'), version);
        Ok(Client {
            inner: Arc::new(Inner { api, files, root }),
            timeout: REQUEST_TIMEOUT,
        })
    }

    /// The total time one API request may take, answer included.
    pub fn with_timeout(mut self, request: Duration) -> Self {
        self.timeout = request;
        self
    }

    /// The URL of `endpoint`, e.g. `https://api.batch.com/2.11/profiles/update`.
    pub fn url(&self, endpoint: Endpoint) -> String {
        format!("{}{}", self.inner.root, endpoint.path())
    }

    /// POST a serialised JSON body to `endpoint`.
    pub async fn post(&self, endpoint: Endpoint, body: impl Into<Bytes>) -> Outcome {
        let request = self
            .inner
            .api
            .post(self.url(endpoint))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.into())
            .timeout(self.timeout);
        self.send(endpoint, request).await
    }

    /// GET `endpoint` with query pairs.
    pub async fn get(&self, endpoint: Endpoint, query: &[(&str, &str)]) -> Outcome {
        let request = self
            .inner
            .api
            .get(self.url(endpoint))
            .query(query)
            .timeout(self.timeout);
        self.send(endpoint, request).await
    }

    /// Asks `exports/download` for a file's link without following the 307: the
    /// link expires after 20 minutes, so callers ask again for each download.
    pub async fn download_link(&self, file_id: &str) -> Result<String, Outcome> {
        let endpoint = Endpoint::ExportsDownload;
        let request = self
            .inner
            .api
            .get(self.url(endpoint))
            .query(&[("id", file_id)])
            .timeout(self.timeout);
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Err(transport_outcome(&e)),
        };
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                // A relative Location is resolved against the URL we asked.
                .and_then(|loc| response.url().join(loc).ok());
            if let Some(link) = location {
                return Ok(link.to_string());
            }
        }
        match answer(endpoint, response).await {
            Outcome::Ok { status, .. } => Err(Outcome::Rejected {
                status,
                error: None,
                body: "expected a 307 redirect with a Location header".to_string(),
            }),
            Outcome::Rejected {
                status,
                error,
                body,
            } if status / 100 == 3 => Err(Outcome::Rejected {
                status,
                error,
                body: format!("redirect without a usable Location header: {body}"),
            }),
            other => Err(other),
        }
    }

    /// A plain client (no API keys, follows redirects) for export file links.
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.files
    }

    async fn send(&self, endpoint: Endpoint, request: reqwest::RequestBuilder) -> Outcome {
        match request.send().await {
            Ok(response) => answer(endpoint, response).await,
            Err(e) => {
                let outcome = transport_outcome(&e);
                tracing::debug!(?endpoint, ?outcome, "no answer");
                outcome
            }
        }
    }
}

fn check_scheme(url: &Url, original: &str) -> Result<(), ClientError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            // `url` is not a direct dependency, so the host is read as text;
            // IPv6 hosts come bracketed.
            let host = url.host_str().unwrap_or("");
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host.eq_ignore_ascii_case("localhost")
                || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(ClientError::Insecure(original.to_string()))
            }
        }
        other => Err(ClientError::BadUrl {
            url: original.to_string(),
            reason: format!("scheme `{other}` is not https"),
        }),
    }
}

/// Turns an answer into an [`Outcome`] by its status class.
async fn answer(endpoint: Endpoint, response: reqwest::Response) -> Outcome {
    let status = response.status();
    let code = status.as_u16();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    tracing::debug!(?endpoint, status = code, "answer");
    let body = match response.bytes().await {
        Ok(body) => body,
        // The status came but not the whole body: a 2xx without its partial
        // errors is not an acknowledgement we can trust.
        Err(e) if classify(code) == Class::Success => {
            return Outcome::Unknown {
                reason: format!("HTTP {code}, then the answer was cut: {}", chain(&e)),
            };
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
fn transport_outcome(e: &reqwest::Error) -> Outcome {
    if e.is_connect() {
        Outcome::Retry {
            status: None,
            retry_after: None,
            reason: format!("could not connect: {}", chain(e)),
        }
    } else if e.is_timeout() {
        Outcome::Unknown {
            reason: format!("no answer in time: {}", chain(e)),
        }
    } else {
        Outcome::Unknown {
            reason: format!("connection lost: {}", chain(e)),
        }
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
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let wait = parse_retry_after(&later).unwrap();
        assert!(
            wait > Duration::from_secs(85) && wait <= Duration::from_secs(90),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn only_https_or_loopback_http() {
        let creds = || Credentials {
            rest_key: "k".into(),
            project_key: "p".into(),
        };
        let v = Version::CURRENT;
        assert!(Client::new("https://api.batch.com", v, creds()).is_ok());
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.3.4.5",
            "http://[::1]:9",
            "http://LOCALHOST:1",
        ] {
            assert!(Client::new(ok, v, creds()).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "ftp://x",
        ] {
            assert!(Client::new(bad, v, creds()).is_err(), "{bad}");
        }
        let c = Client::new("https://api.batch.com/", v, creds()).unwrap();
        assert_eq!(
            c.url(Endpoint::ProfilesUpdate),
            "https://api.batch.com/2.11/profiles/update"
        );
    }

    #[test]
    fn long_error_bodies_are_cut_on_a_char_boundary() {
        let cut = truncate("é".repeat(MAX_ERROR_BODY));
        assert!(cut.len() <= MAX_ERROR_BODY + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
