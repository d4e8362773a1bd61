//! The contract's transport conventions, applied around every route:
//! a path without its trailing slash is served as if it had one (no
//! redirect, so POST bodies survive), and unknown routes and wrong verbs
//! answer with DRF's JSON bodies instead of empty ones.
use axum::extract::Request;
use axum::http::{StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use crate::error::json_response;

/// Paths served as they are: operational endpoints, Swagger UI's and the
/// console's assets.
fn keeps_its_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
        || path.starts_with("/api/docs")
        || path.starts_with("/admin/static/")
}

/// Appends the trailing slash the routes are registered with.
pub fn add_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.ends_with('/') || keeps_its_path(path) {
        return request;
    }
    let with_slash = match request.uri().query() {
        Some(query) => format!("{path}/?{query}"),
        None => format!("{path}/"),
    };
    if let Ok(uri) = with_slash.parse::<Uri>() {
        *request.uri_mut() = uri;
    }
    request
}

/// Gives 405s (and any other bodiless error) a DRF JSON body; the
/// console's HTML error pages stay as they are.
pub async fn json_error_bodies(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    let content_type = response.headers().get(header::CONTENT_TYPE).map(|v| v.as_bytes()).unwrap_or_default();
    let is_json = content_type.starts_with(b"application/json") || content_type.starts_with(b"text/html");
    if is_json || !(response.status().is_client_error() || response.status().is_server_error()) {
        return response;
    }
    let detail = match response.status() {
        StatusCode::METHOD_NOT_ALLOWED => format!("Method \"{method}\" not allowed."),
        StatusCode::NOT_FOUND => "Not found.".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "Request body is larger than 1 MiB.".to_owned(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type in request.".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "The request took too long.".to_owned(),
        status => status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    let (mut parts, _) = response.into_parts();
    let fresh = json_response(parts.status, &json!({ "detail": detail }));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    Response::from_parts(parts, fresh.into_body())
}

/// Unknown routes.
pub async fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, &json!({ "detail": "Not found." }))
}
