//! The hard ceiling under the adaptive limiter: governor's GCRA, one per
//! planned rate, that every call passes after `limiter` has spaced it.
//!
//! `limiter` decides how fast to go (its rate moves with every 429 and every
//! quiet minute, which is why its own buckets are hand-written); this layer
//! only guarantees that no decision of it, and no bug in it, can ever send
//! more than the planned rate: a GCRA of capacity B refilled at r admits at
//! most B + r·T in any window T. In normal operation it never waits (the
//! adaptive layer stays at or under the same rate and starts half full while
//! this one starts full). It runs on tokio's clock, so paused-time tests see
//! exact schedules.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use batchport_api::limits::{Rate, RateUnit};

/// governor's clock, read from tokio's.
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

/// One planned rate, enforced.
struct Gate {
    unit: RateUnit,
    burst: u32,
    gcra: Gcra,
}

/// Every planned rate of one limiter.
pub(super) struct Ceiling {
    clock: TokioClock,
    gates: Vec<Gate>,
}

impl std::fmt::Debug for Ceiling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ceiling").field("gates", &self.gates.len()).finish()
    }
}

impl Ceiling {
    /// A ceiling at exactly `rates` (already planned: the share kept in hand
    /// and any `rate = N` applied).
    pub fn new(rates: &[Rate]) -> Ceiling {
        let clock = TokioClock { origin: Instant::now() };
        let gates = rates
            .iter()
            .filter(|r| r.per_second > 0)
            .map(|r| {
                // The period is rounded up: 1e9/300 ns rounded down would allow
                // a hair more than 300/s.
                let period = Duration::from_nanos(1_000_000_000u64.div_ceil(u64::from(r.per_second)));
                let burst = NonZeroU32::new(r.burst).unwrap_or(NonZeroU32::MIN);
                let quota =
                    Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)).allow_burst(burst);
                Gate { unit: r.unit, burst: burst.get(), gcra: RateLimiter::direct_with_clock(quota, clock) }
            })
            .collect();
        Ceiling { clock, gates }
    }

    /// Takes what a call of `updates` updates costs in every gate, waiting as
    /// needed. A call larger than a gate's capacity takes the whole capacity:
    /// `limiter` has already held it back until its full cost was refilled
    /// (tokens go negative there), and charging the rest here again would
    /// double its wait.
    pub async fn pass(&self, updates: u32) {
        for gate in &self.gates {
            let cells = match gate.unit {
                RateUnit::Requests => 1,
                RateUnit::Updates => updates,
            };
            let Some(n) = NonZeroU32::new(cells.min(gate.burst)) else { continue };
            loop {
                match gate.gcra.check_n(n) {
                    Ok(Ok(())) => break,
                    Ok(Err(not_until)) => tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await,
                    // Cannot happen: `n` never exceeds the capacity.
                    Err(_) => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_capacity_plus_rate_times_t() {
        let c = Ceiling::new(&[Rate { unit: RateUnit::Updates, per_second: 1_000, burst: 1_000 }]);
        let start = Instant::now();
        // 5 calls of 1,000: the first passes at once (full bucket), each next
        // one a second later; one of 3,000 takes the whole bucket (a second).
        for _ in 0..5 {
            c.pass(1_000).await;
        }
        c.pass(3_000).await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(4_990) && waited <= Duration::from_millis(5_010), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn requests_gates_count_calls_not_updates() {
        let c = Ceiling::new(&[Rate { unit: RateUnit::Requests, per_second: 5, burst: 5 }]);
        let start = Instant::now();
        for _ in 0..10 {
            c.pass(200).await;
        }
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(990) && waited <= Duration::from_millis(1_010), "{waited:?}");
    }
}
