//! What every console page shares: the layout's data (who is signed in,
//! the CSRF token for its forms, which section is current), rendering a
//! template into a response, the 403 and error pages, and posted forms,
//! whose CSRF token is checked before a handler sees them.
use askama::Template;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use common::ApiError;
use common::auth::Role;
use serde::de::DeserializeOwned;

use super::session::{Csrf, Session};
use crate::AppState;

/// A section of the console, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Dashboard,
    Vendors,
    Categories,
    Products,
    Orders,
    Events,
    SubOrders,
    Shop,
    None,
}

/// The layout's data: the navigation and the logout form.
pub struct Layout {
    pub title: String,
    pub csrf: String,
    /// The signed-in user's role, when one is.
    pub role: Option<&'static str>,
    /// A vendor whose shop is approved (the shop's pages are offered).
    pub selling: bool,
    pub section: Section,
}

impl Layout {
    pub fn new(title: impl Into<String>, session: Option<&Session>, csrf: &Csrf, section: Section) -> Self {
        let role = session.map(|s| match s.principal.role {
            Role::Admin => "admin",
            Role::Vendor => "vendor",
            Role::Customer => "customer",
        });
        let selling = session.and_then(|s| s.shop_status).is_some_and(common::buyable::sells);
        Self { title: title.into(), csrf: csrf.0.clone(), role, selling, section }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Some("admin")
    }

    pub fn is_vendor(&self) -> bool {
        self.role == Some("vendor")
    }

    /// `aria-current` for a navigation link.
    pub fn current(&self, section: Section) -> &'static str {
        if self.section == section { "page" } else { "false" }
    }
}

/// A timestamp to the minute, as tables show it (`2026-12-04 03:56`).
pub fn when(at: Option<&prost_types::Timestamp>) -> String {
    crate::routes::rfc3339(at).map(|t| t.chars().take(16).collect::<String>().replace('T', " ")).unwrap_or_default()
}

/// A `YYYY-MM-DD` date.
pub fn day(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A dashboard's `from` and `to` from the query string, by default the
/// last 30 days (the services check what was typed).
pub fn date_range(params: &std::collections::HashMap<String, String>) -> (String, String) {
    let today = chrono::Utc::now().date_naive();
    let date = |name: &str, default: chrono::NaiveDate| {
        params.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
    };
    (date("from", today - chrono::Duration::days(29)), date("to", today))
}

/// A path's id: a positive whole number, or none (the page's 404).
pub fn path_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// A table's page number from the query string: 1 unless a sensible one.
pub fn page_number(raw: Option<&str>) -> i64 {
    raw.and_then(|p| p.trim().parse::<i64>().ok()).filter(|p| *p >= 1).unwrap_or(1).min(100_000)
}

/// A rendered template with its status; a template that fails to render
/// (it cannot, short of a bug) is a logged 500.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "a console page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, Html("<h1>Something went wrong</h1>".to_owned())).into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage {
    layout: Layout,
    heading: String,
    message: String,
}

/// A page that only says something, with the layout around it.
pub fn message(
    status: StatusCode,
    session: Option<&Session>,
    csrf: &Csrf,
    heading: &str,
    message: impl Into<String>,
) -> Response {
    let layout = Layout::new(heading, session, csrf, Section::None);
    render(status, &MessagePage { layout, heading: heading.to_owned(), message: message.into() })
}

/// Signed in, but not allowed here.
pub fn forbidden(session: &Session, csrf: &Csrf) -> Response {
    message(
        StatusCode::FORBIDDEN,
        Some(session),
        csrf,
        "403 Forbidden",
        "You do not have permission to use this console. It is for the marketplace's admins and vendors.",
    )
}

/// A service's refusal or failure as a page: what the API would have
/// said, in words.
pub fn failure(session: Option<&Session>, csrf: &Csrf, error: ApiError) -> Response {
    let status = crate::error::status_of(error.kind);
    if status.is_server_error() {
        tracing::warn!(%error, "a console page could not be served");
        return message(status, session, csrf, "Service unavailable", "The marketplace could not answer. Try again.");
    }
    message(status, session, csrf, "Request refused", explain(&error))
}

/// An error in words: its field messages, or its detail.
pub fn explain(error: &ApiError) -> String {
    if error.fields.is_empty() {
        return error.detail.clone();
    }
    error
        .fields
        .iter()
        .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A post whose CSRF token did not match the cookie's: refused before any work.
pub fn csrf_refused(session: Option<&Session>, csrf: &Csrf) -> Response {
    let text = "CSRF verification failed: the form was not sent from this console. Reload the page and try again.";
    message(StatusCode::FORBIDDEN, session, csrf, "403 Forbidden", text)
}

/// A posted form whose `csrf` field matched the cookie's token; otherwise
/// the post is refused with a 403 page before any work.
pub struct Posted<T>(pub T);

#[derive(serde::Deserialize)]
struct WithCsrf<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let csrf = request.extensions().get::<Csrf>().cloned().unwrap_or_else(|| Csrf(String::new()));
        let session = request.extensions().get::<Session>().cloned();
        let axum::Form(form) = match axum::Form::<WithCsrf<T>>::from_request(request, state).await {
            Ok(form) => form,
            Err(rejection) => {
                let status = rejection.status();
                return Err(message(status, session.as_ref(), &csrf, "Bad request", rejection.body_text()));
            }
        };
        if !csrf.accepts(&form.csrf) {
            return Err(csrf_refused(session.as_ref(), &csrf));
        }
        Ok(Posted(form.fields))
    }
}
