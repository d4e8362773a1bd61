//! The console at `/admin/`: the web admin (and, to come, the vendor
//! portal) the gateway serves beside the REST API. Pages are HTML from
//! compile-time templates (`templates/console/`) with the project's own
//! stylesheet; every action is a plain form post answered with a redirect
//! (post/redirect/get), so nothing needs JavaScript. Handlers call the
//! services over the same gRPC clients, and through the same helpers, as
//! the REST routes: there is no second path to the data.
mod admin;
mod categories;
mod charts;
mod events;
mod import;
mod login;
mod orders;
mod page;
mod products;
pub mod session;
mod vendor;

use axum::Router;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;

const STYLESHEET: &str = include_str!("../../static/console.css");

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/", get(dashboard))
        .route("/admin/login/", get(login::form).post(login::submit))
        .route("/admin/logout/", post(login::logout))
        .route("/admin/vendors/", get(admin::vendors))
        .route("/admin/vendors/{id}/", get(admin::vendor))
        .route("/admin/vendors/{id}/status/", post(admin::set_status))
        .route("/admin/categories/", get(categories::list).post(categories::create))
        .route("/admin/categories/{id}/", get(categories::edit).post(categories::update))
        .route("/admin/categories/{id}/delete/", post(categories::delete))
        .route("/admin/events/", get(events::list))
        .route("/admin/events/replay/", post(events::replay))
        .route("/admin/events/discard/", post(events::discard))
        .route("/admin/orders/", get(orders::list))
        .route("/admin/orders/{id}/", get(orders::show))
        .route("/admin/orders/{id}/refund/", get(orders::confirm_refund).post(orders::refund))
        .route("/admin/sub-orders/", get(vendor::sub_orders))
        .route("/admin/shop/", get(vendor::shop).post(vendor::save_shop))
        .route("/admin/products/", get(products::list))
        .route("/admin/products/new/", get(products::new).post(products::create))
        .route(
            "/admin/products/import/",
            get(import::form)
                .post(import::upload)
                .layer(axum::extract::DefaultBodyLimit::max(import::MAX_UPLOAD_BYTES)),
        )
        .route("/admin/products/{id}/", get(products::edit).post(products::update))
        .route("/admin/products/{id}/delete/", post(products::delete))
        .layer(axum::middleware::from_fn_with_state(state, session::middleware))
        .route("/admin/static/console.css", get(stylesheet))
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], STYLESHEET)
        .into_response()
}

/// `/`: a browser goes to the console; an API client (and any method but
/// GET) keeps its JSON 404.
pub async fn root(method: Method, headers: HeaderMap) -> Response {
    let wants_html = (method == Method::GET || method == Method::HEAD)
        && headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|accept| accept.split(',').any(|media| media.trim().starts_with("text/html")));
    if wants_html { Redirect::to("/admin/").into_response() } else { crate::conventions::not_found().await }
}

/// `/admin/`: the admin's dashboard, or the vendor's; a customer is refused.
async fn dashboard(
    state: axum::extract::State<AppState>,
    signed_in: session::SignedIn,
    query: axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    match signed_in.0.principal.role {
        common::auth::Role::Admin => admin::dashboard(state, signed_in, query).await,
        common::auth::Role::Vendor => vendor::dashboard(state, signed_in, query.0).await,
        common::auth::Role::Customer => page::forbidden(&signed_in.0, &signed_in.1),
    }
}

/// `?k=v&…` of the pairs whose value is not empty, encoded as a form.
fn query_string(pairs: &[(&str, &str)]) -> String {
    let kept: Vec<&(&str, &str)> = pairs.iter().filter(|(_, v)| !v.is_empty()).collect();
    // Encoding pairs of strings cannot fail.
    format!("?{}", serde_urlencoded::to_string(kept).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_encode_values_and_leave_out_empty_ones() {
        let query = query_string(&[("q", "Kettle & Co"), ("status", ""), ("cursor", "a+b/c="), ("page", "2")]);
        assert_eq!(query, "?q=Kettle+%26+Co&cursor=a%2Bb%2Fc%3D&page=2");
    }
}
