//! The retry driver on paused time: backoff, the `Retry-After` cap,
//! cancellation during every kind of wait, fail-fast on a first connection
//! error, and the policy's arithmetic with seeded RNGs.

use super::*;
use batchport_api::limits::{Rate, RateUnit};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::time::Instant;

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

#[test]
fn retry_after_is_capped() {
    let p = RetryPolicy { base: Duration::ZERO, ..RetryPolicy::default() };
    let mut rng = StdRng::seed_from_u64(1);
    assert_eq!(p.delay(1, Some(Duration::from_secs(86_400)), &mut rng), RETRY_AFTER_CAP);
    assert_eq!(p.delay(1, Some(Duration::from_secs(3)), &mut rng), Duration::from_secs(3));
}

/// A logic over scripted results: `Ok(v)` done, `Err(t)` retry.
struct Script;

impl RetryLogic for Script {
    type Input = Result<u32, Transient>;
    type Output = u32;
    type Error = String;
    fn classify(&self, input: Self::Input) -> Action<u32, String> {
        match input {
            Ok(v) => Action::Done(v),
            Err(t) => Action::Retry(t),
        }
    }
}

fn throttled(retry_after: Option<Duration>) -> Transient {
    Transient { status: Some(429), retry_after, reason: "HTTP 429".into(), connect: false }
}

fn refused() -> Transient {
    Transient { status: None, retry_after: None, reason: "could not connect: refused".into(), connect: true }
}

/// Drive `script` to its end; what it returned and how long it took.
async fn drive(driver: &Driver, script: Vec<Result<u32, Transient>>) -> (Result<u32, Stop<String>>, Duration) {
    let script = Mutex::new(VecDeque::from(script));
    let start = Instant::now();
    let got = driver.call(&Script, 1, || async { script.lock().unwrap().pop_front().expect("script too short") }).await;
    (got, start.elapsed())
}

fn driver(cancel: &CancellationToken) -> Driver {
    Driver::new(RetryPolicy::default(), Limiter::unlimited(), cancel.clone())
}

#[tokio::test(start_paused = true)]
async fn a_day_long_retry_after_is_waited_for_one_minute_and_reaches_the_limiter() {
    let cancel = CancellationToken::new();
    let rates = [Rate { unit: RateUnit::Requests, per_second: 100, burst: 100 }];
    let d = Driver::new(RetryPolicy::default(), Limiter::new(&rates, None), cancel.clone());
    let (got, took) = drive(&d, vec![Err(throttled(Some(Duration::from_secs(86_400)))), Ok(7)]).await;
    assert_eq!(got, Ok(7));
    assert!(took >= RETRY_AFTER_CAP && took < RETRY_AFTER_CAP + Duration::from_secs(2), "{took:?}");
    assert_eq!(d.stats().http_429.load(Relaxed), 1);
    assert_eq!((d.stats().requests.load(Relaxed), d.stats().retries.load(Relaxed)), (2, 1));
    assert!(d.limiter().current_rate() < 100.0, "the 429 slowed the limiter down");
}

#[tokio::test(start_paused = true)]
async fn cancelling_ends_a_retry_after_wait_at_once() {
    let cancel = CancellationToken::new();
    let d = driver(&cancel);
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        c.cancel();
    });
    let (got, took) = drive(&d, vec![Err(throttled(Some(Duration::from_secs(30)))), Ok(1)]).await;
    assert_eq!(got, Err(Stop::Cancelled));
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn cancelling_ends_a_backoff_wait_at_once() {
    let cancel = CancellationToken::new();
    let policy = RetryPolicy { base: Duration::from_secs(40), ..RetryPolicy::default() };
    let d = Driver::new(policy, Limiter::unlimited(), cancel.clone());
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        c.cancel();
    });
    let t = Transient { status: Some(503), retry_after: None, reason: "HTTP 503".into(), connect: false };
    let script = vec![Err(t.clone()), Err(t.clone()), Err(t.clone()), Err(t), Ok(1)];
    let (got, took) = drive(&d, script).await;
    assert_eq!(got, Err(Stop::Cancelled));
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn cancelling_ends_a_limiter_wait_at_once() {
    let cancel = CancellationToken::new();
    // One request per 100 s: the second call waits in the limiter.
    let rates = [Rate { unit: RateUnit::Requests, per_second: 1, burst: 1 }];
    let slow = Limiter::new(&rates, Some(0));
    assert!(slow.rates().is_empty());
    let limiter = Limiter::new(&rates, None);
    limiter.on_throttled(Some(Duration::from_secs(100)));
    let d = Driver::new(RetryPolicy::default(), limiter, cancel.clone());
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        c.cancel();
    });
    let (got, took) = drive(&d, vec![Ok(1)]).await;
    assert_eq!(got, Err(Stop::Cancelled));
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(d.stats().requests.load(Relaxed), 0, "nothing was sent");
}

#[tokio::test(start_paused = true)]
async fn a_first_connection_error_fails_fast_and_later_ones_are_retried() {
    let cancel = CancellationToken::new();
    let d = driver(&cancel);
    let (got, took) = drive(&d, vec![Err(refused()), Ok(1)]).await;
    assert!(matches!(got, Err(Stop::Unreachable { .. })), "{got:?}");
    assert!(took < Duration::from_millis(1), "{took:?}");
    let message = got.unwrap_err().to_string();
    assert!(message.contains("cannot reach the API") && message.contains("resumed"), "{message}");

    // Once the server has answered, a refused connection is a passing failure.
    let d = driver(&cancel);
    assert_eq!(drive(&d, vec![Ok(1)]).await.0, Ok(1));
    let (got, _) = drive(&d, vec![Err(refused()), Err(refused()), Ok(2)]).await;
    assert_eq!(got, Ok(2));
    assert_eq!(d.stats().retries.load(Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn retries_end_after_the_policy_s_attempts() {
    let cancel = CancellationToken::new();
    let d = Driver::new(RetryPolicy { max_attempts: 3, ..RetryPolicy::default() }, Limiter::unlimited(), cancel);
    let t = Transient { status: Some(500), retry_after: None, reason: "HTTP 500".into(), connect: false };
    let (got, _) = drive(&d, vec![Err(t.clone()), Err(t.clone()), Err(t)]).await;
    assert_eq!(got, Err(Stop::GaveUp { attempts: 3, last: "HTTP 500".into() }));
}

/// A logic whose answers Batch refused (`Err`): done, never accepted.
struct Refusing;

impl RetryLogic for Refusing {
    type Input = Result<u32, u32>;
    type Output = u32;
    type Error = String;
    fn classify(&self, input: Self::Input) -> Action<u32, String> {
        match input {
            Ok(v) => Action::Done(v),
            Err(v) => Action::Refused(v),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn refused_calls_are_not_counted_as_accepted_updates() {
    let cancel = CancellationToken::new();
    let d = std::sync::Arc::new(driver(&cancel));
    // A call of 1,024 updates refused (then split), a half refused, the other accepted.
    // Each in a task of its own, as the sender's calls are (grants are per task).
    for (cost, answer) in [(1_024, Err(0)), (512, Err(1)), (511, Ok(2))] {
        let d = d.clone();
        let got = tokio::spawn(async move { d.call(&Refusing, cost, || async { answer }).await }).await.unwrap();
        assert_eq!(got, Ok(answer.unwrap_or_else(|v| v)));
    }
    assert_eq!(d.limiter().sending().unwrap().updates, 511);
    assert_eq!(d.stats().requests.load(Relaxed), 3, "every call is still a request");
}
