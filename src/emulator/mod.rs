//! A local Batch 2.x Project API (API.md) for rehearsals, tests and benches: the
//! configuration, the handle to a running server and the `batchport emulator`
//! command's body. The HTTP surface lives in `server`, state in `store`.

mod audiences;
mod bucket;
mod catalogs;
mod exports;
mod faults;
mod introspect;
mod loss;
mod profiles;
mod server;
mod stats;
mod store;
mod stored;
mod validate;
mod value;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use stats::Stats;

use server::Shared;

/// How the emulator behaves: keys, rates, faults and timings.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The REST API key it accepts.
    pub rest_key: String,
    /// The project key it accepts.
    pub project_key: String,
    /// `(per_second, burst)` for `/profiles/update`; `None` = 300/s, burst 1,000.
    pub update_rate: Option<(u32, u32)>,
    /// `(per_second, burst)` for `/profiles/mass-update`; `None` = 10,000/s, no burst.
    pub mass_update_rate: Option<(u32, u32)>,
    /// `(per_second, burst)` in requests for the audience endpoints. Undocumented
    /// (third parties report ~1/s), so not enforced unless set.
    pub audience_rate: Option<(u32, u32)>,
    /// No token buckets at all (benches).
    pub unlimited: bool,
    /// Errors, lost answers, latency and 429 storms to inject.
    pub faults: Faults,
    /// Time from CREATED to SUCCESS (or ERROR) of an export.
    pub export_duration: Duration,
    /// Profiles per export file part.
    pub export_part_size: usize,
    /// Lifetime of a download link.
    pub link_ttl: Duration,
    /// The status an expired link answers: 410, or 400 / 403 as some signed-URL
    /// stores do.
    pub expired_link_status: u16,
    /// Exports end in ERROR instead of SUCCESS.
    pub export_fail: bool,
    /// Time an audience or catalog indexing token stays IN_PROGRESS.
    pub indexing_delay: Duration,
    /// Refuse events older than `event_max_age` or in the future (reported, not
    /// confirmed by Batch's docs), with a partial error. On by default, so
    /// rehearsals fail where production would.
    pub strict_event_time: bool,
    /// The event window when `strict_event_time` is on (default 24 h).
    pub event_max_age: chrono::Duration,
    /// Check event attribute values like profile ones ($label <= 200 chars,
    /// $tags <= 10 x 64, objects); on by default.
    pub strict_event_attributes: bool,
    /// Another client of the same project consuming this many updates/s of
    /// every bucket counted in updates (at most its rate): it takes its share
    /// of each refill first, as a steady integration would.
    pub shared_rate: u32,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            rest_key: "emulator_rest_key".into(),
            project_key: "project_emulator".into(),
            update_rate: None,
            mass_update_rate: None,
            audience_rate: None,
            unlimited: false,
            faults: Faults::default(),
            export_duration: Duration::from_secs(2),
            export_part_size: 100_000,
            link_ttl: Duration::from_secs(20 * 60),
            expired_link_status: 410,
            export_fail: false,
            indexing_delay: Duration::from_millis(200),
            strict_event_time: true,
            event_max_age: chrono::Duration::hours(24),
            strict_event_attributes: true,
            shared_rate: 0,
        }
    }
}

/// Injected faults, deterministic for a given `seed`.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Fraction of write calls answered 500 or 503, not applied.
    pub error_rate: f64,
    /// Fraction of write calls applied whose answer is lost (the connection is
    /// closed without a response).
    pub lost_answer_rate: f64,
    /// Added to every call.
    pub latency: Duration,
    /// Network and processing jitter: every call waits a uniform random delay
    /// in [jitter/2, 3·jitter/2] (seeded) before it reaches the buckets, so
    /// calls arrive out of phase as they do over a real network.
    pub jitter: Duration,
    /// Every call is answered 429 for this long after start.
    pub storm_429: Option<Duration>,
    /// Seed of the fault rolls: the same seed, the same faults.
    pub seed: u64,
    /// Operations whose Custom ID contains this are refused: a partial error
    /// on /profiles/update, a 400 for the whole call on /profiles/mass-update.
    pub refuse_marker: Option<String>,
    /// Attributes of this name are refused one by one (a partial error on
    /// update naming the attribute; the rest of the operation is applied).
    pub refuse_attribute: Option<String>,
    /// Fraction of Custom IDs (picked by a hash keyed with `seed`) whose
    /// `mass-update` operation is accepted (202) but silently not applied, as
    /// an asynchronous loss would look. Each ID is lost once: its later
    /// operations (a repair) are applied.
    pub drop_rate: f64,
    /// These Custom IDs' first `mass-update` operation is silently not applied.
    pub drop_ids: Vec<String>,
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Emulator {
    /// Bind `addr` (e.g. `127.0.0.1:0`) and serve on the current tokio runtime.
    pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, addr));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = server::router(shared.clone());
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!("emulator stopped: {e}");
            }
        });
        Ok(Emulator { shared, addr, stop: Some(stop) })
    }

    /// Start on a background thread with its own runtime, bound to `127.0.0.1:0`.
    pub fn start_background(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("batchport-emulator")
            .enable_all()
            .build()?;
        let emulator = rt.block_on(Emulator::start(config, ([127, 0, 0, 1], 0).into()))?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let mut emulator = emulator;
        let inner_stop = emulator.stop.replace(stop_tx);
        std::thread::Builder::new().name("batchport-emulator".into()).spawn(move || {
            rt.block_on(async move {
                let _ = stop_rx.await;
                if let Some(s) = inner_stop {
                    let _ = s.send(());
                }
            });
            // Dropping the runtime ends the server task and its connections.
            drop(rt);
        })?;
        Ok(emulator)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a version.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A snapshot of its counters (calls, 429s, operations, ...).
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Merged state of one profile: `{"custom_id","attributes":{..},"events":[..]}`.
    pub fn profile(&self, custom_id: &str) -> Option<serde_json::Value> {
        self.shared.store.profile(custom_id)
    }

    /// Custom IDs whose `mass-update` operation was accepted but silently not
    /// applied (`Faults::drop_rate`, `Faults::drop_ids`), sorted.
    pub fn dropped_ids(&self) -> Vec<String> {
        self.shared.losses.ids()
    }

    /// Operations applied for this Custom ID, duplicates included.
    pub fn received(&self, custom_id: &str) -> u64 {
        self.shared.store.received(custom_id)
    }

    /// Every Custom ID received, with its count.
    pub fn received_all(&self) -> std::collections::HashMap<String, u64> {
        self.shared.store.received_all()
    }

    /// Ids of an audience (sorted), `None` if it does not exist.
    pub fn audience_ids(&self, name: &str) -> Option<Vec<String>> {
        self.shared.audiences.lock().unwrap().ids(name)
    }

    /// One catalog item's attributes.
    pub fn catalog_item(&self, catalog: &str, id: &str) -> Option<serde_json::Value> {
        self.shared.catalogs.lock().unwrap().item(catalog, id)
    }

    /// Items in a catalog, `None` if it does not exist.
    pub fn catalog_len(&self, catalog: &str) -> Option<usize> {
        self.shared.catalogs.lock().unwrap().len(catalog)
    }

    /// Forget all state and counters; buckets refill, the storm ends.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Answer every call 429 for `d` from now.
    pub fn trigger_storm(&self, d: Duration) {
        self.shared.trigger_storm(d);
    }

    /// Stop serving (dropping it does too).
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop_now();
    }
}
