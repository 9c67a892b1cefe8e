//! Counters of what the emulator saw, kept as atomics on the hot path and
//! snapshotted into [`Stats`] for tests, scripts and `GET /_emulator/stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use batchport_api::Endpoint;

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    /// API calls (introspection and file downloads excluded).
    pub requests: u64,
    /// Distinct Custom IDs (or installations) per profile call, summed.
    pub updates: u64,
    /// Profile operations applied.
    pub operations: u64,
    /// Calls answered 429 (rate limits and storms).
    pub http_429: u64,
    /// Calls answered 400.
    pub http_400: u64,
    /// Calls answered 401 (a wrong or missing key).
    pub http_401: u64,
    /// Calls answered 500 or 503 by an injected fault.
    pub faults_5xx: u64,
    /// Calls applied whose answer was dropped by an injected fault.
    pub lost_answers: u64,
    /// Operations refused: partial errors on update, dropped rows on mass-update.
    pub partial_errors: u64,
    /// Profiles stored.
    pub profiles: u64,
    /// The most operations seen in one call.
    pub max_ops_in_call: u64,
    /// Calls per endpoint path (`profiles/update`, ...).
    pub per_endpoint: BTreeMap<String, u64>,
    /// Custom IDs received more than once in total.
    pub duplicate_ids: u64,
    /// `mass-update` operations accepted but silently not applied (the
    /// `drop_rate` / `drop_ids` faults): one per ID lost.
    #[serde(default)]
    pub silently_dropped: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub updates: AtomicU64,
    pub operations: AtomicU64,
    pub http_429: AtomicU64,
    pub http_400: AtomicU64,
    pub http_401: AtomicU64,
    pub faults_5xx: AtomicU64,
    pub lost_answers: AtomicU64,
    pub partial_errors: AtomicU64,
    pub profiles: AtomicU64,
    pub max_ops_in_call: AtomicU64,
    pub duplicate_ids: AtomicU64,
    per_endpoint: [AtomicU64; Endpoint::ALL.len()],
}

pub(crate) fn add(c: &AtomicU64, n: u64) {
    if n > 0 {
        c.fetch_add(n, Relaxed);
    }
}

impl Counters {
    pub fn endpoint(&self, ep: Endpoint) {
        if let Some(i) = Endpoint::ALL.iter().position(|e| *e == ep) {
            self.per_endpoint[i].fetch_add(1, Relaxed);
        }
    }

    pub fn status(&self, status: u16) {
        match status {
            429 => add(&self.http_429, 1),
            400 => add(&self.http_400, 1),
            401 => add(&self.http_401, 1),
            _ => {}
        }
    }

    pub fn snapshot(&self) -> Stats {
        let g = |c: &AtomicU64| c.load(Relaxed);
        let per_endpoint = Endpoint::ALL
            .iter()
            .zip(&self.per_endpoint)
            .filter(|(_, c)| g(c) > 0)
            .map(|(e, c)| (e.path()[1..].to_string(), g(c)))
            .collect();
        Stats {
            requests: g(&self.requests),
            updates: g(&self.updates),
            operations: g(&self.operations),
            http_429: g(&self.http_429),
            http_400: g(&self.http_400),
            http_401: g(&self.http_401),
            faults_5xx: g(&self.faults_5xx),
            lost_answers: g(&self.lost_answers),
            partial_errors: g(&self.partial_errors),
            profiles: g(&self.profiles),
            max_ops_in_call: g(&self.max_ops_in_call),
            per_endpoint,
            duplicate_ids: g(&self.duplicate_ids),
            silently_dropped: 0,
        }
    }

    pub fn reset(&self) {
        for c in [
            &self.requests,
            &self.updates,
            &self.operations,
            &self.http_429,
            &self.http_400,
            &self.http_401,
            &self.faults_5xx,
            &self.lost_answers,
            &self.partial_errors,
            &self.profiles,
            &self.max_ops_in_call,
            &self.duplicate_ids,
        ] {
            c.store(0, Relaxed);
        }
        for c in &self.per_endpoint {
            c.store(0, Relaxed);
        }
    }
}
