//! The HTTP client for the Batch 2.x Project APIs: one authenticated request in,
//! one classified [`Outcome`] out. It never retries and never sleeps: what to do
//! with a `Retry` or an `Unknown` is the dispatcher's decision, made from data
//! (the [`classify`] table in `client/outcome.rs`, the retry policy and limiter in `dispatch`).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{self, HeaderMap, HeaderValue};

use super::limits::{Endpoint, Version};
use super::wire::ApiError;

mod outcome;

pub use outcome::{Class, Outcome, classify, parse_retry_after};
use outcome::{answer, transport_outcome};

/// `bytes::Bytes`: the body type reqwest and axum share.
pub use bytes::Bytes;

/// Connection set-up is short: a server that does not answer a SYN in 10 s is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A mass-update of 10,000 operations can take a while to be accepted.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The two keys of a project. `Debug` prints `***` so a key never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The REST API key, sent as `Authorization: Bearer`.
    pub rest_key: String,
    /// The project key, sent as `X-Batch-Project`.
    pub project_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("rest_key", &"***").field("project_key", &"***").finish()
    }
}

/// Why a client could not be built. None of these messages contains a key.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL does not parse, or its scheme is not http(s).
    #[error("`{url}` is not a valid base URL: {reason}")]
    BadUrl {
        /// The base URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Plain http:// to a host that is not a loopback address.
    #[error(
        "refusing `{0}`: plain http:// would send the API key unencrypted; use https://, \
         or http:// only to a loopback address (127.0.0.1, ::1, localhost) such as the emulator"
    )]
    Insecure(String),
    /// A key that an HTTP header cannot carry; names which key.
    #[error("the {0} contains characters that cannot be sent in an HTTP header")]
    BadCredentials(&'static str),
    /// reqwest could not build its client.
    #[error("could not set up the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
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
    /// The keys, to blank out of anything a server sends back (a proxy or
    /// server that echoes request headers into an error body).
    secrets: Secrets,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("root", &self.inner.root).field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl Client {
    /// A client of `base_url` (https, or http to a loopback address only) for
    /// `version`, sending `creds` with every API request.
    pub fn new(base_url: &str, version: Version, creds: Credentials) -> Result<Client, ClientError> {
        let url = Url::parse(base_url)
            .map_err(|e| ClientError::BadUrl { url: base_url.to_string(), reason: e.to_string() })?;
        let loopback = check_scheme(&url, base_url)?;

        let mut auth = HeaderValue::from_str(&format!("Bearer {}", creds.rest_key))
            .map_err(|_| ClientError::BadCredentials("REST API key"))?;
        // Keeps the key out of reqwest's and hyper's own Debug output.
        auth.set_sensitive(true);
        let mut project =
            HeaderValue::from_str(&creds.project_key).map_err(|_| ClientError::BadCredentials("project key"))?;
        project.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, auth);
        headers.insert("X-Batch-Project", project);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));

        let user_agent = concat!("batchport/", env!("CARGO_PKG_VERSION"));
        let secrets = Secrets::of(&creds);
        let mut api = reqwest::Client::builder();
        let mut files = reqwest::Client::builder();
        if loopback {
            // http_proxy / https_proxy must not see a loopback API: the key
            // would reach the proxy in clear, and the proxy cannot reach
            // our 127.0.0.1 anyway.
            api = api.no_proxy();
            files = files.no_proxy();
        }
        let api = api
            .use_rustls_tls()
            .user_agent(user_agent)
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        // Export file links are pre-signed: they must not carry our keys. A
        // 100 MB file may take longer than any total timeout, so only stalls count.
        let files = files
            .use_rustls_tls()
            .user_agent(user_agent)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(REQUEST_TIMEOUT)
            .build()?;

        let root = format!("{}/{}", base_url.trim_end_matches('/'), version);
        Ok(Client { inner: Arc::new(Inner { api, files, root, secrets }), timeout: REQUEST_TIMEOUT })
    }

    /// The total time one API request may take, answer included.
    pub fn with_timeout(mut self, request: Duration) -> Self {
        self.timeout = request;
        self
    }

    /// The URL of `endpoint`, e.g. `https://api.batch.com/2.11/profiles/update`.
    fn url(&self, endpoint: Endpoint) -> String {
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
        let request = self.inner.api.get(self.url(endpoint)).query(query).timeout(self.timeout);
        self.send(endpoint, request).await
    }

    /// Asks `exports/download` for a file's link without following the 307: the
    /// link expires after 20 minutes, so callers ask again for each download.
    pub async fn download_link(&self, file_id: &str) -> Result<String, Outcome> {
        let endpoint = Endpoint::ExportsDownload;
        let request = self.inner.api.get(self.url(endpoint)).query(&[("id", file_id)]).timeout(self.timeout);
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Err(self.inner.secrets.outcome(transport_outcome(&e))),
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
        match self.inner.secrets.outcome(answer(endpoint, response).await) {
            Outcome::Ok { status, .. } => Err(Outcome::Rejected {
                status,
                error: None,
                body: "expected a 307 redirect with a Location header".to_string(),
            }),
            Outcome::Rejected { status, error, body } if status / 100 == 3 => Err(Outcome::Rejected {
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
            Ok(response) => self.inner.secrets.outcome(answer(endpoint, response).await),
            Err(e) => {
                let outcome = self.inner.secrets.outcome(transport_outcome(&e));
                tracing::debug!(?endpoint, ?outcome, "no answer");
                outcome
            }
        }
    }

    /// `text` with the keys blanked out, for anything about to be shown or written.
    pub fn redact(&self, text: &str) -> String {
        self.inner.secrets.text(text)
    }
}

/// The key values to blank out of what comes back from a server.
#[derive(Clone)]
struct Secrets(Vec<String>);

impl Secrets {
    /// Keys shorter than 8 characters (test keys) would blank out ordinary words.
    fn of(creds: &Credentials) -> Secrets {
        let keys = [&creds.rest_key, &creds.project_key];
        Secrets(keys.into_iter().filter(|k| k.len() >= 8).cloned().collect())
    }

    fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for k in &self.0 {
            if out.contains(k.as_str()) {
                out = out.replace(k.as_str(), "***");
            }
        }
        out
    }

    fn bytes(&self, body: Bytes) -> Bytes {
        let found = self.0.iter().any(|k| memchr::memmem::find(&body, k.as_bytes()).is_some());
        if !found {
            return body;
        }
        let text = String::from_utf8_lossy(&body);
        Bytes::from(self.text(&text))
    }

    fn outcome(&self, o: Outcome) -> Outcome {
        let error = |e: Option<ApiError>| {
            e.map(|e| ApiError { error_code: self.text(&e.error_code), error_message: self.text(&e.error_message) })
        };
        match o {
            Outcome::Ok { status, body } => Outcome::Ok { status, body: self.bytes(body) },
            Outcome::Retry { status, retry_after, reason } => {
                Outcome::Retry { status, retry_after, reason: self.text(&reason) }
            }
            Outcome::Unknown { reason } => Outcome::Unknown { reason: self.text(&reason) },
            Outcome::Rejected { status, error: e, body } => {
                Outcome::Rejected { status, error: error(e), body: self.text(&body) }
            }
            Outcome::Unauthorized { error: e } => Outcome::Unauthorized { error: error(e) },
        }
    }
}

/// https, or http to a loopback address only; `Ok(true)` for a loopback host.
fn check_scheme(url: &Url, original: &str) -> Result<bool, ClientError> {
    let host = url.host_str().unwrap_or("");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(loopback),
        "http" => {
            // `url` is not a direct dependency, so the host is read as text
            // (above); IPv6 hosts come bracketed.
            if loopback { Ok(true) } else { Err(ClientError::Insecure(original.to_string())) }
        }
        other => {
            Err(ClientError::BadUrl { url: original.to_string(), reason: format!("scheme `{other}` is not https") })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        let creds = || Credentials { rest_key: "k".into(), project_key: "p".into() };
        let v = Version::CURRENT;
        assert!(Client::new("https://api.batch.com", v, creds()).is_ok());
        for ok in ["http://127.0.0.1:8080", "http://127.3.4.5", "http://[::1]:9", "http://LOCALHOST:1"] {
            assert!(Client::new(ok, v, creds()).is_ok(), "{ok}");
        }
        for bad in ["http://example.com", "http://10.0.0.1", "http://localhost.evil.com", "ftp://x"] {
            assert!(Client::new(bad, v, creds()).is_err(), "{bad}");
        }
        let c = Client::new("https://api.batch.com/", v, creds()).unwrap();
        assert_eq!(c.url(Endpoint::ProfilesUpdate), "https://api.batch.com/2.11/profiles/update");
    }
}
