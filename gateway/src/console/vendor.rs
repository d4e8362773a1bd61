//! The vendor's dashboard: the shop's status and, while it is not
//! approved, what it is waiting for (nothing can be sold until then).
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use common::ErrorKind;
use proto::identity::v1 as pb;

use super::page::{self, Layout, Section};
use super::session::SignedIn;
use crate::AppState;

#[derive(Template)]
#[template(path = "console/vendor_dashboard.html")]
struct VendorDashboard {
    layout: Layout,
    /// The shop's profile, when it has one.
    shop: Option<pb::Vendor>,
}

impl VendorDashboard {
    /// What the shop's status means for its owner.
    fn waiting_for(&self) -> &'static str {
        match self.shop.as_ref().map(|s| s.status.as_str()) {
            None => {
                "Your account has no shop profile yet: create one through the API (POST /vendors/create/), then an admin approves it."
            }
            Some("pending") => {
                "Your shop is waiting for an admin's approval. Until then you cannot add or sell products."
            }
            Some("suspended") => {
                "Your shop is suspended by an admin: its products are hidden and cannot be changed. Contact the marketplace."
            }
            Some(_) => "Your shop is approved: its active products are on sale.",
        }
    }

    fn approved(&self) -> bool {
        self.shop.as_ref().is_some_and(|s| s.status == "approved")
    }
}

/// The vendor's dashboard (the caller checked the role).
pub async fn dashboard(State(state): State<AppState>, signed_in: SignedIn) -> Response {
    let SignedIn(session, csrf) = signed_in;
    let d = &state.downstream;
    let mut identity = d.identity.clone();
    let shop = match d.call(identity.get_my_vendor(d.request(pb::GetMyVendorRequest {}, Some(session.token())))).await {
        Ok(shop) => Some(shop),
        Err(error) if error.kind == ErrorKind::NotFound => None,
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let layout = Layout::new("Dashboard", Some(&session), &csrf, Section::Dashboard);
    page::render(StatusCode::OK, &VendorDashboard { layout, shop })
}
