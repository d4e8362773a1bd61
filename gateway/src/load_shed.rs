//! Gateway-wide backpressure: at most `max_in_flight` requests are served
//! at once and none for longer than `timeout`. A request over capacity is
//! answered 503 at once (with `Retry-After`), never queued: a queue in
//! front of a saturated gateway only turns overload into latency and
//! memory. A request past its time is cut off with 503 as well.
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::HttpError;

#[derive(Clone)]
pub struct Capacity {
    slots: Arc<Semaphore>,
    timeout: Duration,
}

impl Capacity {
    pub fn new(max_in_flight: usize, timeout: Duration) -> Self {
        Self { slots: Arc::new(Semaphore::new(max_in_flight.max(1))), timeout }
    }
}

fn unavailable(detail: &str, reason: &'static str) -> Response {
    metrics::counter!("gateway_shed_requests_total", "reason" => reason).increment(1);
    HttpError::Plain(StatusCode::SERVICE_UNAVAILABLE, detail.to_owned()).into_response()
}

pub async fn shed(State(capacity): State<Capacity>, request: Request, next: Next) -> Response {
    let Ok(_slot) = capacity.slots.try_acquire() else {
        return unavailable("The server is at capacity; try again shortly.", "capacity");
    };
    match tokio::time::timeout(capacity.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => unavailable("The request took too long; try again later.", "timeout"),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    fn app(capacity: Capacity, gate: Arc<tokio::sync::Notify>) -> Router {
        Router::new()
            .route("/wait/", get(move || async move { gate.notified().await }))
            .route("/now/", get(|| async {}))
            .layer(axum::middleware::from_fn_with_state(capacity, shed))
    }

    fn get_request(path: &str) -> Request {
        Request::builder().uri(path).body(Body::empty()).expect("request")
    }

    #[tokio::test]
    async fn requests_over_capacity_are_shed_at_once_with_retry_after() {
        let gate = Arc::new(tokio::sync::Notify::new());
        let capacity = Capacity::new(1, Duration::from_secs(60));
        let app = app(capacity.clone(), gate.clone());
        let held = tokio::spawn(app.clone().oneshot(get_request("/wait/")));
        while capacity.slots.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let shed = app.clone().oneshot(get_request("/now/")).await.expect("answered");
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()["retry-after"], "1");
        gate.notify_one();
        assert_eq!(held.await.expect("joined").expect("answered").status(), StatusCode::OK);
        assert_eq!(app.oneshot(get_request("/now/")).await.expect("answered").status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_request_past_its_time_is_cut_off() {
        let app = app(Capacity::new(8, Duration::from_millis(20)), Arc::new(tokio::sync::Notify::new()));
        let late = app.oneshot(get_request("/wait/")).await.expect("answered");
        assert_eq!(late.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
