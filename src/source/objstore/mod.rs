//! Object stores as sources and export outputs: `s3://`, `gs://`, `az://` /
//! `abfss://` and `https://` URLs where a path is expected.
//!
//! The client is the `object_store` crate of the Apache Arrow project
//! (0.13), chosen over the AWS/Google/Azure SDKs and over `opendal`:
//! - one API for the four kinds of URL, with each cloud's own credential
//!   chain built in (environment, web identity / workload identity, container
//!   and instance metadata, gcloud application default credentials, Azure CLI
//!   and managed identity), ranged and conditional (`If-Match`) reads,
//!   listings, and multipart uploads;
//! - it shares this crate's HTTP stack (reqwest 0.12, hyper 1, rustls with
//!   ring): no second TLS library, no C build (the AWS SDK pulls aws-lc), a
//!   few hundred kilobytes of code instead of three SDKs; 0.14 moved to
//!   reqwest 0.13 and aws-lc, hence 0.13;
//! - maintained by the Arrow project, used by DataFusion, Polars, delta-rs.
//!
//! What it lacks, this module adds: AWS profile files (`~/.aws/credentials`,
//! `~/.aws/config`, `AWS_PROFILE`), a clear "no credentials" error instead of
//! a wait on an instance metadata service that is not there, and retries of
//! reads through the run's retry driver (its own retries are turned off).
//!
//! Submodules: `creds` (credential checks, profile files), `list` (globs
//! over listings), `read` (ranged, pinned, retried streaming reads),
//! `upload` (multipart export output).

mod creds;
mod list;
mod read;
pub mod upload;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use object_store::path::Path as ObjPath;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use tokio_util::sync::CancellationToken;

use batchport_dispatch::Limiter;
use batchport_dispatch::retry::{Action, Driver, RetryLogic, RetryPolicy, Stop, Transient};

pub use creds::NoCredentials;
pub(crate) use list::expand;
pub use list::{Object, head};
pub(crate) use read::ObjectReader;
pub use upload::Upload;

/// Why an object could not be listed, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No S3 credentials anywhere in the chain, and the instance metadata
    /// service ruled out (`AWS_EC2_METADATA_DISABLED`).
    #[error("no credentials for this store")]
    Credentials(#[source] NoCredentials),
    /// The URL, or the store it names, cannot be used as given.
    #[error("{url}: {reason}")]
    BadUrl {
        /// The URL (or URL glob).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store has no object under this key.
    #[error("{url}: no such object")]
    NotFound {
        /// The object's URL.
        url: String,
    },
    /// A URL glob whose listing has no matching key.
    #[error("{pattern}: no object matches")]
    NoMatch {
        /// The URL glob.
        pattern: String,
    },
    /// The object's ETag is no longer the one the run pinned.
    #[error(
        "{url} changed while the run read it (ETag {pinned} when the run started, {now} now); it is not read further: rerun to start over on the new version"
    )]
    Changed {
        /// The object's URL.
        url: String,
        /// The ETag the run pinned.
        pinned: String,
        /// The ETag found now.
        now: String,
    },
    /// A listing, read or upload failed for good.
    #[error("{url}: {reason}")]
    Io {
        /// The URL of the object, or the glob listed.
        url: String,
        /// What failed, as the store, the retry driver or the file system said.
        reason: String,
    },
}

/// True when `s` names an object rather than a local path.
pub fn is_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else { return false };
    !rest.is_empty() && SCHEMES.contains(&scheme.to_ascii_lowercase().as_str())
}

const SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "https", "http"];

/// A URL split into the store it lives in and the key inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// `s3://bucket`, `abfss://container@account.dfs.core.windows.net`, `https://host`.
    pub(crate) base: String,
    /// The object key, or a glob over keys; no leading `/`.
    pub(crate) key: String,
}

impl Location {
    /// Split `url` after its bucket, container or host.
    pub(crate) fn parse(url: &str) -> Result<Location, StoreError> {
        let bad = |reason: &str| StoreError::BadUrl { url: url.to_string(), reason: reason.to_string() };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("not a URL"))?;
        let (authority, key) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() {
            return Err(bad("no bucket, container or host after the scheme"));
        }
        Ok(Location { base: format!("{}://{authority}", scheme.to_ascii_lowercase()), key: key.to_string() })
    }

    /// The URL of `key` in this store.
    pub(crate) fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.base)
    }

    fn scheme(&self) -> &str {
        self.base.split_once("://").map_or("", |(s, _)| s)
    }
}

/// How to reach stores: the job's `endpoint` (S3-compatible servers, Azurite).
/// Credentials are never here: they come from each cloud's own chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Access {
    pub(crate) endpoint: Option<String>,
}

/// A connected store and the URL prefix its keys hang under.
#[derive(Clone)]
pub(crate) struct Store {
    pub(crate) inner: Arc<dyn ObjectStore>,
    pub(crate) loc: Location,
}

impl Store {
    /// `key` as an `object_store` path.
    pub(crate) fn path(&self, key: &str) -> ObjPath {
        ObjPath::from(key)
    }
}

/// Connect to the store of `url` (cached per store and endpoint, so a glob of
/// a thousand parts resolves credentials once).
pub(crate) fn connect(url: &str, access: &Access) -> Result<Store, StoreError> {
    type Cache = Mutex<HashMap<(String, Access), Arc<dyn ObjectStore>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let loc = Location::parse(url)?;
    let cache = CACHE.get_or_init(Default::default);
    let key = (loc.base.clone(), access.clone());
    if let Some(inner) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(Store { inner: inner.clone(), loc });
    }
    let inner = build(&loc, access, url)?;
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key, inner.clone());
    Ok(Store { inner, loc })
}

fn client_options(allow_http: bool) -> ClientOptions {
    // No whole-request timeout: one GET streams a multi-gigabyte part.
    ClientOptions::new()
        .with_timeout_disabled()
        .with_connect_timeout(Duration::from_secs(10))
        .with_allow_http(allow_http)
}

fn plain_http(endpoint: Option<&str>) -> bool {
    endpoint.is_some_and(|e| e.starts_with("http://"))
}

fn env_true(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The run's retry driver retries reads; the client's own retries are off so
/// that one policy (and one count) holds.
fn no_retries() -> RetryConfig {
    RetryConfig { max_retries: 0, ..RetryConfig::default() }
}

fn build(loc: &Location, access: &Access, url: &str) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let endpoint = access.endpoint.as_deref();
    let failed = |e: object_store::Error| StoreError::BadUrl { url: url.to_string(), reason: e.to_string() };
    let store: Arc<dyn ObjectStore> = match loc.scheme() {
        "s3" | "s3a" => {
            // The job's endpoint, else the AWS CLI's AWS_ENDPOINT_URL.
            let endpoint = endpoint.map(str::to_string).or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
            let http = plain_http(endpoint.as_deref()) || env_true("AWS_ALLOW_HTTP");
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_url(loc.base.clone())
                .with_retry(no_retries())
                .with_client_options(client_options(http));
            if let Some(e) = endpoint {
                b = b.with_endpoint(e);
            }
            b = creds::aws(b).map_err(StoreError::Credentials)?;
            Arc::new(b.build().map_err(failed)?)
        }
        "gs" => {
            if endpoint.is_some() {
                return Err(StoreError::BadUrl {
                    url: url.to_string(),
                    reason: "`endpoint` is for S3-compatible stores and Azurite, not gs://".into(),
                });
            }
            let b = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(loc.base.clone())
                .with_retry(no_retries())
                .with_client_options(client_options(false));
            Arc::new(b.build().map_err(failed)?)
        }
        "az" | "azure" | "abfs" | "abfss" => {
            let mut b = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(loc.base.clone())
                .with_retry(no_retries())
                .with_client_options(client_options(plain_http(endpoint) || env_true("AZURE_ALLOW_HTTP")));
            if let Some(e) = endpoint {
                b = b.with_endpoint(e.to_string());
            }
            Arc::new(b.build().map_err(failed)?)
        }
        "https" | "http" => {
            let b = object_store::http::HttpBuilder::new()
                .with_url(loc.base.clone())
                .with_retry(no_retries())
                .with_client_options(client_options(plain_http(Some(&loc.base))));
            Arc::new(b.build().map_err(failed)?)
        }
        other => {
            return Err(StoreError::BadUrl { url: url.to_string(), reason: format!("unknown scheme `{other}`") });
        }
    };
    Ok(store)
}

/// The runtime every store request runs on. Sources are read by blocking
/// code (the CSV parser, `validate`, `init`), sometimes inside the run's
/// runtime, sometimes outside any: one small runtime of its own serves both,
/// and waiting on it never nests runtimes.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("objstore-io")
            .enable_all()
            .build()
            .expect("a one-thread runtime can always be built")
    })
}

/// Run `f` on the store runtime and wait for it from blocking code.
pub(crate) fn block_on<F>(f: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().expect("the store runtime never drops a task it was given")
}

/// The retry driver for store requests: the run's policy shape (backoff
/// with full jitter) with few attempts and short waits (a request that fails
/// five times over a few seconds is an outage, not a blip); stores have no
/// rate limit of ours.
pub(crate) fn driver() -> Driver {
    let policy = RetryPolicy { max_attempts: 5, base: Duration::from_millis(200), cap: Duration::from_secs(5) };
    Driver::new(policy, Limiter::unlimited(), CancellationToken::new())
}

/// Errors no retry will mend.
pub(crate) fn permanent(e: &object_store::Error) -> bool {
    use object_store::Error as E;
    matches!(
        e,
        E::NotFound { .. }
            | E::PermissionDenied { .. }
            | E::Unauthenticated { .. }
            | E::InvalidPath { .. }
            | E::NotSupported { .. }
            | E::Precondition { .. }
            | E::UnknownConfigurationKey { .. }
    )
}

pub(crate) fn transient(reason: String) -> Transient {
    Transient { status: None, retry_after: None, reason, connect: false }
}

/// What a driven call's stop means for `url`.
pub(crate) fn stopped(url: &str, stop: Stop<StoreError>) -> StoreError {
    match stop {
        Stop::Fail(e) => e,
        other => StoreError::Io { url: url.to_string(), reason: other.to_string() },
    }
}

/// A request whose answer is final or worth another try.
struct Once<'a, T> {
    url: &'a str,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T> RetryLogic for Once<'_, T> {
    type Input = Result<T, object_store::Error>;
    type Output = T;
    type Error = StoreError;

    fn classify(&self, input: Self::Input) -> Action<T, StoreError> {
        match input {
            Ok(v) => Action::Done(v),
            Err(e) if permanent(&e) => Action::Fail(io_err(self.url, e)),
            Err(e) => Action::Retry(transient(e.to_string())),
        }
    }
}

/// Make one request (a listing, a HEAD) through the retry driver.
pub(crate) async fn retried<T, F, Fut>(url: &str, attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, object_store::Error>>,
{
    let logic = Once { url, _t: std::marker::PhantomData };
    driver().call(&logic, 1, attempt).await.map_err(|s| stopped(url, s))
}

/// An `object_store` error, said for `url`.
fn io_err(url: &str, e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound { url: url.to_string() },
        e => StoreError::Io { url: url.to_string(), reason: e.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths_and_split() {
        assert!(is_url("s3://b/exports/users-*.csv.gz"));
        assert!(is_url("GS://b/x"));
        assert!(is_url("abfss://c@acct.dfs.core.windows.net/x.csv"));
        assert!(!is_url("exports/users.csv"));
        assert!(!is_url("C:/data/users.csv"));
        assert!(!is_url("ftp://host/x"));
        let l = Location::parse("s3://bucket/exports/users-*.csv.gz").unwrap();
        assert_eq!(l.base, "s3://bucket");
        assert_eq!(l.key, "exports/users-*.csv.gz");
        assert_eq!(l.url("k"), "s3://bucket/k");
        let l = Location::parse("abfss://c@a.dfs.core.windows.net/d/x.csv").unwrap();
        assert_eq!((l.base.as_str(), l.key.as_str()), ("abfss://c@a.dfs.core.windows.net", "d/x.csv"));
        assert!(Location::parse("s3:///key").is_err());
    }
}
