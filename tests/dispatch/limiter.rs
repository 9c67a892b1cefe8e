//! The shared rate limiter on paused time: the quota is sustained and never
//! exceeded in any window, 429s slow everyone down, and the rate recovers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use batchport::internals::api::limits::{Rate, limits};
use batchport::internals::api::{Endpoint, Version};
use batchport::internals::dispatch::Limiter;
use tokio::time::Instant;

fn rates(endpoint: Endpoint) -> &'static [Rate] {
    limits(Version::CURRENT, endpoint).unwrap().rates
}

/// Runs `tasks` concurrent callers acquiring `updates` each for `span` of
/// (paused) time; returns when each acquire returned, and its size.
async fn drive(limiter: &Limiter, tasks: usize, updates: u32, span: Duration) -> Vec<(Duration, u32)> {
    let start = Instant::now();
    let admitted = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (limiter, admitted) = (limiter.clone(), admitted.clone());
            tokio::spawn(async move {
                loop {
                    limiter.acquire(updates).await;
                    let at = start.elapsed();
                    if at > span {
                        return;
                    }
                    admitted.lock().unwrap().push((at, updates));
                    limiter.on_success();
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let mut events = admitted.lock().unwrap().clone();
    events.sort();
    events
}

/// A bucket of capacity `burst` refilled at `rate` admits at most
/// `burst + rate * T` in any window of length T: checked on every window that
/// starts and ends on an admission.
fn assert_never_above(events: &[(Duration, u32)], burst: f64, rate: f64) {
    for i in 0..events.len() {
        let mut sum = 0.0;
        for j in i..events.len() {
            sum += f64::from(events[j].1);
            let window = (events[j].0 - events[i].0).as_secs_f64();
            assert!(
                sum <= burst + rate * window + 1e-6,
                "{sum} admitted in {window} s from {:?}: above {burst} + {rate}/s",
                events[i].0
            );
        }
    }
}

fn total(events: &[(Duration, u32)]) -> f64 {
    events.iter().map(|e| f64::from(e.1)).sum()
}

#[tokio::test(start_paused = true)]
async fn mass_update_sustains_the_quota_without_exceeding_it() {
    let limiter = Limiter::new(rates(Endpoint::ProfilesMassUpdate), None);
    let events = drive(&limiter, 4, 10_000, Duration::from_secs(60)).await;
    let admitted = total(&events);
    assert!(admitted <= 10_000.0 + 10_000.0 * 60.0, "{admitted}");
    assert!(admitted >= 0.97 * 10_000.0 * 60.0, "{admitted}");
    assert_never_above(&events, 10_000.0, 10_000.0);
}

#[tokio::test(start_paused = true)]
async fn profile_updates_keep_the_bound_in_every_window() {
    let limiter = Limiter::new(rates(Endpoint::ProfilesUpdate), None);
    let events = drive(&limiter, 4, 200, Duration::from_secs(60)).await;
    assert_never_above(&events, 1_000.0, 300.0);
    // The first burst goes at once, then the refill rate.
    assert_eq!(events.iter().filter(|e| e.0.is_zero()).count(), 5);
    assert!(total(&events) >= 0.97 * 300.0 * 60.0, "{}", total(&events));
}

#[tokio::test(start_paused = true)]
async fn catalogs_are_held_to_requests_and_items_at_once() {
    let limiter = Limiter::new(rates(Endpoint::CatalogItemsEdit), None);
    // One item per call: the 5 requests/s bind.
    let small = drive(&limiter, 2, 1, Duration::from_secs(10)).await;
    assert!(small.len() <= 5 + 50 && small.len() >= 48, "{}", small.len());
    // 200 items per call: the 1,000 items/s bind.
    let limiter = Limiter::new(rates(Endpoint::CatalogItemsEdit), None);
    let big = drive(&limiter, 2, 200, Duration::from_secs(10)).await;
    assert_never_above(&big, 1_000.0, 1_000.0);
    assert!(total(&big) >= 0.97 * 10_000.0, "{}", total(&big));
}

#[tokio::test(start_paused = true)]
async fn a_call_larger_than_the_burst_waits_for_its_tokens() {
    // 500 updates/s on mass-update: the burst scales down to 500.
    let limiter = Limiter::new(rates(Endpoint::ProfilesMassUpdate), Some(500));
    let start = Instant::now();
    limiter.acquire(10_000).await;
    let waited = start.elapsed();
    // 500 at once, then 9,500 at 500/s.
    assert!(waited >= Duration::from_secs(19) && waited < Duration::from_millis(19_100), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn a_429_slows_everyone_down_then_the_rate_recovers() {
    let limiter = Limiter::new(rates(Endpoint::ProfilesMassUpdate), None);
    drive(&limiter, 2, 10_000, Duration::from_secs(5)).await;
    assert_eq!(limiter.current_rate(), 10_000.0);

    limiter.on_throttled(Some(Duration::from_secs(3)));
    assert_eq!(limiter.current_rate(), 5_000.0);
    let paused = Instant::now();
    let slow = drive(&limiter, 2, 10_000, Duration::from_secs(6)).await;
    // Nobody went during the pause.
    assert!(slow[0].0 >= Duration::from_secs(3), "{:?}", slow[0]);
    // In the 3 s after it, well below the quota.
    assert!(total(&slow) <= 2.0 * 10_000.0, "{}", total(&slow));
    assert!(paused.elapsed() >= Duration::from_secs(6));

    // Additive increase: 5% of the quota per second of success.
    let recovering = drive(&limiter, 2, 10_000, Duration::from_secs(20)).await;
    assert_never_above(&recovering, 10_000.0, 10_000.0);
    assert_eq!(limiter.current_rate(), 10_000.0);
    let last_5s: f64 = recovering.iter().filter(|e| e.0 > Duration::from_secs(15)).map(|e| f64::from(e.1)).sum();
    assert!(last_5s >= 40_000.0, "{last_5s}");
}

#[tokio::test(start_paused = true)]
async fn zero_override_means_unlimited() {
    let limiter = Limiter::new(rates(Endpoint::ProfilesUpdate), Some(0));
    let start = Instant::now();
    for _ in 0..1_000 {
        limiter.acquire(10_000).await;
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert!(limiter.current_rate().is_infinite());
    // Signals are accepted and ignored.
    limiter.on_throttled(Some(Duration::from_secs(60)));
    limiter.acquire(1).await;
    assert_eq!(start.elapsed(), Duration::ZERO);
}
