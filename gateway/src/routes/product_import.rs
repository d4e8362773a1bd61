//! `POST /products/import/`: a vendor's file of products, created all or
//! nothing. The file (NDJSON, or CSV with a header row) is bounded before it
//! is read — 5 MiB, 10,000 products — and each line is read with a single
//! create's type rules; catalog validates and writes the lines in one
//! transaction and has the order service store their stock in one, all or
//! nothing.
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::ApiError;
use common::grpc_client::{call, request};
use proto::catalog::v1 as pb;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::products::product_fields;
use crate::AppState;
use crate::auth::AuthUser;
use crate::body::{JsonBody, read_bytes, unsupported_media_type};
use crate::error::{HttpError, HttpResult, json_response};
use crate::openapi::schemas::ImportErrors;

pub const MAX_IMPORT_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_IMPORT_LINES: usize = 10_000;
/// An import writes up to ten thousand rows twice; it may take longer than
/// a single write's deadline, never longer than a request may.
const IMPORT_DEADLINE: Duration = Duration::from_secs(15);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_products)).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES))
}

#[derive(Debug, Serialize, ToSchema)]
struct ImportResult {
    created: usize,
    /// The new products' ids, in the file's order.
    ids: Vec<i64>,
}

/// The file's formats.
pub(crate) enum Format {
    Ndjson,
    Csv,
}

/// The import file: its format (415 for any other) and its bytes (413
/// beyond 5 MiB).
struct ImportFile(Format, Bytes);

impl<S: Send + Sync> FromRequest<S> for ImportFile {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let format = match mime.as_str() {
            "application/x-ndjson" => Format::Ndjson,
            "text/csv" => Format::Csv,
            _ => return Err(unsupported_media_type(content_type)),
        };
        let bytes = read_bytes(request, state, "An import file is at most 5 MiB.").await?;
        Ok(ImportFile(format, bytes))
    }
}

/// The file's products by line: those whose fields have the right types,
/// and the errors of the others.
#[derive(Default)]
struct Lines {
    valid: Vec<pb::ImportLine>,
    invalid: Vec<pb::LineErrors>,
}

impl Lines {
    fn count(&self) -> usize {
        self.valid.len() + self.invalid.len()
    }

    /// One line's object, read as a single create's body would be.
    fn push_object(&mut self, line: u32, object: Map<String, Value>) {
        match product_fields(JsonBody(object)) {
            Ok(fields) => self.valid.push(pb::ImportLine { line, fields: Some(fields) }),
            Err(HttpError::Api(error)) => self.invalid.push(line_errors(line, &error)),
            Err(_) => self.push_error(line, "Invalid data."),
        }
    }

    fn push_error(&mut self, line: u32, message: impl Into<String>) {
        let field = pb::FieldError { field: "non_field_errors".into(), messages: vec![message.into()] };
        self.invalid.push(pb::LineErrors { line, fields: vec![field] });
    }

    fn too_many() -> HttpError {
        HttpError::Plain(StatusCode::PAYLOAD_TOO_LARGE, format!("An import holds at most {MAX_IMPORT_LINES} products."))
    }

    /// One JSON object per line; blank lines are skipped but counted.
    fn from_ndjson(text: &str) -> HttpResult<Self> {
        let mut lines = Lines::default();
        for (index, raw) in text.split('\n').enumerate() {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            if lines.count() == MAX_IMPORT_LINES {
                return Err(Self::too_many());
            }
            let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
            match serde_json::from_str::<Value>(raw) {
                Ok(Value::Object(object)) => lines.push_object(line, object),
                Ok(_) => lines.push_error(line, "Invalid data. Expected a dictionary."),
                Err(e) => lines.push_error(line, format!("JSON parse error - {e}")),
            }
        }
        Ok(lines)
    }

    /// A header row of field names, then one product per record; an empty
    /// cell is a field not sent, columns that name no field are ignored.
    fn from_csv(text: &str) -> HttpResult<Self> {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
        let mut lines = Lines::default();
        let headers = match reader.headers() {
            Ok(headers) => headers.iter().map(|h| h.trim().to_owned()).collect::<Vec<_>>(),
            Err(e) => {
                lines.push_error(1, format!("CSV parse error - {e}"));
                return Ok(lines);
            }
        };
        for record in reader.records() {
            if lines.count() == MAX_IMPORT_LINES {
                return Err(Self::too_many());
            }
            match record {
                Ok(record) => {
                    let line = record.position().map_or(0, |p| u32::try_from(p.line()).unwrap_or(u32::MAX));
                    let object = headers
                        .iter()
                        .zip(record.iter())
                        .filter(|(_, cell)| !cell.is_empty())
                        .map(|(name, cell)| (name.clone(), Value::String(cell.to_owned())))
                        .collect();
                    lines.push_object(line, object);
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| u32::try_from(p.line()).unwrap_or(u32::MAX));
                    lines.push_error(line, format!("CSV parse error - {e}"));
                }
            }
        }
        Ok(lines)
    }
}

fn line_errors(line: u32, error: &ApiError) -> pb::LineErrors {
    let fields = error
        .fields
        .iter()
        .map(|(field, messages)| pb::FieldError { field: field.clone(), messages: messages.clone() })
        .collect();
    pb::LineErrors { line, fields }
}

/// `{"errors": [{"line": k, "<field>": [...]}, ...]}`
fn errors_response(errors: &[pb::LineErrors]) -> Response {
    let errors: Vec<Value> = errors
        .iter()
        .map(|line| {
            let mut object = Map::new();
            object.insert("line".into(), json!(line.line));
            for field in &line.fields {
                object.insert(field.field.clone(), json!(field.messages));
            }
            Value::Object(object)
        })
        .collect();
    json_response(StatusCode::BAD_REQUEST, &json!({ "errors": errors }))
}

/// Create many products from a file, all or nothing (approved vendor).
///
/// NDJSON: one create body per line. CSV: a header row of create field
/// names, then one product per row (an empty cell is a field not sent).
/// Line numbers count every line of the file from 1, a CSV's header included.
#[utoipa::path(post, path = "/products/import/", tag = "products", security(("bearer" = [])),
    request_body(description = "At most 10,000 products and 5 MiB.",
        content((String = "application/x-ndjson"), (String = "text/csv"))),
    responses((status = 201, description = "Every line created, in one transaction", body = ImportResult),
        (status = 400, description = "Nothing written: `{\"errors\": [{\"line\": k, \"<field>\": [...]}]}`, \
            a line's fields as a single create's 400; a SKU repeated in the file or already the vendor's \
            is a `sku` error. A file with no products or not UTF-8: `{\"detail\": ...}`", body = ImportErrors),
        (status = 401, description = "No valid token"),
        (status = 403, description = "Not a vendor, or not approved (`vendor_not_approved`)"),
        (status = 413, description = "Over 5 MiB or over 10,000 products"),
        (status = 415, description = "Neither `application/x-ndjson` nor `text/csv`")))]
async fn import_products(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ImportFile(format, bytes): ImportFile,
) -> HttpResult<Response> {
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| HttpError::Plain(StatusCode::BAD_REQUEST, "The file is not UTF-8 text.".into()))?;
    let ids = match import_text(&state, &user.token, format, text).await? {
        Imported::Created(ids) => ids,
        Imported::Refused(errors) => return Ok(errors_response(&errors)),
    };
    let body = ImportResult { created: ids.len(), ids };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// What an import did: every line created (ids in the file's order), or
/// nothing written and the bad lines.
pub(crate) enum Imported {
    Created(Vec<i64>),
    Refused(Vec<pb::LineErrors>),
}

/// Imports a file's text for the caller (the REST route's and the
/// console's): catalog checks every line, writes them all and has order
/// store their stock, all or nothing.
pub(crate) async fn import_text(state: &AppState, token: &str, format: Format, text: &str) -> HttpResult<Imported> {
    let lines = match format {
        Format::Ndjson => Lines::from_ndjson(text)?,
        Format::Csv => Lines::from_csv(text)?,
    };
    if lines.count() == 0 {
        return Err(HttpError::Plain(StatusCode::BAD_REQUEST, "The file holds no products.".into()));
    }
    let message = pb::ImportProductsRequest { lines: lines.valid, invalid: lines.invalid };
    let mut catalog = state.downstream.catalog.clone();
    let imported =
        call(IMPORT_DEADLINE, catalog.import_products(request(message, IMPORT_DEADLINE, Some(token)))).await?;
    if !imported.errors.is_empty() {
        return Ok(Imported::Refused(imported.errors));
    }
    Ok(Imported::Created(imported.ids))
}
