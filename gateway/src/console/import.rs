//! A vendor's bulk import in the console: a file (CSV with a header row,
//! or NDJSON) uploaded as a multipart form, imported through the REST
//! route's own code, all or nothing; the bad lines are listed on the form.
use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use proto::catalog::v1 as pb;

use super::page::{self, Layout, Section};
use super::session::{Csrf, Session, Vendor};
use crate::AppState;
use crate::error::HttpError;
use crate::routes::product_import::{Format, Imported, MAX_IMPORT_BYTES, import_text};

/// The upload's body limit: the file and the form around it.
pub const MAX_UPLOAD_BYTES: usize = MAX_IMPORT_BYTES + 64 * 1024;

pub struct LineRow {
    line: u32,
    errors: String,
}

#[derive(Template)]
#[template(path = "console/import.html")]
struct ImportPage {
    layout: Layout,
    error: Option<String>,
    lines: Vec<LineRow>,
}

fn import_page(
    session: &Session,
    csrf: &Csrf,
    status: StatusCode,
    error: Option<String>,
    lines: Vec<LineRow>,
) -> Response {
    let layout = Layout::new("Import products", Some(session), csrf, Section::Products);
    page::render(status, &ImportPage { layout, error, lines })
}

pub async fn form(Vendor(session, csrf): Vendor) -> Response {
    import_page(&session, &csrf, StatusCode::OK, None, Vec::new())
}

/// The format a file's name or type says.
fn format_of(name: &str, content_type: &str) -> Option<Format> {
    let name = name.to_ascii_lowercase();
    if name.ends_with(".csv") || content_type.starts_with("text/csv") {
        Some(Format::Csv)
    } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") || content_type.starts_with("application/x-ndjson")
    {
        Some(Format::Ndjson)
    } else {
        None
    }
}

/// The posted CSRF token and file.
struct Upload {
    csrf: String,
    file: Option<(Option<Format>, Vec<u8>)>,
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, String> {
    let mut upload = Upload { csrf: String::new(), file: None };
    while let Some(field) = multipart.next_field().await.map_err(|e| e.body_text())? {
        match field.name() {
            Some("csrf") => upload.csrf = field.text().await.map_err(|e| e.body_text())?,
            Some("file") => {
                let format = format_of(field.file_name().unwrap_or(""), field.content_type().unwrap_or(""));
                let bytes = field.bytes().await.map_err(|e| e.body_text())?;
                upload.file = Some((format, bytes.to_vec()));
            }
            _ => {}
        }
    }
    Ok(upload)
}

pub async fn upload(State(state): State<AppState>, Vendor(session, csrf): Vendor, multipart: Multipart) -> Response {
    let refuse = |text: &str| import_page(&session, &csrf, StatusCode::BAD_REQUEST, Some(text.to_owned()), Vec::new());
    let upload = match read_upload(multipart).await {
        Ok(upload) => upload,
        Err(text) => return refuse(&format!("The upload could not be read: {text}")),
    };
    if !csrf.accepts(&upload.csrf) {
        return page::csrf_refused(Some(&session), &csrf);
    }
    let Some((format, bytes)) = upload.file.filter(|(_, bytes)| !bytes.is_empty()) else {
        return refuse("Choose a file to import.");
    };
    let Some(format) = format else {
        return refuse("The file must be a CSV (.csv) or NDJSON (.ndjson, .jsonl) file.");
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return refuse("The file is not UTF-8 text.");
    };
    match import_text(&state, session.token(), format, text).await {
        Ok(Imported::Created(ids)) => {
            Redirect::to(&format!("/admin/products/?done=imported&count={}", ids.len())).into_response()
        }
        Ok(Imported::Refused(errors)) => {
            let lines = errors.iter().map(line_row).collect();
            let text = "Nothing was imported: correct these lines and upload the file again.".to_owned();
            import_page(&session, &csrf, StatusCode::BAD_REQUEST, Some(text), lines)
        }
        Err(HttpError::Api(error)) => page::failure(Some(&session), &csrf, error),
        Err(HttpError::Plain(status, detail)) => import_page(&session, &csrf, status, Some(detail), Vec::new()),
        Err(HttpError::Throttled { .. }) => refuse("Too many requests; try again shortly."),
    }
}

fn line_row(line: &pb::LineErrors) -> LineRow {
    let errors = line.fields.iter().map(|f| format!("{}: {}", f.field, f.messages.join(" "))).collect::<Vec<_>>();
    LineRow { line: line.line, errors: errors.join("; ") }
}
