//! The gateway's one error type and its rendering as a DRF body:
//! `{"<field>": [...]}` for validation, else `{"detail": ..., "code"?: ...}`
//! plus any extra members. Status codes follow DESIGN §7; every 401 carries
//! `WWW-Authenticate`, every 429 and 503 `Retry-After`.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::{ApiError, ErrorKind};
use serde_json::{Map, Value, json};

#[derive(Debug)]
pub enum HttpError {
    Api(ApiError),
    /// A transport-level answer with just a detail (413, 415, 405, …).
    Plain(StatusCode, String),
    Throttled {
        retry_after_secs: u64,
    },
}

pub type HttpResult<T> = Result<T, HttpError>;

impl From<ApiError> for HttpError {
    fn from(error: ApiError) -> Self {
        HttpError::Api(error)
    }
}

pub(crate) fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The DRF body of an error.
pub fn drf_body(error: &ApiError) -> Value {
    let mut body = Map::new();
    if !error.fields.is_empty() {
        for (field, messages) in error.fields.iter() {
            body.insert(field.clone(), json!(messages));
        }
        return Value::Object(body);
    }
    body.insert("detail".into(), json!(error.detail));
    if let Some(code) = &error.code {
        body.insert("code".into(), json!(code));
    }
    for (key, value) in &error.extra {
        body.insert(key.clone(), value.clone());
    }
    Value::Object(body)
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

impl HttpError {
    /// The status and DRF body this error answers with.
    pub fn parts(&self) -> (StatusCode, Value) {
        match self {
            HttpError::Api(error) => (status_of(error.kind), drf_body(error)),
            HttpError::Plain(status, detail) => (*status, json!({ "detail": detail })),
            HttpError::Throttled { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({ "detail": format!("Request was throttled. Expected available in {retry_after_secs} seconds.") }),
            ),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let (status, body) = self.parts();
        let mut response = json_response(status, &body);
        match self {
            HttpError::Api(_) if status == StatusCode::UNAUTHORIZED => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"api\""));
            }
            HttpError::Throttled { retry_after_secs } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            // Whatever is unavailable (a service, the password hasher's
            // queue, the gateway's own capacity) is worth retrying soon.
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            }
            _ => {}
        }
        response
    }
}
