//! Token buckets, as a pure struct fed with the time by the caller so tests can
//! drive it with synthetic instants. Counted in Custom IDs (or requests),
//! refilled continuously, taken when a call is processed; optionally shared
//! with another client that takes a steady share of the refill.

use std::time::Instant;

/// `per_second` tokens a second up to `capacity`. A take larger than what is in
/// the bucket is refused whole and consumes nothing.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    per_second: f64,
    /// Another client's steady consumption: it takes its share of each refill
    /// first (when the bucket is empty it gets nothing more than we do).
    shared: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(per_second: u32, capacity: u32, now: Instant) -> TokenBucket {
        let capacity = f64::from(capacity.max(1));
        TokenBucket { per_second: f64::from(per_second), shared: 0.0, capacity, tokens: capacity, last: now }
    }

    /// The same bucket, with another client consuming `per_second` of it (at
    /// most the whole refill).
    pub fn shared_with(mut self, per_second: u32) -> TokenBucket {
        self.shared = f64::from(per_second).min(self.per_second);
        self
    }

    fn refill(&mut self, now: Instant) {
        if now > self.last {
            let dt = now.duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * (self.per_second - self.shared)).min(self.capacity);
            self.last = now;
        }
    }

    /// Take `n` tokens if they are all there. A take larger than the capacity
    /// succeeds only from a full bucket and leaves it in debt, so calls the
    /// version allows (10,000 ops on 2.3's update) are slow, not impossible.
    pub fn try_take(&mut self, n: u64, now: Instant) -> bool {
        self.refill(now);
        let n = n as f64;
        let ok = if n > self.capacity { self.tokens >= self.capacity } else { self.tokens >= n };
        if ok {
            self.tokens -= n;
        }
        ok
    }

    /// Tokens available at `now`.
    #[cfg(test)]
    fn available(&mut self, now: Instant) -> f64 {
        self.refill(now);
        self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(300, 1_000, t0);
        assert!(b.try_take(1_000, t0));
        assert!(!b.try_take(1, t0));
        // 100 ms later: 30 tokens.
        let t1 = t0 + Duration::from_millis(100);
        assert!(!b.try_take(31, t1));
        assert!(b.try_take(30, t1));
        // Never above capacity.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!(b.available(t2), 1_000.0);
    }

    #[test]
    fn refused_take_consumes_nothing() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10_000, 10_000, t0);
        assert!(b.try_take(6_000, t0));
        assert!(!b.try_take(5_000, t0));
        assert!(b.try_take(4_000, t0));
        let t1 = t0 + Duration::from_millis(500);
        assert!(b.try_take(5_000, t1));
    }

    #[test]
    fn time_going_backwards_is_ignored() {
        let t1 = Instant::now() + Duration::from_secs(1);
        let mut b = TokenBucket::new(10, 10, t1);
        assert!(b.try_take(10, t1));
        assert!(!b.try_take(1, t1 - Duration::from_millis(900)));
        assert!(b.try_take(1, t1 + Duration::from_millis(100)));
    }

    #[test]
    fn a_shared_bucket_refills_at_what_the_other_client_leaves() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10_000, 10_000, t0).shared_with(3_000);
        assert!(b.try_take(10_000, t0));
        // 1 s later: 7,000, not 10,000.
        let t1 = t0 + Duration::from_secs(1);
        assert!(!b.try_take(7_001, t1));
        assert!(b.try_take(7_000, t1));
        // Idle, it still fills up to its capacity.
        assert_eq!(b.available(t1 + Duration::from_secs(10)), 10_000.0);
        // A client taking more than the rate leaves nothing, never less.
        let mut all = TokenBucket::new(300, 1_000, t0).shared_with(5_000);
        assert!(all.try_take(1_000, t0));
        assert_eq!(all.available(t1), 0.0);
    }

    #[test]
    fn oversized_take_needs_a_full_bucket_and_leaves_debt() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(300, 1_000, t0);
        assert!(b.try_take(10_000, t0));
        // 9,000 in debt: 30 s to refill.
        assert!(!b.try_take(1, t0 + Duration::from_secs(29)));
        assert!(b.try_take(1, t0 + Duration::from_secs(31)));
    }
}
