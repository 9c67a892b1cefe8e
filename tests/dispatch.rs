//! The network side of the import engine: the rate limiter on paused time, the
//! retry policy with seeded RNGs, and the HTTP client against tiny local servers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use batchport::api::client::{Client, ClientError, Credentials, Outcome};
use batchport::api::limits::{Rate, limits};
use batchport::api::wire::ApiError;
use batchport::api::{Endpoint, Version};
use batchport::dispatch::{Limiter, RetryPolicy};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::time::Instant;

// ---------------------------------------------------------------- limiter

fn rates(endpoint: Endpoint) -> &'static [Rate] {
    limits(Version::CURRENT, endpoint).unwrap().rates
}

/// Runs `tasks` concurrent callers acquiring `updates` each for `span` of
/// (paused) time; returns when each acquire returned, and its size.
async fn drive(
    limiter: &Limiter,
    tasks: usize,
    updates: u32,
    span: Duration,
) -> Vec<(Duration, u32)> {
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
    assert!(
        small.len() <= 5 + 50 && small.len() >= 48,
        "{}",
        small.len()
    );
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
    assert!(
        waited >= Duration::from_secs(19) && waited < Duration::from_millis(19_100),
        "{waited:?}"
    );
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
    let last_5s: f64 = recovering
        .iter()
        .filter(|e| e.0 > Duration::from_secs(15))
        .map(|e| f64::from(e.1))
        .sum();
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

// ---------------------------------------------------------------- retry policy

#[test]
fn retry_delays_stay_within_their_ceiling_and_grow() {
    let policy = RetryPolicy::default();
    let mut rng = StdRng::seed_from_u64(7);
    let mut means = Vec::new();
    for attempt in 1..=10 {
        let ceiling = policy.base * 2u32.pow(attempt - 1);
        let ceiling = ceiling.min(policy.cap);
        let samples: Vec<Duration> = (0..500)
            .map(|_| policy.delay(attempt, None, &mut rng))
            .collect();
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
fn retry_after_is_a_floor() {
    let policy = RetryPolicy::default();
    let mut rng = StdRng::seed_from_u64(1);
    for attempt in 1..5 {
        assert!(
            policy.delay(attempt, Some(Duration::from_secs(3)), &mut rng) >= Duration::from_secs(3)
        );
    }
    // Longer than the cap: still honoured.
    let long = Some(Duration::from_secs(120));
    assert_eq!(policy.delay(9, long, &mut rng), Duration::from_secs(120));
}

#[test]
fn retry_delays_are_deterministic_with_a_seed() {
    let policy = RetryPolicy::default();
    let run = |seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        (1..10)
            .map(|a| policy.delay(a, None, &mut rng))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
    assert!(policy.should_retry(9) && !policy.should_retry(10));
}

// ---------------------------------------------------------------- client

const REST_KEY: &str = "rest_0123456789abcdef_SECRET";
const PROJECT_KEY: &str = "project_0664hxSECRET";

fn creds() -> Credentials {
    Credentials {
        rest_key: REST_KEY.into(),
        project_key: PROJECT_KEY.into(),
    }
}

async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn client(base: &str) -> Client {
    Client::new(base, Version::CURRENT, creds()).unwrap()
}

/// A server whose `/profiles/update` answers `status` with `headers` and `body`.
async fn answering(
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
) -> Client {
    let app = Router::new().route(
        "/2.11/profiles/update",
        post(move || async move {
            let mut map = HeaderMap::new();
            for (k, v) in headers {
                map.insert(*k, v.parse().unwrap());
            }
            (StatusCode::from_u16(status).unwrap(), map, body)
        }),
    );
    client(&serve(app).await)
}

#[tokio::test]
async fn accepted_is_ok_with_the_body() {
    let c = answering(202, &[], r#"{"code":"SUCCESS"}"#).await;
    let out = c.post(Endpoint::ProfilesUpdate, b"[]".to_vec()).await;
    assert_eq!(
        out,
        Outcome::Ok {
            status: 202,
            body: Bytes::from_static(br#"{"code":"SUCCESS"}"#)
        }
    );
}

#[tokio::test]
async fn too_many_requests_is_retry_with_its_retry_after() {
    let c = answering(
        429,
        &[("retry-after", "3")],
        r#"{"error_code":"TOO_MANY_REQUESTS","error_message":"slow down"}"#,
    )
    .await;
    match c
        .post(Endpoint::ProfilesUpdate, Bytes::from_static(b"[]"))
        .await
    {
        Outcome::Retry {
            status,
            retry_after,
            reason,
        } => {
            assert_eq!(status, Some(429));
            assert_eq!(retry_after, Some(Duration::from_secs(3)));
            assert!(reason.contains("slow down"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn maintenance_is_retry() {
    let c = answering(503, &[], "").await;
    let out = c.post(Endpoint::ProfilesUpdate, b"[]".to_vec()).await;
    assert!(
        matches!(
            out,
            Outcome::Retry {
                status: Some(503),
                retry_after: None,
                ..
            }
        ),
        "{out:?}"
    );
}

#[tokio::test]
async fn bad_request_is_rejected_with_the_parsed_error() {
    let body = r#"{"error_code":"MALFORMED_JSON_BODY","error_message":"Unexpected token"}"#;
    let c = answering(400, &[("content-type", "application/json")], body).await;
    let out = c.post(Endpoint::ProfilesUpdate, b"[".to_vec()).await;
    let expected = ApiError {
        error_code: "MALFORMED_JSON_BODY".into(),
        error_message: "Unexpected token".into(),
    };
    assert_eq!(
        out,
        Outcome::Rejected {
            status: 400,
            error: Some(expected),
            body: body.into()
        }
    );
}

#[tokio::test]
async fn bad_key_is_unauthorized() {
    let body = r#"{"error_code":"AUTHENTICATION_INVALID","error_message":"Invalid API key"}"#;
    let c = answering(401, &[], body).await;
    match c.post(Endpoint::ProfilesUpdate, b"[]".to_vec()).await {
        Outcome::Unauthorized { error: Some(e) } => {
            assert_eq!(e.error_code, "AUTHENTICATION_INVALID")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn keys_and_content_type_reach_the_server() {
    let seen: Arc<Mutex<Option<(HeaderMap, Bytes)>>> = Arc::default();
    let store = seen.clone();
    let app = Router::new().route(
        "/2.11/profiles/mass-update",
        post(move |headers: HeaderMap, body: Bytes| async move {
            *store.lock().unwrap() = Some((headers, body));
            (StatusCode::ACCEPTED, r#"{"code":"SUCCESS"}"#)
        }),
    );
    let c = client(&serve(app).await);
    let out = c
        .post(
            Endpoint::ProfilesMassUpdate,
            br#"[{"identifiers":{"custom_id":"u1"}}]"#.to_vec(),
        )
        .await;
    assert!(matches!(out, Outcome::Ok { status: 202, .. }), "{out:?}");
    let (headers, body) = seen.lock().unwrap().take().unwrap();
    assert_eq!(
        headers[header::AUTHORIZATION],
        format!("Bearer {REST_KEY}").as_str()
    );
    assert_eq!(headers["x-batch-project"], PROJECT_KEY);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        body,
        Bytes::from_static(br#"[{"identifiers":{"custom_id":"u1"}}]"#)
    );
}

#[tokio::test]
async fn get_sends_its_query() {
    let app =
        Router::new().route(
            "/2.11/exports/view",
            get(
                |axum::extract::RawQuery(q): axum::extract::RawQuery| async move {
                    q.unwrap_or_default()
                },
            ),
        );
    let c = client(&serve(app).await);
    match c
        .get(Endpoint::ExportsView, &[("id", "export_1"), ("x", "a b")])
        .await
    {
        Outcome::Ok { status: 200, body } => assert_eq!(body, "id=export_1&x=a+b"),
        other => panic!("{other:?}"),
    }
}

/// A raw server that reads one whole request, then closes the connection, at
/// once or after holding it open without answering.
async fn raw_server(hold: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // The test bodies are `[]`: the request is whole once it ends with them.
        while !seen.ends_with(b"[]") {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        if hold {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        drop(socket);
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn connection_dropped_after_the_request_is_unknown() {
    let c = client(&raw_server(false).await);
    let out = c.post(Endpoint::ProfilesUpdate, b"[]".to_vec()).await;
    assert!(matches!(out, Outcome::Unknown { .. }), "{out:?}");
}

#[tokio::test]
async fn no_answer_in_time_is_unknown() {
    let c = client(&raw_server(true).await).with_timeout(Duration::from_millis(300));
    let out = c.post(Endpoint::ProfilesUpdate, b"[]".to_vec()).await;
    match out {
        Outcome::Unknown { reason } => assert!(reason.contains("in time"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn connection_refused_is_retry() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = client(&format!("http://{addr}"));
    let out = c.post(Endpoint::ProfilesUpdate, b"[]".to_vec()).await;
    assert!(
        matches!(out, Outcome::Retry { status: None, .. }),
        "{out:?}"
    );
}

#[tokio::test]
async fn download_link_is_the_location_of_the_redirect() {
    let app = Router::new().route(
        "/2.11/exports/download",
        get(
            |axum::extract::RawQuery(q): axum::extract::RawQuery| async move {
                match q.as_deref() {
                    Some("id=file_1") => (
                        StatusCode::TEMPORARY_REDIRECT,
                        [(
                            header::LOCATION,
                            "https://files.example.com/file_1.json?sig=abc",
                        )],
                    )
                        .into_response(),
                    _ => (
                        StatusCode::NOT_FOUND,
                        r#"{"error_code":"NOT_FOUND","error_message":"no such file"}"#,
                    )
                        .into_response(),
                }
            },
        ),
    );
    let c = client(&serve(app).await);
    assert_eq!(
        c.download_link("file_1").await.unwrap(),
        "https://files.example.com/file_1.json?sig=abc"
    );
    match c.download_link("file_2").await {
        Err(Outcome::Rejected {
            status: 404,
            error: Some(e),
            ..
        }) => assert_eq!(e.error_code, "NOT_FOUND"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let err = Client::new("http://example.com", Version::CURRENT, creds()).unwrap_err();
    assert!(matches!(err, ClientError::Insecure(_)), "{err:?}");
    assert!(err.to_string().contains("https://"), "{err}");
    assert!(Client::new("http://127.0.0.1:9", Version::CURRENT, creds()).is_ok());
}

#[test]
fn keys_never_show_in_debug_output() {
    let shown = format!("{:?}", creds());
    assert!(
        !shown.contains(REST_KEY) && !shown.contains(PROJECT_KEY),
        "{shown}"
    );
    assert!(shown.contains("***"));
    let shown = format!("{:?}", client("https://api.batch.com"));
    assert!(!shown.contains("SECRET"), "{shown}");
    let bad = Credentials {
        rest_key: "bad\nSECRET".into(),
        project_key: PROJECT_KEY.into(),
    };
    let err = Client::new("https://api.batch.com", Version::CURRENT, bad).unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");
}
