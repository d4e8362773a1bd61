//! One span per HTTP request (method, route, status), OpenTelemetry's
//! HTTP server span. It continues the trace of an incoming `traceparent`
//! header — a client's, or the payment provider's on a webhook — and every
//! handler runs inside it, so the downstream gRPC calls (which carry the
//! current span, `common::grpc_client::request`) are its children.
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;

pub async fn trace(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    // Named "METHOD /route/" (just the method for an unknown route, whose
    // path is the client's to choose).
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        "http",
        otel.name = name,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = route,
        http.response.status_code = Empty,
    );
    common::trace_context::continue_from_headers(&span, request.headers());
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}
