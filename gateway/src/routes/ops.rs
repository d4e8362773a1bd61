//! Operational endpoints: liveness, readiness (every downstream answers
//! gRPC health), Prometheus metrics.
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use crate::AppState;

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let health = state.downstream.health().await;
    let ready = health.iter().all(|(_, serving)| *serving);
    let services: Map<String, Value> = health
        .into_iter()
        .map(|(name, serving)| (name.to_owned(), json!(if serving { "SERVING" } else { "NOT_SERVING" })))
        .collect();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({ "status": if ready { "ready" } else { "not ready" }, "services": services })))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
