//! How long to wait before sending a failed request again, and when to give up.
//! Which failures are worth a retry is decided elsewhere (`api::client::classify`);
//! this only turns "attempt N failed" into a delay.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with full jitter (AWS architecture blog, "Exponential
/// Backoff And Jitter"): spreads the retries of many senders that failed together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Ceiling of the first retry's delay; doubles with each failed attempt.
    pub base: Duration,
    /// No delay ceiling grows past this (a server's `Retry-After` may).
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
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(63);
        let factor = 1u64 << doublings;
        let nanos = (self.base.as_nanos()).saturating_mul(u128::from(factor));
        let cap = self.cap.as_nanos();
        Duration::from_nanos(nanos.min(cap).min(u128::from(u64::MAX)) as u64)
    }

    /// The wait after `attempt` failed attempts (1 after the first failure):
    /// uniform in `[0, ceiling(attempt)]`, and never shorter than the server's
    /// `Retry-After`. The RNG is a parameter so tests can seed it.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt).as_nanos() as u64;
        let jittered = Duration::from_nanos(rng.random_range(0..=ceiling));
        jittered.max(retry_after.unwrap_or(Duration::ZERO))
    }

    /// Whether another attempt is allowed after `attempt` failed ones.
    pub fn should_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn ceiling_doubles_then_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.ceiling(0), Duration::from_millis(500));
        assert_eq!(p.ceiling(1), Duration::from_millis(500));
        assert_eq!(p.ceiling(2), Duration::from_secs(1));
        assert_eq!(p.ceiling(4), Duration::from_secs(4));
        assert_eq!(p.ceiling(8), Duration::from_secs(60));
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn attempts_are_counted_from_one() {
        let p = RetryPolicy::default();
        assert!(p.should_retry(1));
        assert!(p.should_retry(9));
        assert!(!p.should_retry(10));
        let p = RetryPolicy { max_attempts: 1, ..p };
        assert!(!p.should_retry(1));
    }

    #[test]
    fn zero_base_means_no_wait() {
        let p = RetryPolicy { base: Duration::ZERO, ..RetryPolicy::default() };
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(p.delay(5, None, &mut rng), Duration::ZERO);
    }
}
