//! The network side of the import engine: the rate limiter on paused time and
//! the retry policy with seeded RNGs (the HTTP client's tests are the API
//! crate's).

mod limiter;
mod sim;

use std::time::Duration;

use batchport_dispatch::RetryPolicy;
use rand::SeedableRng;
use rand::rngs::StdRng;

#[test]
fn retry_delays_stay_within_their_ceiling_and_grow() {
    let policy = RetryPolicy::default();
    let mut rng = StdRng::seed_from_u64(7);
    let mut means = Vec::new();
    for attempt in 1..=10 {
        let ceiling = policy.base * 2u32.pow(attempt - 1);
        let ceiling = ceiling.min(policy.cap);
        let samples: Vec<Duration> = (0..500).map(|_| policy.delay(attempt, None, &mut rng)).collect();
        assert!(samples.iter().all(|d| *d <= ceiling), "attempt {attempt}");
        means.push(samples.iter().sum::<Duration>() / 500);
    }
    assert!(means[0] <= Duration::from_millis(300), "{:?}", means[0]);
    for pair in means.windows(2).take(7) {
        assert!(pair[1] > pair[0], "{means:?}");
    }
    assert!(means[9] <= Duration::from_secs(60) && means[9] >= Duration::from_secs(25));
}

#[test]
fn retry_after_is_a_floor_up_to_its_cap() {
    let policy = RetryPolicy::default();
    let mut rng = StdRng::seed_from_u64(1);
    for attempt in 1..5 {
        assert!(policy.delay(attempt, Some(Duration::from_secs(3)), &mut rng) >= Duration::from_secs(3));
    }
    // Longer than RETRY_AFTER_CAP (issue 16): waited for the cap, not a day.
    let long = Some(Duration::from_secs(86_400));
    let capped = policy.delay(9, long, &mut rng);
    assert!(
        capped >= batchport_dispatch::RETRY_AFTER_CAP.min(policy.cap)
            && capped <= policy.cap.max(batchport_dispatch::RETRY_AFTER_CAP),
        "{capped:?}"
    );
}

#[test]
fn retry_delays_are_deterministic_with_a_seed() {
    let policy = RetryPolicy::default();
    let run = |seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        (1..10).map(|a| policy.delay(a, None, &mut rng)).collect::<Vec<_>>()
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
    assert!(policy.should_retry(9) && !policy.should_retry(10));
}
