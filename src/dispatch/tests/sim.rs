//! A simulated Batch for the limiter on paused time: a token bucket counted in
//! updates, refilled continuously, taken when a call is processed (after a
//! seeded 40–120 ms network jitter), optionally drained by another client at a
//! steady rate; and a sender shaped like `dispatch::send` (acquire, call,
//! report, retry with the default policy's jittered backoff).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use batchport_dispatch::{Limiter, RetryPolicy};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

/// The server side of a scenario.
#[derive(Debug, Clone, Copy)]
pub struct Server {
    pub per_second: f64,
    pub capacity: f64,
    /// Tokens at start (a fresh project is full; after a kill, less).
    pub start: f64,
    /// Another client's steady consumption, updates/s.
    pub shared: f64,
    /// Jitter range before the bucket is reached.
    pub jitter: (Duration, Duration),
}

impl Server {
    pub fn mass_update() -> Server {
        let jitter = (Duration::from_millis(40), Duration::from_millis(120));
        Server { per_second: 10_000.0, capacity: 10_000.0, start: 10_000.0, shared: 0.0, jitter }
    }

    pub fn profiles_update() -> Server {
        Server { per_second: 300.0, capacity: 1_000.0, start: 1_000.0, ..Server::mass_update() }
    }
}

struct Bucket {
    s: Server,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, n: f64, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        // The other client takes its share of the refill first.
        self.tokens = (self.tokens + dt * (self.s.per_second - self.s.shared)).min(self.s.capacity);
        let ok = self.tokens >= n.min(self.s.capacity);
        if ok {
            self.tokens -= n;
        }
        ok
    }
}

/// What happened, per call processed by the server.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// (time processed, updates) of each accepted call.
    pub accepted: Vec<(Duration, u32)>,
    /// Time processed of each call answered 429.
    pub refused: Vec<Duration>,
    /// When the last answer came.
    pub elapsed: Duration,
}

impl Outcome {
    pub fn calls(&self) -> usize {
        self.accepted.len() + self.refused.len()
    }

    pub fn refused_share(&self) -> f64 {
        self.refused.len() as f64 / self.calls().max(1) as f64
    }

    /// Updates accepted per second, from the start to the last answer.
    pub fn rate(&self) -> f64 {
        let total: u64 = self.accepted.iter().map(|a| u64::from(a.1)).sum();
        total as f64 / self.elapsed.as_secs_f64()
    }

    /// Updates accepted per second between `from` and `to`.
    pub fn rate_between(&self, from: Duration, to: Duration) -> f64 {
        let total: u64 = self.accepted.iter().filter(|a| a.0 >= from && a.0 < to).map(|a| u64::from(a.1)).sum();
        total as f64 / (to - from).as_secs_f64()
    }

    pub fn refused_between(&self, from: Duration, to: Duration) -> usize {
        self.refused.iter().filter(|t| **t >= from && **t < to).count()
    }
}

/// Send `updates` in calls of `call` with `tasks` in flight through `limiter`
/// to `server`; `seed` drives the jitter.
pub async fn run(limiter: &Limiter, server: Server, updates: u64, call: u32, tasks: usize, seed: u64) -> Outcome {
    let t0 = Instant::now();
    let bucket = Arc::new(Mutex::new(Bucket { s: server, tokens: server.start, last: t0 }));
    let left = Arc::new(Mutex::new(updates));
    let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
    let out = Arc::new(Mutex::new(Outcome::default()));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (limiter, bucket, left, rng, out) =
                (limiter.clone(), bucket.clone(), left.clone(), rng.clone(), out.clone());
            tokio::spawn(async move {
                let policy = RetryPolicy::default();
                loop {
                    let n = {
                        let mut l = left.lock().unwrap();
                        let n = (*l).min(u64::from(call)) as u32;
                        *l -= u64::from(n);
                        n
                    };
                    if n == 0 {
                        return;
                    }
                    let mut attempt = 0;
                    loop {
                        limiter.acquire(n).await;
                        let (jitter, back) = {
                            let mut r = rng.lock().unwrap();
                            (
                                r.random_range(server.jitter.0..=server.jitter.1),
                                r.random_range(server.jitter.0..=server.jitter.1),
                            )
                        };
                        tokio::time::sleep(jitter).await;
                        let now = Instant::now();
                        let ok = bucket.lock().unwrap().take(f64::from(n), now);
                        {
                            let mut o = out.lock().unwrap();
                            if ok { o.accepted.push((now - t0, n)) } else { o.refused.push(now - t0) }
                        }
                        // The answer travels back.
                        tokio::time::sleep(back).await;
                        out.lock().unwrap().elapsed = t0.elapsed();
                        if ok {
                            limiter.on_success();
                            break;
                        }
                        limiter.on_throttled(None);
                        attempt += 1;
                        let delay = policy.delay(attempt, None, &mut *rng.lock().unwrap());
                        tokio::time::sleep(delay).await;
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    out.lock().unwrap().clone()
}
