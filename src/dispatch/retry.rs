//! The one retry driver: every API call of a run (import sends, export
//! requests, export downloads, audience and catalog look-ups and polling)
//! goes through [`Driver`].
//!
//! Modelled on vector's `RetryLogic`/`RetryAction` (src/sinks/util/retries.rs):
//! each call site says what one attempt came to with a [`RetryLogic`] (a
//! classification, no waiting, no counting), and the driver owns everything
//! else, as data ([`RetryPolicy`]):
//!
//! - the limiter: every attempt waits for its slot, every 429 anywhere slows
//!   the whole run down (`Limiter::on_throttled`);
//! - backoff with full jitter, `Retry-After` honoured up to [`RETRY_AFTER_CAP`];
//! - every wait (limiter, backoff, `Retry-After`) ends at once when the run is
//!   cancelled ([`Stop::Cancelled`]), so a signal is obeyed within a moment;
//! - a first connection that cannot be opened before anything reached the
//!   server ends the run at once ([`Stop::Unreachable`]): a wrong URL or a
//!   dead network is said in a second, not after ten backoffs; once the
//!   server has answered, connection errors are retried like any other;
//! - the run's request, retry and 429 counts.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;

use super::Limiter;

/// The longest a server's `Retry-After` is obeyed. Batch asks for seconds; a
/// proxy or a misconfigured server may say a day, and a nightly import that
/// sleeps for a day is worse than one that asks again in a minute (a 429
/// after that only costs one more request and another wait).
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// Exponential backoff with full jitter (AWS architecture blog, "Exponential
/// Backoff And Jitter"): spreads the retries of many senders that failed together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Ceiling of the first retry's delay; doubles with each failed attempt.
    pub base: Duration,
    /// No backoff ceiling grows past this.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 10, base: Duration::from_millis(500), cap: Duration::from_secs(60) }
    }
}

impl RetryPolicy {
    /// The ceiling of the delay after `attempt` failed attempts:
    /// `min(cap, base * 2^(attempt - 1))`, so the first retry waits at most `base`.
    fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(63);
        let factor = 1u64 << doublings;
        let nanos = (self.base.as_nanos()).saturating_mul(u128::from(factor));
        let cap = self.cap.as_nanos();
        Duration::from_nanos(nanos.min(cap).min(u128::from(u64::MAX)) as u64)
    }

    /// The wait after `attempt` failed attempts (1 after the first failure):
    /// uniform in `[0, ceiling(attempt)]`, and never shorter than the server's
    /// `Retry-After` capped at [`RETRY_AFTER_CAP`]. The RNG is a parameter so
    /// tests can seed it.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt).as_nanos() as u64;
        let jittered = Duration::from_nanos(rng.random_range(0..=ceiling));
        jittered.max(retry_after.unwrap_or(Duration::ZERO).min(RETRY_AFTER_CAP))
    }

    /// Whether another attempt is allowed after `attempt` failed ones.
    pub fn should_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }
}

/// A failure worth another attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transient {
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// The server's `Retry-After`, uncapped (the driver caps it).
    pub retry_after: Option<Duration>,
    /// What happened, for messages and for the error when attempts run out.
    pub reason: String,
    /// The connection could not be opened: the request surely did not leave.
    pub connect: bool,
}

/// What one attempt came to, as its call site's [`RetryLogic`] judges it.
#[derive(Debug)]
pub enum Action<T, E> {
    /// Finished: the call site acts on `T` (an answer, or a decision such as
    /// split, reject or hold that needs no other attempt of the same request).
    Done(T),
    /// Finished, but Batch did not accept the call (refused it whole, or its
    /// outcome is unknown): the call site acts on `T`; its updates are not
    /// counted as accepted, neither in the summary's rate nor by the rate
    /// controller.
    Refused(T),
    /// Try the same request again after a wait.
    Retry(Transient),
    /// Stop with the call site's error; no retry will help.
    Fail(E),
}

/// A call site's rules: what an attempt's result means. Pure: no waiting,
/// no counting (the [`Driver`] does those).
pub trait RetryLogic {
    /// What one attempt gives (usually an `api::client::Outcome`).
    type Input;
    /// What the call site gets back when done.
    type Output;
    /// The call site's own error.
    type Error;
    /// What one attempt's result means: done, refused, retry or fail.
    fn classify(&self, input: Self::Input) -> Action<Self::Output, Self::Error>;
}

/// Why a driven call ended without an output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stop<E> {
    /// The call site's error ([`Action::Fail`]).
    #[error("{0}")]
    Fail(E),
    /// The policy's attempts ran out.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// Attempts made, the first one included.
        attempts: u32,
        /// The reason of the last failure.
        last: String,
    },
    /// The run was cancelled (Ctrl-C, SIGTERM) during a wait.
    #[error("stopped by a signal while waiting to retry")]
    Cancelled,
    /// No connection could be opened before anything reached the server.
    #[error(
        "cannot reach the API ({reason}); nothing was sent. Check base_url and the network; the run can be resumed with the same command"
    )]
    Unreachable {
        /// Why the connection could not be opened.
        reason: String,
    },
}

impl<E> Stop<E> {
    /// Keep the driver's stops, turn the call site's error into another type.
    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> Stop<F> {
        match self {
            Stop::Fail(e) => Stop::Fail(f(e)),
            Stop::GaveUp { attempts, last } => Stop::GaveUp { attempts, last },
            Stop::Cancelled => Stop::Cancelled,
            Stop::Unreachable { reason } => Stop::Unreachable { reason },
        }
    }
}

/// Requests of a run, counted where they are made.
#[derive(Debug, Default)]
pub struct RequestStats {
    /// Attempts sent, retries included.
    pub requests: AtomicU64,
    /// Failed attempts that were to be tried again.
    pub retries: AtomicU64,
    /// Answers that were 429.
    pub http_429: AtomicU64,
    /// Export download links that had expired and were asked for again.
    pub renewals: AtomicU64,
}

/// Drives calls to the end under one policy, limiter and cancellation token.
/// Cheap to clone; clones share the counts, the limiter and what they know of
/// the server (whether it ever answered).
#[derive(Clone)]
pub struct Driver {
    policy: RetryPolicy,
    limiter: Limiter,
    cancel: CancellationToken,
    stats: Arc<RequestStats>,
    /// Something reached the server (it answered, or may have processed a request).
    reached: Arc<AtomicBool>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("policy", &self.policy).field("limiter", &self.limiter).finish_non_exhaustive()
    }
}

impl Driver {
    /// A driver with fresh counts that has not reached the server yet.
    pub fn new(policy: RetryPolicy, limiter: Limiter, cancel: CancellationToken) -> Driver {
        Driver {
            policy,
            limiter,
            cancel,
            stats: Arc::new(RequestStats::default()),
            reached: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The same driver (counts, cancellation, server knowledge) for calls
    /// under another limiter (another endpoint's rates).
    fn with_limiter(&self, limiter: Limiter) -> Driver {
        Driver { limiter, ..self.clone() }
    }

    /// The same driver under `endpoint`'s documented rates (look-ups and
    /// polls, which the import's own limiter does not count).
    pub fn for_endpoint(&self, version: batchport_api::Version, endpoint: batchport_api::Endpoint) -> Driver {
        let rates = batchport_api::limits::limits(version, endpoint).map(|l| l.rates).unwrap_or(&[]);
        self.with_limiter(Limiter::new(rates, None))
    }

    /// The same driver counting its requests apart: calls around the data
    /// (look-ups, polls) that the run's request count does not include.
    pub fn counted_apart(&self) -> Driver {
        Driver { stats: Arc::new(RequestStats::default()), ..self.clone() }
    }

    /// The limiter every attempt waits for.
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// The counts of the requests made so far.
    pub fn stats(&self) -> &RequestStats {
        &self.stats
    }

    /// The token that cancels the run's waits.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Drive one call: `attempt` makes a request costing `cost` updates,
    /// `logic` judges it, until it is done, fails, or the driver stops it.
    pub async fn call<L, F, Fut>(&self, logic: &L, cost: u32, mut attempt: F) -> Result<L::Output, Stop<L::Error>>
    where
        L: RetryLogic,
        F: FnMut() -> Fut,
        Fut: Future<Output = L::Input>,
    {
        let mut tries = self.attempts(cost);
        loop {
            tries.begin().await?;
            let input = attempt().await;
            if let Some(out) = tries.judge(logic.classify(input)).await? {
                return Ok(out);
            }
        }
    }

    /// The attempts of one call, step by step, for call sites whose attempt
    /// borrows what a closure cannot (a download writing into a sink).
    pub fn attempts(&self, cost: u32) -> Attempts<'_> {
        Attempts { driver: self, cost, failures: 0 }
    }

    /// Sleep `wait`, unless the run is cancelled first.
    pub async fn sleep<E>(&self, wait: Duration) -> Result<(), Stop<E>> {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Stop::Cancelled),
            _ = tokio::time::sleep(wait) => Ok(()),
        }
    }
}

/// The attempts of one call (see [`Driver::attempts`]).
pub struct Attempts<'d> {
    driver: &'d Driver,
    cost: u32,
    failures: u32,
}

impl Attempts<'_> {
    /// Before each attempt: wait for the limiter (cancellable) and count it.
    pub async fn begin<E>(&mut self) -> Result<(), Stop<E>> {
        let d = self.driver;
        if d.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        tokio::select! {
            biased;
            _ = d.cancel.cancelled() => return Err(Stop::Cancelled),
            _ = d.limiter.acquire(self.cost) => {}
        }
        d.stats.requests.fetch_add(1, Relaxed);
        Ok(())
    }

    /// After each attempt: `Some` when done, `None` after the wait before the
    /// next attempt, or why the call stops.
    pub async fn judge<T, E>(&mut self, action: Action<T, E>) -> Result<Option<T>, Stop<E>> {
        let d = self.driver;
        let t = match action {
            Action::Done(out) => {
                d.reached.store(true, Relaxed);
                d.limiter.on_success();
                return Ok(Some(out));
            }
            Action::Refused(out) => {
                d.reached.store(true, Relaxed);
                d.limiter.on_refused();
                return Ok(Some(out));
            }
            Action::Fail(e) => {
                d.reached.store(true, Relaxed);
                return Err(Stop::Fail(e));
            }
            Action::Retry(t) => t,
        };
        if t.connect && !d.reached.load(Relaxed) {
            return Err(Stop::Unreachable { reason: t.reason });
        }
        if !t.connect {
            d.reached.store(true, Relaxed);
        }
        let retry_after = t.retry_after.map(|w| w.min(RETRY_AFTER_CAP));
        if t.status == Some(429) {
            d.stats.http_429.fetch_add(1, Relaxed);
            d.limiter.on_throttled(retry_after);
        }
        self.failures += 1;
        if !d.policy.should_retry(self.failures) {
            return Err(Stop::GaveUp { attempts: self.failures, last: t.reason });
        }
        d.stats.retries.fetch_add(1, Relaxed);
        let wait = d.policy.delay(self.failures, retry_after, &mut rand::rng());
        tracing::debug!(attempt = self.failures, ?wait, reason = %t.reason, "retrying");
        d.sleep(wait).await?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
