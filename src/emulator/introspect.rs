//! Unauthenticated routes for tests and rehearsals: counters, per-profile state,
//! received counts, silently dropped IDs, reset, storms; and the download links of export files.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::exports;
use super::server::{Shared, bad_request, error, lock};

type S = State<Arc<Shared>>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/stats", get(|State(s): S| async move { Json(s.stats()) }))
        .route("/_emulator/profiles/{id}", get(profile))
        .route("/_emulator/received", get(received_all))
        .route("/_emulator/dropped", get(|State(s): S| async move { Json(s.losses.ids()) }))
        .route("/_emulator/received/{id}", get(received))
        .route("/_emulator/audiences/{name}", get(audience))
        .route(
            "/_emulator/reset",
            post(|State(s): S| async move {
                s.reset();
                StatusCode::NO_CONTENT
            }),
        )
        .route("/_emulator/storm", post(storm))
        .route("/_files/{token}", get(|State(s): S, Path(t): Path<String>| async move { exports::file(&s, &t) }))
}

async fn profile(State(s): S, Path(id): Path<String>) -> Response {
    match s.store.profile(&id) {
        Some(p) => Json(p).into_response(),
        None => error(StatusCode::NOT_FOUND, "NOT_FOUND", format!("no profile `{id}`")),
    }
}

async fn received(State(s): S, Path(id): Path<String>) -> Json<serde_json::Value> {
    Json(json!({ "count": s.store.received(&id) }))
}

async fn received_all(State(s): S) -> Response {
    let body = tokio::task::spawn_blocking(move || s.store.received_json()).await.unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn audience(State(s): S, Path(name): Path<String>) -> Response {
    match lock(&s.audiences).ids(&name) {
        Some(ids) => Json(json!({ "name": name, "ids": ids })).into_response(),
        None => error(StatusCode::NOT_FOUND, "NOT_FOUND", format!("no audience `{name}`")),
    }
}

async fn storm(State(s): S, Query(q): Query<HashMap<String, String>>) -> Response {
    match q.get("seconds").and_then(|v| v.parse::<f64>().ok()) {
        Some(secs) if secs.is_finite() && secs >= 0.0 => {
            s.trigger_storm(Duration::from_secs_f64(secs));
            StatusCode::NO_CONTENT.into_response()
        }
        _ => bad_request("seconds=N is required"),
    }
}
