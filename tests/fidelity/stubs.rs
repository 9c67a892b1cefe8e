//! Answers the emulator does not give but Batch (or a proxy) may: a 413 for one
//! oversized operation, a 400 for a missing audience. Tiny axum servers on
//! 127.0.0.1:0 stand in for Batch; the real binary runs against them.

use super::{cmd, job, summary};
use crate::common::write;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// Serve `app` on its own runtime; the address and the runtime (kept alive).
fn spawn(app: Router) -> (String, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), rt)
}

fn err(status: StatusCode, code: &str, message: &str) -> (StatusCode, axum::Json<Value>) {
    (status, axum::Json(json!({"error_code": code, "error_message": message})))
}

#[test]
fn one_operation_over_the_body_limit_is_rejected_with_its_line_and_the_run_goes_on() {
    let received = Arc::new(AtomicUsize::new(0));
    let seen = received.clone();
    let app = Router::new().route(
        "/2.11/profiles/update",
        post(move |body: Bytes| async move {
            if body.len() > 4_096 {
                return err(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "request body too large");
            }
            let ops: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
            seen.fetch_add(ops.len(), Relaxed);
            (StatusCode::ACCEPTED, axum::Json(json!({"code": "SUCCESS"})))
        }),
    );
    let (url, _rt) = spawn(app);
    let dir = tempfile::tempdir().unwrap();
    let cols: Vec<String> = (0..20).map(|i| format!("b{i}")).collect();
    let mut f = format!("id,a,{}\n", cols.join(","));
    for i in 0..21 {
        let big = if i == 4 { "x".repeat(300) } else { String::new() };
        f.push_str(&format!("u{i},small,{}\n", vec![big; 20].join(",")));
    }
    write(dir.path(), "u.csv", f);
    let attrs: String = cols.iter().map(|c| format!("{c} = \"{c}\"\n")).collect();
    let mapping = format!("[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\na = \"a\"\n{attrs}");
    job(dir.path(), "j.toml", "profiles", &url, "endpoint = \"update\"", "u.csv", &mapping);
    let s = summary(&cmd(dir.path(), "run", "j.toml"), 3);
    assert_eq!((s["rows_sent"].as_u64(), s["rows_rejected"].as_u64()), (Some(20), Some(1)), "{s}");
    assert_eq!(received.load(Relaxed), 20);
    let rejects = super::report_rows(dir.path(), &s, "rejects_file");
    let r = &rejects[1];
    assert_eq!(r[r.len() - 3], "6", "the line of the oversized row");
    assert!(r[r.len() - 1].contains("413"), "{r:?}");
}

#[test]
fn a_missing_audience_answered_400_is_created() {
    let created = Arc::new(AtomicBool::new(false));
    let ids = Arc::new(AtomicUsize::new(0));
    let (c1, c2, n1, n2) = (created.clone(), created.clone(), ids.clone(), ids.clone());
    let app = Router::new()
        .route(
            "/2.11/audiences/view",
            get(move |Query(q): Query<HashMap<String, String>>| async move {
                if !c1.load(Relaxed) {
                    // Not documented: a 400 rather than a 404.
                    return err(StatusCode::BAD_REQUEST, "BAD_REQUEST", "Audience not found");
                }
                let state = if q.contains_key("indexing_token") { "APPLIED" } else { "IN_PROGRESS" };
                let nb = n1.load(Relaxed);
                (StatusCode::OK, axum::Json(json!({"name": "vip", "indexing_state": state, "nb_ids": nb})))
            }),
        )
        .route(
            "/2.11/audiences/create",
            post(move || async move {
                c2.store(true, Relaxed);
                (StatusCode::ACCEPTED, axum::Json(json!({"indexing_token": "t0"})))
            }),
        )
        .route(
            "/2.11/audiences/update",
            post(move |body: Bytes| async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                n2.fetch_add(v["ids"].as_array().map_or(0, Vec::len), Relaxed);
                (StatusCode::ACCEPTED, axum::Json(json!({"indexing_token": "t1"})))
            }),
        );
    let (url, _rt) = spawn(app);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", "user\nu1\nu2\nu3\n");
    let rest = "[audience]\nname = \"vip\"\ncreate = true\n[mapping]\ncustom_id = \"user\"\n";
    job(dir.path(), "a.toml", "audience", &url, "", "a.csv", rest);
    let s = summary(&cmd(dir.path(), "run", "a.toml"), 0);
    assert!(created.load(Relaxed));
    assert!(s["note"].as_str().unwrap_or_default().contains("3 ids"), "{s}");
}

#[test]
fn a_catalog_not_found_on_edit_fails_the_job_without_splitting() {
    let edits = Arc::new(AtomicUsize::new(0));
    let seen = edits.clone();
    let app = Router::new()
        .route(
            "/2.11/catalogs/view",
            get(|| async {
                let fields = json!([{"name": "title", "type": "string"}]);
                (StatusCode::OK, axum::Json(json!({"name": "products", "fields": fields, "indexing_state": "APPLIED"})))
            }),
        )
        .route(
            "/2.11/catalogs/items/edit",
            post(move || async move {
                seen.fetch_add(1, Relaxed);
                err(StatusCode::BAD_REQUEST, "CATALOG_NOT_FOUND", "catalog not found")
            }),
        );
    let (url, _rt) = spawn(app);
    let dir = tempfile::tempdir().unwrap();
    let mut f = String::from("sku,title\n");
    for i in 0..600 {
        f.push_str(&format!("s{i},T{i}\n"));
    }
    write(dir.path(), "c.csv", f);
    let rest =
        "[catalog]\nname = \"products\"\n[mapping]\nitem_id = \"sku\"\n[mapping.attributes]\ntitle = \"title\"\n";
    job(dir.path(), "c.toml", "catalog", &url, "", "c.csv", rest);
    let out = cmd(dir.path(), "run", "c.toml");
    assert_eq!(out.status.code(), Some(1));
    let s = crate::common::json(&out);
    assert!(s["error"].as_str().unwrap_or_default().contains("does not exist"), "{s}");
    // At most the calls in flight (2), never ~400 split calls per batch.
    assert!(edits.load(Relaxed) <= 3, "{} edit calls", edits.load(Relaxed));
}
