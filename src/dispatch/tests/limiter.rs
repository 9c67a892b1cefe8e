//! The shared rate limiter on paused time: the quota is sustained and never
//! exceeded in any window, 429s slow everyone down, and the rate recovers;
//! then whole scenarios against a simulated Batch with network jitter (`sim`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use batchport_api::limits::{Rate, limits};
use batchport_api::{Endpoint, Version};
use batchport_dispatch::Limiter;
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
    // Half the bucket at once (Batch's may be partly drained), then the refill.
    assert_eq!(events.iter().filter(|e| e.0.is_zero()).count(), 2);
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
    // 500 updates/s on mass-update: planned 497/s, the burst scales to 500.
    let limiter = Limiter::new(rates(Endpoint::ProfilesMassUpdate), Some(500));
    assert_eq!((limiter.rates()[0].per_second, limiter.rates()[0].burst), (497, 500));
    let start = Instant::now();
    limiter.acquire(10_000).await;
    let waited = start.elapsed().as_secs_f64();
    // 250 in hand (half the bucket), 9,750 at 497/s.
    assert!((waited - 9_750.0 / 497.0).abs() < 0.01, "{waited}");
}

#[tokio::test(start_paused = true)]
async fn a_429_within_the_rate_is_noise_a_short_pause_and_a_fast_recovery() {
    let limiter = Limiter::new(rates(Endpoint::ProfilesMassUpdate), None);
    drive(&limiter, 2, 5_000, Duration::from_secs(5)).await;
    assert_eq!(limiter.current_rate(), 9_950.0);

    limiter.on_throttled(None);
    assert!((limiter.current_rate() - 9_950.0 * 0.95).abs() < 1e-6);
    let t = Instant::now();
    limiter.acquire(5_000).await;
    // The bucket was emptied: the next call waits for its refill, plus at
    // most a short pause; not seconds.
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(500) && waited <= Duration::from_millis(800), "{waited:?}");
    limiter.on_success();
    drive(&limiter, 2, 5_000, Duration::from_secs(4)).await;
    assert_eq!(limiter.current_rate(), 9_950.0, "back at the plan within 3 s");
}

#[tokio::test(start_paused = true)]
async fn a_storm_backs_off_and_a_retry_after_is_honoured() {
    let limiter = Limiter::new(rates(Endpoint::ProfilesMassUpdate), None);
    let t = Instant::now();
    // Every answer a 429 with no success in between: the pauses grow.
    for _ in 0..4 {
        limiter.acquire(5_000).await;
        limiter.on_throttled(None);
    }
    limiter.acquire(5_000).await;
    assert!(t.elapsed() >= Duration::from_millis(1_000 / 2 + 1_000 + 2_000), "{:?}", t.elapsed());
    assert!(limiter.current_rate() <= 9_950.0 / 4.0);
    limiter.on_throttled(Some(Duration::from_secs(7)));
    let t = Instant::now();
    limiter.acquire(1).await;
    assert!(t.elapsed() >= Duration::from_secs(7), "{:?}", t.elapsed());
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

#[tokio::test(start_paused = true)]
async fn the_start_spends_half_a_bucket_not_a_burst_it_cannot_see() {
    let limiter = Limiter::new(rates(Endpoint::ProfilesMassUpdate), None);
    let t = Instant::now();
    limiter.acquire(5_000).await;
    assert_eq!(t.elapsed(), Duration::ZERO, "one half-bucket call at once");
    limiter.acquire(5_000).await;
    let second = t.elapsed().as_secs_f64();
    // The second waits for its tokens at the planned 9,950/s.
    assert!((second - 5_000.0 / 9_950.0).abs() < 1e-3, "{second}");
}

#[tokio::test(start_paused = true)]
async fn sending_counts_the_updates_accepted_and_the_time_spent() {
    let limiter = Limiter::new(rates(Endpoint::ProfilesMassUpdate), None);
    assert_eq!(limiter.sending(), None);
    let tasks: Vec<_> = [(5_000, true), (3_000, true), (5_000, false)]
        .into_iter()
        .map(|(n, ok)| {
            let l = limiter.clone();
            tokio::spawn(async move {
                l.acquire(n).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                if ok { l.on_success() } else { l.on_throttled(None) }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = limiter.sending().unwrap();
    // The refused 5,000 are not counted; the last answer (the 429) came 100 ms
    // after the last grant (8,000 after the first 5,000, at 9,950/s).
    assert_eq!(s.updates, 8_000);
    assert!((s.seconds - (8_000.0 / 9_950.0 + 0.1)).abs() < 1e-3, "{}", s.seconds);
}

// ---- scenarios against a simulated Batch (40–120 ms of jitter each way) ----

use super::sim::{self, Server};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn mass_update_with_jitter_holds_99_percent_without_a_429() {
    let limiter = Limiter::new(rates(Endpoint::ProfilesMassUpdate), None);
    let o = sim::run(&limiter, Server::mass_update(), 600_000, 5_000, 2, 1).await;
    assert_eq!(o.refused.len(), 0, "{:?}", o.refused);
    assert!(o.rate() >= 9_900.0, "{}", o.rate());
}

#[tokio::test(start_paused = true)]
async fn profile_updates_with_jitter_hold_99_percent_without_a_429() {
    let limiter = Limiter::new(rates(Endpoint::ProfilesUpdate), None);
    let o = sim::run(&limiter, Server::profiles_update(), 20_000, 200, 4, 2).await;
    assert_eq!(o.refused.len(), 0, "{:?}", o.refused);
    assert!(o.rate() >= 297.0, "{}", o.rate());
}

#[tokio::test(start_paused = true)]
async fn a_resume_into_a_drained_bucket_costs_at_most_one_429() {
    for seed in 0..5 {
        let limiter = Limiter::new(rates(Endpoint::ProfilesMassUpdate), None);
        // The killed run left Batch's bucket empty.
        let server = Server { start: 0.0, ..Server::mass_update() };
        let o = sim::run(&limiter, server, 300_000, 5_000, 2, seed).await;
        assert!(o.refused_between(Duration::ZERO, 10 * SECOND) <= 1, "seed {seed}: {:?}", o.refused);
        assert!(o.rate() >= 9_750.0, "seed {seed}: {}", o.rate());
    }
}

#[tokio::test(start_paused = true)]
async fn a_shared_quota_is_found_and_held_just_under_without_a_sawtooth() {
    // Another integration takes 3,000/s of the 10,000: 7,000/s are left.
    for seed in 0..4 {
        let limiter = Limiter::new(rates(Endpoint::ProfilesMassUpdate), None);
        let server = Server { shared: 3_000.0, ..Server::mass_update() };
        let o = sim::run(&limiter, server, 1_000_000, 5_000, 2, seed).await;
        assert!(o.refused_share() < 0.02, "seed {seed}: {} of {}: {:?}", o.refused.len(), o.calls(), o.refused);
        assert!(o.rate() >= 0.9 * 7_000.0, "seed {seed}: {}", o.rate());
        // Converged, no sawtooth: every 20 s window of the second half within
        // 85–105% of 7,000 (calls are 5,000: a window holds 26 to 30 of them).
        let end = o.elapsed.as_secs();
        for from in (end / 2..end - 20).step_by(20) {
            let r = o.rate_between(Duration::from_secs(from), Duration::from_secs(from + 20));
            assert!((0.85 * 7_000.0..=1.05 * 7_000.0).contains(&r), "seed {seed}, {from} s: {r}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_rate_set_above_the_real_limit_settles_at_it() {
    let limiter = Limiter::new(rates(Endpoint::ProfilesMassUpdate), Some(20_000));
    let o = sim::run(&limiter, Server::mass_update(), 300_000, 5_000, 2, 4).await;
    assert!(o.rate() >= 9_000.0, "{}", o.rate());
    assert!(o.refused.len() <= 2, "{:?}", o.refused);
}
