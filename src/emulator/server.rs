//! The HTTP surface: one handler for every `/{version}/...` call that resolves
//! the endpoint and its limits, checks verb, keys, storms and faults, then hands
//! the body to the endpoint's module; plus the shared state and error answers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use batchport_api::limits::{Limits, Rate, RateUnit};
use batchport_api::wire::{AUTHENTICATION_INVALID, ApiError};
use batchport_api::{Endpoint, Version};

use super::audiences::Audiences;
use super::bucket::TokenBucket;
use super::catalogs::Catalogs;
use super::exports::Exports;
use super::faults::{Fault, FaultState, lost_response};
use super::stats::{Counters, Stats, add};
use super::store::Store;
use super::{EmulatorConfig, audiences, catalogs, exports, introspect, profiles};

/// Everything a running emulator holds.
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub base_url: String,
    pub store: Store,
    pub counters: Counters,
    pub buckets: Mutex<Buckets>,
    pub faults: Mutex<FaultState>,
    pub audiences: Mutex<Audiences>,
    pub catalogs: Mutex<Catalogs>,
    pub exports: Mutex<Exports>,
    pub losses: super::loss::Losses,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(config: EmulatorConfig, addr: SocketAddr) -> Shared {
        let now = Instant::now();
        Shared {
            base_url: format!("http://{addr}"),
            store: Store::new(),
            counters: Counters::default(),
            buckets: Mutex::new(Buckets::new(&config, now)),
            faults: Mutex::new(FaultState::new(&config.faults, now)),
            audiences: Mutex::default(),
            catalogs: Mutex::default(),
            exports: Mutex::default(),
            losses: Default::default(),
            config,
        }
    }

    pub fn stats(&self) -> Stats {
        let mut s = self.counters.snapshot();
        s.silently_dropped = self.losses.len();
        s
    }

    pub fn reset(&self) {
        let now = Instant::now();
        self.store.clear();
        self.counters.reset();
        *lock(&self.buckets) = Buckets::new(&self.config, now);
        let mut faults = FaultState::new(&self.config.faults, now);
        faults.trigger_storm(now, Duration::ZERO);
        *lock(&self.faults) = faults;
        *lock(&self.audiences) = Audiences::default();
        *lock(&self.catalogs) = Catalogs::default();
        *lock(&self.exports) = Exports::default();
        self.losses.clear();
    }

    pub fn trigger_storm(&self, d: Duration) {
        lock(&self.faults).trigger_storm(Instant::now(), d);
    }
}

/// The token buckets of the rate-limited endpoints (`None` = not enforced).
pub(crate) struct Buckets {
    update: Option<TokenBucket>,
    mass_update: Option<TokenBucket>,
    audience: Option<TokenBucket>,
    catalog_requests: Option<TokenBucket>,
    catalog_items: Option<TokenBucket>,
}

impl Buckets {
    fn new(c: &EmulatorConfig, now: Instant) -> Buckets {
        let documented = |ep: Endpoint, unit: RateUnit| -> Option<Rate> {
            let l = batchport_api::limits::limits(Version::CURRENT, ep)?;
            l.rates.iter().find(|r| r.unit == unit).copied()
        };
        let make = |over: Option<(u32, u32)>, ep: Endpoint, unit: RateUnit| -> Option<TokenBucket> {
            if c.unlimited {
                return None;
            }
            let (per_second, burst) = over.or(documented(ep, unit).map(|r| (r.per_second, r.burst)))?;
            let shared = if unit == RateUnit::Updates { c.shared_rate } else { 0 };
            Some(TokenBucket::new(per_second, burst, now).shared_with(shared))
        };
        Buckets {
            update: make(c.update_rate, Endpoint::ProfilesUpdate, RateUnit::Updates),
            mass_update: make(c.mass_update_rate, Endpoint::ProfilesMassUpdate, RateUnit::Updates),
            audience: c.audience_rate.and_then(|r| make(Some(r), Endpoint::AudiencesUpdate, RateUnit::Requests)),
            catalog_requests: make(None, Endpoint::CatalogItemsEdit, RateUnit::Requests),
            catalog_items: make(None, Endpoint::CatalogItemsEdit, RateUnit::Updates),
        }
    }

    /// Take `updates` from the endpoint's buckets, all or nothing.
    pub fn take(&mut self, ep: Endpoint, updates: u64, now: Instant) -> bool {
        let fits = |b: &mut Option<TokenBucket>, n: u64| b.as_mut().is_none_or(|b| b.clone().try_take(n, now));
        let take = |b: &mut Option<TokenBucket>, n: u64| {
            if let Some(b) = b.as_mut() {
                b.try_take(n, now);
            }
        };
        match ep {
            Endpoint::ProfilesUpdate => self.update.as_mut().is_none_or(|b| b.try_take(updates, now)),
            Endpoint::ProfilesMassUpdate => self.mass_update.as_mut().is_none_or(|b| b.try_take(updates, now)),
            Endpoint::CatalogItemsEdit => {
                let ok = fits(&mut self.catalog_requests, 1) && fits(&mut self.catalog_items, updates);
                if ok {
                    take(&mut self.catalog_requests, 1);
                    take(&mut self.catalog_items, updates);
                }
                ok
            }
            Endpoint::AudiencesCreate
            | Endpoint::AudiencesUpdate
            | Endpoint::AudiencesReplace
            | Endpoint::AudiencesRemove => self.audience.as_mut().is_none_or(|b| b.try_take(1, now)),
            _ => true,
        }
    }
}

/// An error answer with API.md's body.
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ApiError { error_code: code.into(), error_message: message.into() };
    (status, axum::Json(body)).into_response()
}

/// A write body that must be a JSON object with a valid `name` (audiences and
/// catalogs share the rule): the body and the name, or the 400 to answer.
#[allow(clippy::result_large_err)] // the error is the 400 to answer, built once per bad call
pub(crate) fn named_body<'a>(call: &Call<'a>) -> Result<(super::value::Val<'a>, String), Response> {
    use super::value::Val;
    let body: Val = match serde_json::from_slice(call.body) {
        Ok(v @ Val::Obj(_)) => v,
        Ok(_) => return Err(bad_request("the body must be a JSON object")),
        Err(e) => return Err(bad_request(format!("malformed JSON: {e}"))),
    };
    let name = match body.get("name").and_then(Val::as_str) {
        Some(n) if batchport_api::rules::is_valid_audience_name(n) => n.to_string(),
        _ => return Err(bad_request("name must be [A-Za-z0-9_-], 1 to 255 characters")),
    };
    Ok((body, name))
}

pub(crate) fn bad_request(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
}

pub(crate) fn too_many_requests() -> Response {
    error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", "Too many requests: wait a few seconds before retrying")
}

pub(crate) fn ok(body: serde_json::Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

pub(crate) fn accepted(body: serde_json::Value) -> Response {
    (StatusCode::ACCEPTED, axum::Json(body)).into_response()
}

/// One API call, as the endpoint modules see it.
pub(crate) struct Call<'a> {
    pub shared: &'a Shared,
    pub endpoint: Endpoint,
    pub limits: Limits,
    pub body: &'a [u8],
    pub query: HashMap<String, String>,
}

impl Call<'_> {
    /// Take from the endpoint's buckets now.
    pub fn take(&self, updates: u64) -> bool {
        lock(&self.shared.buckets).take(self.endpoint, updates, Instant::now())
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(introspect::routes())
        .route("/{version}/{*path}", any(api))
        // We answer oversized bodies ourselves, from the limits table.
        .layer(DefaultBodyLimit::max(128 * 1024 * 1024))
        .with_state(shared)
}

fn authorized(headers: &HeaderMap, c: &EmulatorConfig) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
    bearer == Some(c.rest_key.as_str()) && header("x-batch-project") == Some(c.project_key.as_str())
}

async fn api(
    State(s): State<Arc<Shared>>,
    Path((version, path)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    add(&s.counters.requests, 1);
    let delay = s.config.faults.latency + lock(&s.faults).jitter(&s.config.faults);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (response, lost) = handle(&s, &version, &path, method, &uri, &headers, &body);
    s.counters.status(response.status().as_u16());
    if lost {
        add(&s.counters.lost_answers, 1);
        return lost_response();
    }
    response
}

fn handle(
    s: &Shared,
    version: &str,
    path: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> (Response, bool) {
    let not_found = |m: String| (error(StatusCode::NOT_FOUND, "NOT_FOUND", m), false);
    let Ok(v) = version.parse::<Version>() else {
        return not_found(format!("unknown API version `{version}`"));
    };
    let Some(endpoint) = Endpoint::ALL.into_iter().find(|e| &e.path()[1..] == path) else {
        return not_found(format!("no endpoint /{path}"));
    };
    let Some(limits) = batchport_api::limits::limits(v, endpoint) else {
        return not_found(format!("/{path} does not exist in API version {v}"));
    };
    s.counters.endpoint(endpoint);
    let verb = if endpoint.is_write() { Method::POST } else { Method::GET };
    if method != verb {
        let m = format!("/{path} takes {verb} only");
        return (error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", m), false);
    }
    if !authorized(headers, &s.config) {
        let m = "The REST API key or project key is missing or not valid for this project";
        return (error(StatusCode::UNAUTHORIZED, AUTHENTICATION_INVALID, m), false);
    }
    let fault = {
        let mut f = lock(&s.faults);
        if f.in_storm(Instant::now()) {
            return (too_many_requests(), false);
        }
        if endpoint.is_write() { f.roll(&s.config.faults) } else { Fault::None }
    };
    if let Fault::Error(status) = fault {
        add(&s.counters.faults_5xx, 1);
        let code = if status == StatusCode::SERVICE_UNAVAILABLE { "MAINTENANCE" } else { "SERVER_ERROR" };
        return (error(status, code, "injected fault"), false);
    }
    if body.len() > limits.max_body_bytes {
        let m = format!("request body over {} bytes", limits.max_body_bytes);
        return (error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", m), fault == Fault::Lost);
    }
    let query = match Query::<HashMap<String, String>>::try_from_uri(uri) {
        Ok(Query(q)) => q,
        Err(e) => return (bad_request(format!("bad query string: {e}")), false),
    };
    let call = Call { shared: s, endpoint, limits, body, query };
    let response = match endpoint {
        Endpoint::ProfilesUpdate | Endpoint::ProfilesMassUpdate => profiles::handle(&call),
        Endpoint::AudiencesCreate
        | Endpoint::AudiencesUpdate
        | Endpoint::AudiencesReplace
        | Endpoint::AudiencesRemove
        | Endpoint::AudiencesView
        | Endpoint::AudiencesList => audiences::handle(&call),
        Endpoint::CatalogItemsEdit
        | Endpoint::CatalogsCreate
        | Endpoint::CatalogsView
        | Endpoint::CatalogsList
        | Endpoint::CatalogsRemove => catalogs::handle(&call),
        Endpoint::ProfilesExport | Endpoint::ExportsView | Endpoint::ExportsList | Endpoint::ExportsDownload => {
            exports::handle(&call)
        }
    };
    (response, fault == Fault::Lost)
}
