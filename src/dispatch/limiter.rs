//! The rate limiter shared by every request in flight for one job.
//!
//! Two layers. The hard layer is governor (GCRA, one limiter per documented
//! rate) and is the guarantee that the quota is never exceeded: a bucket of
//! capacity B refilled at r admits at most B + r·T in any window T. The adaptive
//! layer on top only ever slows down further: after a 429 everyone pauses, the
//! effective rate halves (floor 1/16 of the quota) and then recovers additively
//! with each second of success. Both run on tokio's clock, so tests on paused
//! time see exact schedules.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::api::limits::{Rate, RateUnit};

/// The slow-down never goes below this fraction of the quota: halving forever
/// would stall a job on a burst of 429s that the pause already absorbs.
pub const MIN_FACTOR: f64 = 1.0 / 16.0;
/// Additive increase: the fraction of the quota regained per second of success.
pub const RECOVERY_PER_SECOND: f64 = 0.05;
/// Pause after a 429 without `Retry-After` ("wait a few seconds", API.md):
/// doubles with each 429 not followed by a success, jittered in [d/2, d].
const PAUSE_BASE: Duration = Duration::from_secs(1);
const PAUSE_CAP: Duration = Duration::from_secs(32);

/// governor's clock, read from tokio's so that paused-time tests drive it.
#[derive(Debug, Clone, Copy)]
struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;
    fn now(&self) -> Nanos {
        Nanos::from(self.origin.elapsed())
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

/// One documented rate, enforced.
struct Bucket {
    rate: Rate,
    gcra: Gcra,
}

impl Bucket {
    fn new(rate: Rate, clock: TokioClock) -> Bucket {
        // The period is rounded up: 1e9/300 ns rounded down would allow a hair
        // more than 300/s.
        let period = Duration::from_nanos(1_000_000_000u64.div_ceil(u64::from(rate.per_second)));
        let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)).allow_burst(burst);
        let rate = Rate { burst: burst.get(), ..rate };
        Bucket { rate, gcra: RateLimiter::direct_with_clock(quota, clock) }
    }

    /// What one call costs in this bucket's unit.
    fn cells(&self, updates: u32) -> u32 {
        match self.rate.unit {
            RateUnit::Requests => 1,
            RateUnit::Updates => updates,
        }
    }

    /// Takes `cells` tokens, waiting as needed. A call larger than the bucket
    /// is taken in bucket-sized parts, each after the bucket has refilled, so
    /// it is paid for before it leaves.
    async fn take(&self, clock: &TokioClock, cells: u32) {
        let mut left = cells;
        while left > 0 {
            let part = left.min(self.rate.burst);
            let Some(n) = NonZeroU32::new(part) else {
                return;
            };
            loop {
                match self.gcra.check_n(n) {
                    Ok(Ok(())) => break,
                    Ok(Err(not_until)) => tokio::time::sleep(not_until.wait_time_from(clock.now())).await,
                    // Cannot happen: `part` never exceeds the burst.
                    Err(_) => return,
                }
            }
            left -= part;
        }
    }
}

/// The adaptive layer's state.
struct Adaptive {
    /// Effective rate as a fraction of the quota, in [MIN_FACTOR, 1].
    factor: f64,
    /// Nobody starts a request before this.
    paused_until: Instant,
    /// Recovery counts the success time since this instant.
    recover_from: Instant,
    /// 429s without a success in between: lengthens the pause.
    throttles: u32,
    /// Per bucket, the pacer's next free slot while slowed down.
    next_free: Vec<Instant>,
    rng: StdRng,
}

struct Inner {
    clock: TokioClock,
    buckets: Vec<Bucket>,
    state: Mutex<Adaptive>,
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, Adaptive> {
        // The state stays consistent at every point a panic could occur.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rate `current_rate` reports: the first update rate, else the first.
    fn reference(&self) -> Option<&Bucket> {
        self.buckets.iter().find(|b| b.rate.unit == RateUnit::Updates).or_else(|| self.buckets.first())
    }
}

/// Shared by all requests in flight for one job. Cheap to clone.
#[derive(Clone)]
pub struct Limiter {
    /// `None`: unlimited.
    inner: Option<Arc<Inner>>,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rates: Vec<Rate> = self.inner.iter().flat_map(|i| i.buckets.iter().map(|b| b.rate)).collect();
        f.debug_struct("Limiter").field("rates", &rates).field("current_rate", &self.current_rate()).finish()
    }
}

impl Limiter {
    /// A limiter for an endpoint's documented `rates`, all of which apply.
    /// `override_rate` (updates/s) replaces the update rate, keeping the
    /// documented burst-to-rate ratio; `Some(0)` means no limit at all.
    pub fn new(rates: &[Rate], override_rate: Option<u32>) -> Limiter {
        let mut rates: Vec<Rate> = rates.iter().copied().filter(|r| r.per_second > 0).collect();
        match override_rate {
            Some(0) => return Limiter::unlimited(),
            Some(wanted) => {
                let mut found = false;
                for rate in rates.iter_mut().filter(|r| r.unit == RateUnit::Updates) {
                    let scaled = u64::from(rate.burst) * u64::from(wanted) / u64::from(rate.per_second);
                    rate.burst = scaled.clamp(1, u64::from(u32::MAX)) as u32;
                    rate.per_second = wanted;
                    found = true;
                }
                if !found {
                    rates.push(Rate { unit: RateUnit::Updates, per_second: wanted, burst: wanted });
                }
            }
            None => {}
        }
        if rates.is_empty() {
            return Limiter::unlimited();
        }
        let now = Instant::now();
        let clock = TokioClock { origin: now };
        let buckets: Vec<Bucket> = rates.into_iter().map(|r| Bucket::new(r, clock)).collect();
        let state = Adaptive {
            factor: 1.0,
            paused_until: now,
            recover_from: now,
            throttles: 0,
            next_free: vec![now; buckets.len()],
            rng: StdRng::from_os_rng(),
        };
        Limiter { inner: Some(Arc::new(Inner { clock, buckets, state: Mutex::new(state) })) }
    }

    pub fn unlimited() -> Limiter {
        Limiter { inner: None }
    }

    /// Waits until one request carrying `updates` updates may be sent.
    /// Dropping the future part-way forfeits what it had reserved: the error
    /// is always on the slow side, never above the quota.
    pub async fn acquire(&self, updates: u32) {
        let Some(inner) = &self.inner else { return };

        // Adaptive layer: the pause, then while slowed down a slot at the
        // reduced rate. Slots are reserved in arrival order and paid after use,
        // so concurrent callers queue instead of racing.
        let start = {
            let mut s = inner.state();
            let mut start = Instant::now().max(s.paused_until);
            if s.factor < 1.0 {
                start = s.next_free.iter().fold(start, |a, b| a.max(*b));
                let factor = s.factor;
                for (i, bucket) in inner.buckets.iter().enumerate() {
                    let per_second = f64::from(bucket.rate.per_second) * factor;
                    let cost = Duration::from_secs_f64(f64::from(bucket.cells(updates)) / per_second);
                    s.next_free[i] = start + cost;
                }
            }
            start
        };
        tokio::time::sleep_until(start).await;
        // A 429 that came while we waited holds us as well.
        loop {
            let until = inner.state().paused_until;
            if until <= Instant::now() {
                break;
            }
            tokio::time::sleep_until(until).await;
        }

        // Hard layer: every documented rate, each in its own unit.
        for bucket in &inner.buckets {
            bucket.take(&inner.clock, bucket.cells(updates)).await;
        }
    }

    /// The API said 429: pause everyone for `retry_after` (or a jittered
    /// backoff) and halve the rate. The 429s of requests that were in flight
    /// together arrive during that pause and only extend it, so one burst of
    /// 429s halves the rate once.
    pub fn on_throttled(&self, retry_after: Option<Duration>) {
        let Some(inner) = &self.inner else { return };
        let mut s = inner.state();
        let now = Instant::now();
        if now >= s.paused_until {
            s.factor = (s.factor / 2.0).max(MIN_FACTOR);
            s.throttles = s.throttles.saturating_add(1);
        }
        let pause = match retry_after {
            Some(wait) => wait,
            None => {
                let doublings = s.throttles.saturating_sub(1).min(16);
                let ceiling = PAUSE_BASE.saturating_mul(1 << doublings).min(PAUSE_CAP);
                s.rng.random_range(ceiling / 2..=ceiling)
            }
        };
        s.paused_until = s.paused_until.max(now + pause);
        s.recover_from = s.paused_until;
        tracing::debug!(factor = s.factor, ?pause, "throttled: slowing down");
    }

    /// A request went through: regain RECOVERY_PER_SECOND of the quota per
    /// second since the last adjustment, up to the quota.
    pub fn on_success(&self) {
        let Some(inner) = &self.inner else { return };
        let mut s = inner.state();
        let now = Instant::now();
        if now < s.paused_until {
            return;
        }
        s.throttles = 0;
        if s.factor < 1.0 {
            let secs = now.saturating_duration_since(s.recover_from).as_secs_f64();
            s.factor = (s.factor + RECOVERY_PER_SECOND * secs).min(1.0);
        }
        s.recover_from = now;
    }

    /// The effective rate now, in updates/s (in requests/s for an endpoint
    /// limited by requests only); infinite when unlimited.
    pub fn current_rate(&self) -> f64 {
        let Some(inner) = &self.inner else {
            return f64::INFINITY;
        };
        match inner.reference() {
            Some(bucket) => f64::from(bucket.rate.per_second) * inner.state().factor,
            None => f64::INFINITY,
        }
    }

    /// The rates enforced, after the override; empty when unlimited.
    pub fn rates(&self) -> Vec<Rate> {
        self.inner.iter().flat_map(|i| i.buckets.iter().map(|b| b.rate)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPDATES: Rate = Rate { unit: RateUnit::Updates, per_second: 300, burst: 1_000 };
    const REQUESTS: Rate = Rate { unit: RateUnit::Requests, per_second: 1, burst: 1 };

    #[test]
    fn override_keeps_the_burst_ratio() {
        let l = Limiter::new(&[UPDATES], Some(150));
        assert_eq!(l.rates()[0].per_second, 150);
        assert_eq!(l.rates()[0].burst, 500);
        assert_eq!(l.current_rate(), 150.0);
    }

    #[test]
    fn override_adds_an_update_rate_where_only_requests_are_limited() {
        let l = Limiter::new(&[REQUESTS], Some(50));
        assert_eq!(l.rates().len(), 2);
        assert_eq!(l.current_rate(), 50.0);
        assert_eq!(Limiter::new(&[REQUESTS], None).current_rate(), 1.0);
    }

    #[test]
    fn no_rates_or_zero_override_is_unlimited() {
        assert!(Limiter::new(&[], None).rates().is_empty());
        assert!(Limiter::new(&[UPDATES], Some(0)).current_rate().is_infinite());
    }

    #[tokio::test(start_paused = true)]
    async fn one_burst_of_429s_halves_once_and_the_floor_holds() {
        let l = Limiter::new(&[UPDATES], None);
        for _ in 0..4 {
            l.on_throttled(Some(Duration::from_secs(1)));
        }
        assert_eq!(l.current_rate(), 150.0);
        for _ in 0..10 {
            tokio::time::advance(Duration::from_secs(2)).await;
            l.on_throttled(Some(Duration::from_secs(1)));
        }
        assert_eq!(l.current_rate(), 300.0 * MIN_FACTOR);
    }

    #[tokio::test(start_paused = true)]
    async fn pause_without_retry_after_is_jittered_and_grows() {
        let l = Limiter::new(&[UPDATES], None);
        l.on_throttled(None);
        let t0 = Instant::now();
        l.acquire(1).await;
        let first = t0.elapsed();
        assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1), "{first:?}");
        l.on_throttled(None);
        let t1 = Instant::now();
        l.acquire(1).await;
        let second = t1.elapsed();
        assert!(second >= Duration::from_secs(1) && second <= Duration::from_secs(3), "{second:?}");
    }
}
