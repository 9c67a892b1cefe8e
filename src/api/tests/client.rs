//! The HTTP client against tiny servers on 127.0.0.1:0 (axum, or raw TCP for
//! connections that die): every status class, headers, timeouts, redirects.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use batchport_api::client::{Client, ClientError, Credentials, Outcome};
use batchport_api::wire::ApiError;
use batchport_api::{Endpoint, Version};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const REST_KEY: &str = "rest_0123456789abcdef_SECRET";
const PROJECT_KEY: &str = "project_0664hxSECRET";

fn creds() -> Credentials {
    Credentials { rest_key: REST_KEY.into(), project_key: PROJECT_KEY.into() }
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
async fn answering(status: u16, headers: &'static [(&'static str, &'static str)], body: &'static str) -> Client {
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
    assert_eq!(out, Outcome::Ok { status: 202, body: Bytes::from_static(br#"{"code":"SUCCESS"}"#) });
}

#[tokio::test]
async fn too_many_requests_is_retry_with_its_retry_after() {
    let c =
        answering(429, &[("retry-after", "3")], r#"{"error_code":"TOO_MANY_REQUESTS","error_message":"slow down"}"#)
            .await;
    match c.post(Endpoint::ProfilesUpdate, Bytes::from_static(b"[]")).await {
        Outcome::Retry { status, retry_after, reason } => {
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
    assert!(matches!(out, Outcome::Retry { status: Some(503), retry_after: None, .. }), "{out:?}");
}

#[tokio::test]
async fn bad_request_is_rejected_with_the_parsed_error() {
    let body = r#"{"error_code":"MALFORMED_JSON_BODY","error_message":"Unexpected token"}"#;
    let c = answering(400, &[("content-type", "application/json")], body).await;
    let out = c.post(Endpoint::ProfilesUpdate, b"[".to_vec()).await;
    let expected = ApiError { error_code: "MALFORMED_JSON_BODY".into(), error_message: "Unexpected token".into() };
    assert_eq!(out, Outcome::Rejected { status: 400, error: Some(expected), body: body.into() });
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
    let out = c.post(Endpoint::ProfilesMassUpdate, br#"[{"identifiers":{"custom_id":"u1"}}]"#.to_vec()).await;
    assert!(matches!(out, Outcome::Ok { status: 202, .. }), "{out:?}");
    let (headers, body) = seen.lock().unwrap().take().unwrap();
    assert_eq!(headers[header::AUTHORIZATION], format!("Bearer {REST_KEY}").as_str());
    assert_eq!(headers["x-batch-project"], PROJECT_KEY);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(body, Bytes::from_static(br#"[{"identifiers":{"custom_id":"u1"}}]"#));
}

#[tokio::test]
async fn get_sends_its_query() {
    let app = Router::new().route(
        "/2.11/exports/view",
        get(|axum::extract::RawQuery(q): axum::extract::RawQuery| async move { q.unwrap_or_default() }),
    );
    let c = client(&serve(app).await);
    match c.get(Endpoint::ExportsView, &[("id", "export_1"), ("x", "a b")]).await {
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
    assert!(matches!(out, Outcome::Retry { status: None, .. }), "{out:?}");
}

#[tokio::test]
async fn download_link_is_the_location_of_the_redirect() {
    let app = Router::new().route(
        "/2.11/exports/download",
        get(|axum::extract::RawQuery(q): axum::extract::RawQuery| async move {
            match q.as_deref() {
                Some("id=file_1") => (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, "https://files.example.com/file_1.json?sig=abc")],
                )
                    .into_response(),
                _ => (StatusCode::NOT_FOUND, r#"{"error_code":"NOT_FOUND","error_message":"no such file"}"#)
                    .into_response(),
            }
        }),
    );
    let c = client(&serve(app).await);
    assert_eq!(c.download_link("file_1").await.unwrap(), "https://files.example.com/file_1.json?sig=abc");
    match c.download_link("file_2").await {
        Err(Outcome::Rejected { status: 404, error: Some(e), .. }) => assert_eq!(e.error_code, "NOT_FOUND"),
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
    assert!(!shown.contains(REST_KEY) && !shown.contains(PROJECT_KEY), "{shown}");
    assert!(shown.contains("***"));
    let shown = format!("{:?}", client("https://api.batch.com"));
    assert!(!shown.contains("SECRET"), "{shown}");
    let bad = Credentials { rest_key: "bad\nSECRET".into(), project_key: PROJECT_KEY.into() };
    let err = Client::new("https://api.batch.com", Version::CURRENT, bad).unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");
}
