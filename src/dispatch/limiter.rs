//! The rate limiter shared by every request in flight for one job.
//!
//! One token bucket per documented rate (each in its own unit), refilled at
//! the controller's current rate (`control`: how fast, and why), with three
//! rules that make it safe against a real API rather than an in-phase one:
//!
//! - **Nothing is assumed about Batch's bucket at start**: ours starts half
//!   full, not full. A run resumed a second after a kill, or sharing the project
//!   with another integration, finds Batch's bucket partly drained; spending a
//!   full burst blindly is then a 429 on the first calls. Half a bucket is one
//!   mass-update call (5,000 of 10,000) or 2 profile updates calls (400 of
//!   1,000): the start is not slowed, and a bucket drained down to half still
//!   passes.
//! - **Calls are paid for before they leave** (a call larger than the bucket
//!   waits for all its tokens), so the planned rate is never exceeded in any
//!   window: at most `burst + rate·T` in any T.
//! - **A 429 empties our bucket** (Batch's is short: assume it is empty) and
//!   nothing refills during the pause that follows, so the retried call and the
//!   next ones are spaced by the refill they need.
//!
//! The bucket is hand-written rather than governor's GCRA because its rate
//! changes with every decision and the bucket must carry over. Under it,
//! governor's GCRA (`ceiling`) holds every call to the planned rates, whatever
//! this layer decides. Both run on tokio's clock, so tests on paused time see
//! exact schedules.
//!
//! The controller needs each answer's call (its size, and whether it was
//! granted before the last decision). The public API stays `acquire(n)`,
//! `on_success()`, `on_throttled(..)`: the grant is remembered under the tokio
//! task that acquired it, which is the task that reports the answer.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::ceiling::Ceiling;
use super::control::{Control, Grant, Verdict};
use batchport_api::limits::{Rate, RateUnit};

/// The share of a rate counted in updates (100/s and more) that batchport
/// plans to use, documented or set with `rate = N`: see `control`'s doc
/// (measured: at 100% with 40–120 ms of jitter, 429s come back; at 99.5%, none).
pub const PLANNED_SHARE: f64 = 0.995;

/// Our bucket starts with this share of its capacity: see the module doc.
const START_SHARE: f64 = 0.5;

/// One rate, enforced: tokens may go negative (calls reserved ahead).
#[derive(Debug, Clone)]
struct Bucket {
    /// The planned rate (burst = capacity); the controller scales the refill.
    rate: Rate,
    tokens: f64,
    /// Refill is counted from here (later than now during a pause).
    last: Instant,
}

impl Bucket {
    fn cells(&self, updates: u32) -> f64 {
        match self.rate.unit {
            RateUnit::Requests => 1.0,
            RateUnit::Updates => f64::from(updates),
        }
    }

    fn refill(&mut self, now: Instant, factor: f64) {
        if now > self.last {
            let dt = (now - self.last).as_secs_f64();
            let cap = f64::from(self.rate.burst);
            self.tokens = (self.tokens + dt * f64::from(self.rate.per_second) * factor).min(cap);
            self.last = now;
        }
    }
}

/// What a run's sending looked like, for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sending {
    /// Updates in the calls Batch accepted.
    pub updates: u64,
    /// From the first call granted to the last answer.
    pub seconds: f64,
}

/// The rate-limiting part; absent when unlimited.
struct Limit {
    buckets: Vec<Bucket>,
    /// Index of the bucket the controller's rate is expressed in.
    reference: usize,
    control: Control,
    paused_until: Instant,
    rng: StdRng,
}

impl Limit {
    fn factor(&self) -> f64 {
        self.control.rate() / self.control.planned()
    }

    /// Refill every bucket up to `now` at the rate in force until now: called
    /// before any change of rate, so each stretch is refilled at its own rate.
    fn settle(&mut self, now: Instant) {
        let factor = self.factor();
        for b in &mut self.buckets {
            b.refill(now, factor);
        }
    }
}

/// The calls in flight and what was accepted, kept limited or not.
#[derive(Default)]
struct Tally {
    /// The call each task has in flight, and its updates.
    grants: HashMap<tokio::task::Id, (Grant, u32)>,
    first_grant: Option<Instant>,
    last_answer: Option<Instant>,
    granted: f64,
    calls: u64,
    updates: u64,
}

impl Tally {
    /// The grant of the call this task is answering, if known.
    fn answer(&mut self, now: Instant) -> Option<(Grant, u32)> {
        self.last_answer = Some(now);
        tokio::task::try_id().and_then(|id| self.grants.remove(&id))
    }

    /// A call's cost when its grant is not known: the average call.
    fn average(&self) -> f64 {
        if self.calls == 0 { 0.0 } else { self.granted / self.calls as f64 }
    }
}

struct Shared {
    limit: Option<Limit>,
    tally: Tally,
}

/// Shared by all requests in flight for one job. Cheap to clone.
#[derive(Clone)]
pub struct Limiter {
    inner: Arc<Mutex<Shared>>,
    /// The hard layer (governor): never more than the planned rates.
    ceiling: Option<Arc<Ceiling>>,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter").field("rates", &self.rates()).field("current_rate", &self.current_rate()).finish()
    }
}

impl Limiter {
    /// A limiter for an endpoint's documented `rates`, all of which apply,
    /// planned at [`PLANNED_SHARE`] where counted in updates (100/s and more).
    /// `override_rate` (updates/s, `rate = N`) replaces the update rate, keeping
    /// the documented burst-to-rate ratio; `Some(0)` means no limit at all.
    pub fn new(rates: &[Rate], override_rate: Option<u32>) -> Limiter {
        let documented: Vec<Rate> = rates.iter().copied().filter(|r| r.per_second > 0).collect();
        let mut planned = documented.clone();
        match override_rate {
            Some(0) => return Limiter::unlimited(),
            Some(wanted) => {
                let mut found = false;
                for rate in planned.iter_mut().filter(|r| r.unit == RateUnit::Updates) {
                    let scaled = u64::from(rate.burst) * u64::from(wanted) / u64::from(rate.per_second);
                    rate.burst = scaled.clamp(1, u64::from(u32::MAX)) as u32;
                    rate.per_second = wanted;
                    found = true;
                }
                if !found {
                    planned.push(Rate { unit: RateUnit::Updates, per_second: wanted, burst: wanted });
                }
            }
            None => {}
        }
        if planned.is_empty() {
            return Limiter::unlimited();
        }
        let now = Instant::now();
        let buckets: Vec<Bucket> = planned
            .into_iter()
            .map(|mut rate| {
                if rate.unit == RateUnit::Updates && rate.per_second >= 100 {
                    rate.per_second = (f64::from(rate.per_second) * PLANNED_SHARE) as u32;
                }
                rate.burst = rate.burst.max(1);
                let tokens = (f64::from(rate.burst) * START_SHARE).floor();
                Bucket { rate, tokens, last: now }
            })
            .collect();
        // The reference: the first rate counted in updates, else the first.
        let reference = buckets.iter().position(|b| b.rate.unit == RateUnit::Updates).unwrap_or(0);
        let unit = buckets[reference].rate.unit;
        let doc = documented.iter().find(|r| r.unit == unit).map_or(f64::INFINITY, |r| f64::from(r.per_second));
        let share = if unit == RateUnit::Updates && doc >= 100.0 { PLANNED_SHARE } else { 1.0 };
        let control = Control::new(f64::from(buckets[reference].rate.per_second), doc, share, now);
        let ceiling = Some(Arc::new(Ceiling::new(&buckets.iter().map(|b| b.rate).collect::<Vec<_>>())));
        let limit = Limit { buckets, reference, control, paused_until: now, rng: StdRng::from_os_rng() };
        Limiter { inner: Arc::new(Mutex::new(Shared { limit: Some(limit), tally: Tally::default() })), ceiling }
    }

    /// A limiter that never waits (`rate = 0`, and endpoints without a
    /// documented rate); it still counts what was accepted.
    pub fn unlimited() -> Limiter {
        Limiter { inner: Arc::new(Mutex::new(Shared { limit: None, tally: Tally::default() })), ceiling: None }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // The state stays consistent at every point a panic could occur.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until one request carrying `updates` updates may be sent.
    /// Dropping the future part-way forfeits what it had reserved: the error
    /// is always on the slow side, never above the quota.
    pub async fn acquire(&self, updates: u32) {
        // Reserve in arrival order: concurrent callers queue, not race.
        let go = {
            let mut s = self.lock();
            match &mut s.limit {
                None => None,
                Some(l) => {
                    let now = Instant::now();
                    l.settle(now);
                    let factor = l.factor();
                    let mut go = now.max(l.paused_until);
                    for b in &mut l.buckets {
                        b.tokens -= b.cells(updates);
                        if b.tokens < 0.0 {
                            let per_second = f64::from(b.rate.per_second) * factor;
                            go = go.max(b.last.max(now) + Duration::from_secs_f64(-b.tokens / per_second));
                        }
                    }
                    Some(go)
                }
            }
        };
        if let Some(go) = go {
            tokio::time::sleep_until(go).await;
            // A 429 that came while we waited holds us as well.
            loop {
                let until = self.lock().limit.as_ref().map_or(go, |l| l.paused_until);
                if until <= Instant::now() {
                    break;
                }
                tokio::time::sleep_until(until).await;
            }
        }
        if let Some(ceiling) = &self.ceiling {
            ceiling.pass(updates).await;
        }
        let mut s = self.lock();
        let now = Instant::now();
        let (cost, rate) = match &s.limit {
            Some(l) => (l.buckets[l.reference].cells(updates), l.control.rate()),
            None => (f64::from(updates), f64::INFINITY),
        };
        let t = &mut s.tally;
        if let Some(id) = tokio::task::try_id() {
            // A call answered neither way (5xx, 400, lost) leaves its grant
            // until its task acquires again; tasks that end then would leave
            // them forever: forget the old ones.
            if t.grants.len() >= 1_024 {
                t.grants.retain(|_, (g, _)| now.saturating_duration_since(g.at) < Duration::from_secs(600));
            }
            t.grants.insert(id, (Grant { cost, at: now, rate }, updates));
        }
        t.first_grant.get_or_insert(now);
        t.granted += cost;
        t.calls += 1;
    }

    /// The API said 429. Decides what it means (`control`), empties our
    /// bucket and pauses everyone for `retry_after`, else a short jittered
    /// pause (a growing one in a storm).
    pub fn on_throttled(&self, retry_after: Option<Duration>) {
        let mut s = self.lock();
        let now = Instant::now();
        let grant = s.tally.answer(now).map(|g| g.0);
        let Some(l) = &mut s.limit else { return };
        l.settle(now);
        let (verdict, ceiling) = l.control.throttled(now, grant);
        if verdict == Verdict::Stale {
            return;
        }
        let pause = match retry_after {
            Some(wait) => wait,
            None if verdict == Verdict::Storm => l.rng.random_range(ceiling / 2..=ceiling),
            None => {
                let (low, high) = super::control::SHORT_PAUSE;
                l.rng.random_range(low..=high)
            }
        };
        l.paused_until = l.paused_until.max(now + pause);
        let until = l.paused_until;
        l.control.hold_until(until);
        for b in &mut l.buckets {
            b.tokens = b.tokens.min(0.0);
            b.last = b.last.max(until);
        }
    }

    /// A request went through.
    pub fn on_success(&self) {
        let mut s = self.lock();
        let now = Instant::now();
        let (cost, updates) = match s.tally.answer(now) {
            Some((g, updates)) => (g.cost, u64::from(updates)),
            None => (s.tally.average(), 0),
        };
        s.tally.updates += updates;
        if let Some(l) = &mut s.limit {
            l.settle(now);
            l.control.success(now, cost);
        }
    }

    /// A request was answered without being accepted (a refusal, or an
    /// outcome held as unknown): its grant is done with, its updates are
    /// not counted as accepted. Not a sign of congestion either.
    pub(crate) fn on_refused(&self) {
        let mut s = self.lock();
        let now = Instant::now();
        s.tally.answer(now);
        if let Some(l) = &mut s.limit {
            l.settle(now);
            l.control.grow(now);
        }
    }

    /// The effective rate now, in updates/s (in requests/s for an endpoint
    /// limited by requests only); infinite when unlimited.
    pub fn current_rate(&self) -> f64 {
        self.lock().limit.as_ref().map_or(f64::INFINITY, |l| l.control.rate())
    }

    /// The rates enforced at the plan, after the override; empty when
    /// unlimited.
    pub fn rates(&self) -> Vec<Rate> {
        self.lock().limit.as_ref().map_or_else(Vec::new, |l| l.buckets.iter().map(|b| b.rate).collect())
    }

    /// How the sending went so far; `None` before the first answer.
    pub fn sending(&self) -> Option<Sending> {
        let s = self.lock();
        let t = &s.tally;
        let seconds = t.last_answer?.saturating_duration_since(t.first_grant?).as_secs_f64();
        Some(Sending { updates: t.updates, seconds })
    }
}
