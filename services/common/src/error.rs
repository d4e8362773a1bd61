//! The one error type of the marketplace, and its two conversions.
//!
//! A service returns `ApiError`; it travels as a `tonic::Status` whose
//! details carry the field violations (`google.rpc.BadRequest`) and the
//! machine-readable code plus extra values (`google.rpc.ErrorInfo`). The
//! gateway turns the status back into an `ApiError` and renders it as a DRF
//! body, so a field error raised deep in a service reaches the client
//! exactly as it was raised.
use serde_json::Value;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// What went wrong, in the terms both gRPC and HTTP understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Invalid,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    Conflict,
    Unprocessable,
    RateLimited,
    Unavailable,
    Timeout,
    Internal,
}

impl ErrorKind {
    fn grpc_code(self) -> Code {
        match self {
            ErrorKind::Invalid => Code::InvalidArgument,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::Conflict => Code::AlreadyExists,
            ErrorKind::Unprocessable => Code::FailedPrecondition,
            ErrorKind::RateLimited => Code::ResourceExhausted,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::Timeout => Code::DeadlineExceeded,
            ErrorKind::Internal => Code::Internal,
        }
    }

    fn from_grpc_code(code: Code, message: &str) -> Self {
        match code {
            Code::InvalidArgument | Code::OutOfRange => ErrorKind::Invalid,
            Code::Unauthenticated => ErrorKind::Unauthenticated,
            Code::PermissionDenied => ErrorKind::PermissionDenied,
            Code::NotFound => ErrorKind::NotFound,
            Code::AlreadyExists | Code::Aborted => ErrorKind::Conflict,
            Code::FailedPrecondition => ErrorKind::Unprocessable,
            Code::ResourceExhausted => ErrorKind::RateLimited,
            Code::Unavailable => ErrorKind::Unavailable,
            Code::DeadlineExceeded => ErrorKind::Timeout,
            // tonic reports its own client-side deadline as a cancellation.
            Code::Cancelled if message.contains("Timeout expired") => ErrorKind::Timeout,
            // The connection broke mid-call (a replica killed or restarted
            // while it answered): tonic names the HTTP/2 reset "Internal"
            // or "Unknown", but no server said so; as with any transport
            // failure, whether the call took effect is unknown.
            Code::Internal | Code::Unknown if is_broken_transport(message) => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

/// Whether tonic's message says the call's connection broke, not the server.
fn is_broken_transport(message: &str) -> bool {
    message.starts_with("h2 protocol error")
        || message.starts_with("transport error")
        || message.contains("error reading a body from connection")
}

/// Messages per field, in the order they were found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, Vec<String>)>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.0.iter_mut().find(|(f, _)| f == field) {
            Some((_, messages)) => messages.push(message),
            None => self.0.push((field.to_owned(), vec![message])),
        }
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(f, _)| f == field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(String, Vec<String>)> {
        self.0.iter()
    }

    /// `Ok(())` when nothing was found, else a validation error.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() { Ok(()) } else { Err(ApiError::validation(self)) }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub detail: String,
    pub code: Option<String>,
    pub fields: FieldErrors,
    /// Extra members of the error body, e.g. `"products": [3, 7]`.
    pub extra: Vec<(String, Value)>,
}

pub const NOT_FOUND: &str = "Not found.";
pub const NO_PERMISSION: &str = "You do not have permission to perform this action.";
pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
pub const TOKEN_NOT_VALID: &str = "Given token not valid for any token type";

impl ApiError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into(), code: None, fields: FieldErrors::default(), extra: Vec::new() }
    }

    pub fn with_code(mut self, code: &str) -> Self {
        self.code = Some(code.to_owned());
        self
    }

    pub fn with_extra(mut self, key: &str, value: Value) -> Self {
        self.extra.push((key.to_owned(), value));
        self
    }

    pub fn validation(fields: FieldErrors) -> Self {
        Self { fields, ..Self::new(ErrorKind::Invalid, "Invalid input.") }
    }

    /// One message on one field: `{"<field>": ["<message>"]}`.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        fields.add(field, message);
        Self::validation(fields)
    }

    /// A 400 not tied to a field: `{"detail": ..., "code": ...}`.
    pub fn bad_request(detail: impl Into<String>, code: &str) -> Self {
        Self::new(ErrorKind::Invalid, detail).with_code(code)
    }

    pub fn not_authenticated() -> Self {
        Self::new(ErrorKind::Unauthenticated, NOT_AUTHENTICATED)
    }

    pub fn token_not_valid() -> Self {
        Self::new(ErrorKind::Unauthenticated, TOKEN_NOT_VALID).with_code("token_not_valid")
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorKind::PermissionDenied, NO_PERMISSION)
    }

    pub fn not_found() -> Self {
        Self::new(ErrorKind::NotFound, NOT_FOUND)
    }

    pub fn conflict(detail: impl Into<String>, code: &str) -> Self {
        Self::new(ErrorKind::Conflict, detail).with_code(code)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, detail)
    }

    /// A failure that is ours, not the client's: logged in full, shown as a
    /// generic message.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(ErrorKind::Internal, "A server error occurred.")
    }

    pub fn into_status(self) -> Status {
        let mut details = ErrorDetails::new();
        for (field, messages) in self.fields.iter() {
            for message in messages {
                details.add_bad_request_violation(field.clone(), message.clone());
            }
        }
        if self.code.is_some() || !self.extra.is_empty() {
            let metadata =
                self.extra.iter().map(|(k, v)| (k.clone(), v.to_string())).collect::<std::collections::HashMap<_, _>>();
            details.set_error_info(self.code.clone().unwrap_or_default(), "marketplace", metadata);
        }
        Status::with_error_details(self.kind.grpc_code(), self.detail, details)
    }

    pub fn from_status(status: &Status) -> Self {
        let kind = ErrorKind::from_grpc_code(status.code(), status.message());
        let mut error = Self::new(kind, status.message());
        if kind == ErrorKind::Unavailable {
            error.detail = "Service temporarily unavailable, try again later.".into();
        }
        if kind == ErrorKind::Timeout {
            error.detail = "The service did not answer in time.".into();
        }
        let details = status.get_error_details();
        if let Some(bad_request) = details.bad_request() {
            for violation in &bad_request.field_violations {
                error.fields.add(&violation.field, violation.description.clone());
            }
        }
        if let Some(info) = details.error_info() {
            if !info.reason.is_empty() {
                error.code = Some(info.reason.clone());
            }
            let mut extra: Vec<_> = info
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()))))
                .collect();
            extra.sort_by(|a, b| a.0.cmp(&b.0));
            error.extra = extra;
        }
        error
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        error.into_status()
    }
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        ApiError::from_status(&status)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::internal(error)
    }
}

/// The name of the unique key a MySQL/MariaDB duplicate-entry error broke,
/// so a lost uniqueness race becomes a client error instead of a 500.
fn unique_violation(error: &sqlx::Error) -> Option<String> {
    if crate::db::error_number(error)? != crate::db::ER_DUP_ENTRY {
        return None;
    }
    // MariaDB names the key `k`, MySQL 8 `table.k`.
    let message = error.as_database_error()?.message();
    let start = message.rfind("for key '")? + "for key '".len();
    let key = message[start..].trim_end_matches('\'');
    Some(key.rsplit('.').next().unwrap_or(key).to_owned())
}

/// The unique keys of one store's schema, each key's name written once:
/// a store declares them as an enum and its callers match on the enum.
pub trait UniqueKey: Sized + Copy + 'static {
    const NAMES: &'static [(&'static str, Self)];

    /// The key this duplicate-entry error broke, if it is one of ours.
    fn broken_by(error: &sqlx::Error) -> Option<Self> {
        let name = unique_violation(error)?;
        Self::NAMES.iter().find(|(known, _)| *known == name).map(|(_, key)| *key)
    }
}

/// What a store's write reports: a unique key it broke (a race the caller
/// answers as the client's mistake, in its own words), or anything else.
/// Stores say which key, never what to tell the client.
#[derive(Debug)]
pub enum StoreError<K> {
    Duplicate(K),
    /// A foreign key named a row that does not exist (deleted meanwhile).
    MissingReference,
    Failed(ApiError),
}

impl<K: UniqueKey> From<sqlx::Error> for StoreError<K> {
    fn from(error: sqlx::Error) -> Self {
        if let Some(key) = K::broken_by(&error) {
            return StoreError::Duplicate(key);
        }
        match crate::db::error_number(&error) {
            Some(crate::db::ER_NO_REFERENCED_ROW) => StoreError::MissingReference,
            _ => StoreError::Failed(error.into()),
        }
    }
}

impl<K> From<ApiError> for StoreError<K> {
    fn from(error: ApiError) -> Self {
        StoreError::Failed(error)
    }
}

/// Turns a store's typed result into the caller's: each broken key
/// becomes the error `on_duplicate` words for it (realworld-axum-sqlx's
/// `on_constraint`, with the key typed).
pub trait OnDuplicate<T, K> {
    fn on_duplicate(self, on_duplicate: impl FnOnce(K) -> ApiError) -> Result<T, ApiError>;
}

impl<T, K> OnDuplicate<T, K> for Result<T, StoreError<K>> {
    fn on_duplicate(self, on_duplicate: impl FnOnce(K) -> ApiError) -> Result<T, ApiError> {
        self.map_err(|error| match error {
            StoreError::Duplicate(key) => on_duplicate(key),
            StoreError::MissingReference => ApiError::internal("a write named a row that does not exist"),
            StoreError::Failed(error) => error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_broken_mid_call_is_unavailable_not_internal() {
        let reset = Status::internal("h2 protocol error: stream no longer needed");
        assert_eq!(ApiError::from_status(&reset).kind, ErrorKind::Unavailable);
        let lost = Status::unknown("error reading a body from connection: connection reset");
        assert_eq!(ApiError::from_status(&lost).kind, ErrorKind::Unavailable);
        assert_eq!(ApiError::from_status(&Status::internal("A server error occurred.")).kind, ErrorKind::Internal);
    }

    #[test]
    fn field_errors_survive_the_status_round_trip() {
        let mut fields = FieldErrors::new();
        fields.add("email", "Enter a valid email address.");
        fields.add("password", "This password is too short.");
        fields.add("password", "This password is too common.");
        let sent = ApiError::validation(fields);
        let back = ApiError::from_status(&sent.clone().into_status());
        assert_eq!(back.kind, ErrorKind::Invalid);
        assert_eq!(back.fields, sent.fields);
    }

    #[test]
    fn code_and_extra_survive_the_status_round_trip() {
        let sent = ApiError::bad_request("Product unavailable.", "product_unavailable")
            .with_extra("products", serde_json::json!([3, 7]));
        let back = ApiError::from_status(&sent.clone().into_status());
        assert_eq!(back.detail, "Product unavailable.");
        assert_eq!(back.code.as_deref(), Some("product_unavailable"));
        assert_eq!(back.extra, vec![("products".to_owned(), serde_json::json!([3, 7]))]);
    }

    #[test]
    fn unknown_grpc_failures_are_internal() {
        let back = ApiError::from_status(&Status::unknown("boom"));
        assert_eq!(back.kind, ErrorKind::Internal);
    }
}
