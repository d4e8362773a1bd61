//! Request bodies the DRF way: JSON only (415 otherwise), at most 1 MiB
//! (413), malformed JSON a 400 `JSON parse error - …`, no body the same as
//! `{}`. `Form` then reads typed fields out of the object, collecting
//! DRF's type errors per field; unknown fields are ignored.
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use common::FieldErrors;
use serde_json::{Map, Value};

use crate::error::HttpError;

pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON object body (an absent body reads as `{}`).
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = read_bytes(request, state, "Request body is larger than 1 MiB.").await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Map::new()));
        }
        match content_type.as_deref() {
            Some(ct) if is_json(ct) => {}
            other => return Err(unsupported_media_type(other.unwrap_or(""))),
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonBody(map)),
            Ok(other) => Err(HttpError::Api(common::ApiError::field(
                "non_field_errors",
                format!("Invalid data. Expected a dictionary, but got {}.", type_name(&other)),
            ))),
            Err(e) => Err(HttpError::Plain(StatusCode::BAD_REQUEST, format!("JSON parse error - {e}"))),
        }
    }
}

/// The whole body, under the route's limit: 413 with `too_large` beyond it.
pub async fn read_bytes<S: Send + Sync>(request: Request, state: &S, too_large: &str) -> Result<Bytes, HttpError> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            HttpError::Plain(StatusCode::PAYLOAD_TOO_LARGE, too_large.to_owned())
        } else {
            HttpError::Plain(StatusCode::BAD_REQUEST, format!("Could not read the request body: {rejection}"))
        }
    })
}

/// DRF's 415 for a body of a type the route does not read.
pub fn unsupported_media_type(content_type: &str) -> HttpError {
    HttpError::Plain(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("Unsupported media type \"{content_type}\" in request."),
    )
}

fn is_json(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Typed reads of a JSON object's fields with DRF's type errors.
pub struct Form {
    map: Map<String, Value>,
    errors: FieldErrors,
}

impl Form {
    pub fn new(JsonBody(map): JsonBody) -> Self {
        Self { map, errors: FieldErrors::new() }
    }

    /// A string field: absent → `None`; null and other types, numbers
    /// included, are errors (stricter than DRF's `CharField`, so that the
    /// OpenAPI document's `type: string` is exactly what is accepted),
    /// unless `null_as_empty` (for nullable fields, where null clears).
    fn string_inner(&mut self, name: &str, null_as_empty: bool) -> Option<String> {
        match self.map.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null if null_as_empty => Some(String::new()),
            Value::Null => {
                self.errors.add(name, "This field may not be null.");
                None
            }
            _ => {
                self.errors.add(name, "Not a valid string.");
                None
            }
        }
    }

    pub fn string(&mut self, name: &str) -> Option<String> {
        self.string_inner(name, false)
    }

    pub fn nullable_string(&mut self, name: &str) -> Option<String> {
        self.string_inner(name, true)
    }

    /// A number sent as a JSON number or a numeric string, as its text
    /// (validated by the service that owns the field).
    pub fn number_text(&mut self, name: &str) -> Option<String> {
        match self.map.get(name)? {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            Value::Null => {
                self.errors.add(name, "This field may not be null.");
                None
            }
            _ => {
                self.errors.add(name, "A valid number is required.");
                None
            }
        }
    }

    /// A related object's id, or `"null"` when the client sent null.
    pub fn id_or_null(&mut self, name: &str) -> Option<String> {
        match self.map.get(name)? {
            Value::Null => Some("null".to_owned()),
            Value::Number(n) if n.is_i64() => Some(n.to_string()),
            Value::String(s) if s.trim().parse::<i64>().is_ok() => Some(s.trim().to_owned()),
            other => {
                self.errors.add(name, format!("Incorrect type. Expected pk value, received {}.", type_name(other)));
                None
            }
        }
    }

    /// A boolean (`true`/`false`, and the strings and numbers DRF accepts).
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        let value = match self.map.get(name)? {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if value.is_none() {
            self.errors.add(name, "Must be a valid boolean.");
        }
        value
    }

    /// A status named by a string field, one of `allowed`; left out or
    /// empty: `default` (`None`: the field is required).
    pub fn status<S: common::status::Named>(&mut self, name: &str, allowed: &[S], default: Option<S>) -> Option<S> {
        let raw = self.string(name).filter(|raw| !raw.trim().is_empty());
        match (raw, default) {
            (Some(raw), _) => crate::statuses::chosen(&mut self.errors, name, &raw, allowed),
            (None, Some(default)) => Some(default),
            (None, None) => {
                if !self.errors.has(name) {
                    self.errors.add(name, "This field is required.");
                }
                None
            }
        }
    }

    /// Fails with every type error found, or hands back nothing.
    pub fn finish(self) -> Result<(), HttpError> {
        self.errors.into_result().map_err(HttpError::Api)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(value: Value) -> Form {
        match value {
            Value::Object(map) => Form::new(JsonBody(map)),
            _ => panic!("object expected"),
        }
    }

    #[test]
    fn strings_numbers_and_nulls() {
        let mut f = form(json!({"a": "x", "b": 12, "c": null, "d": [1], "e": null}));
        assert_eq!(f.string("a").as_deref(), Some("x"));
        assert_eq!(f.string("b"), None);
        assert_eq!(f.string("c"), None);
        assert_eq!(f.string("d"), None);
        assert_eq!(f.nullable_string("e").as_deref(), Some(""));
        assert_eq!(f.string("missing"), None);
        let HttpError::Api(error) = f.finish().expect_err("type errors") else { panic!("api error expected") };
        assert!(
            error.fields.has("b") && error.fields.has("c") && error.fields.has("d") && !error.fields.has("missing")
        );
    }

    #[test]
    fn json_media_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/vnd.api+json"));
        assert!(!is_json("text/plain"));
    }
}
