//! The vendor's own pages: the dashboard (the shop's status and what it
//! waits for; once approved, its sub-orders and revenue over a date range
//! with a chart per day), its sub-orders and its shop profile.
use common::status::{Named, VendorStatus};
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use common::money;
use common::{ApiError, ErrorKind};
use proto::analytics::v1 as analytics_pb;
use proto::identity::v1 as pb;
use proto::order::v1 as order_pb;
use rust_decimal::Decimal;

use super::charts;
use super::page::Posted;
use super::page::{self, Layout, Section};
use super::session::{SignedIn, Vendor};
use crate::AppState;
use crate::routes::vendors::update_my_shop;

#[derive(Template)]
#[template(path = "console/vendor_dashboard.html")]
struct VendorDashboard {
    layout: Layout,
    /// The shop's profile, when it has one.
    shop: Option<pb::Vendor>,
    from: String,
    to: String,
    /// Sub-orders, paid ones, revenue, and the chart: only once approved.
    figures: Option<(i64, i64, String)>,
    chart: String,
}

impl VendorDashboard {
    /// What the shop's status means for its owner.
    fn waiting_for(&self) -> &'static str {
        match self.shop.as_ref().map(pb::Vendor::status) {
            None => {
                "Your account has no shop profile yet: create one through the API (POST /vendors/create/), then an admin approves it."
            }
            Some(VendorStatus::Pending | VendorStatus::Unspecified) => {
                "Your shop is waiting for an admin's approval. Until then you cannot add or sell products."
            }
            Some(VendorStatus::Suspended) => {
                "Your shop is suspended by an admin: its products are hidden and cannot be changed. Contact the marketplace."
            }
            Some(VendorStatus::Approved) => "Your shop is approved: its active products are on sale.",
        }
    }

    fn approved(&self) -> bool {
        self.shop.as_ref().is_some_and(|s| common::buyable::sells(s.status()))
    }

    fn shop_status(&self) -> &'static str {
        self.shop.as_ref().map_or("", |s| s.status().name())
    }
}

/// The vendor's dashboard (the caller checked the role).
pub async fn dashboard(
    State(state): State<AppState>,
    signed_in: SignedIn,
    params: HashMap<String, String>,
) -> Response {
    let SignedIn(session, csrf) = signed_in;
    let d = &state.downstream;
    let mut identity = d.identity.clone();
    let shop = match d.call(identity.get_my_vendor(d.request(pb::GetMyVendorRequest {}, Some(session.token())))).await {
        Ok(shop) => Some(shop),
        Err(error) if error.kind == ErrorKind::NotFound => None,
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let (from, to) = page::date_range(&params);
    let (mut figures, mut chart) = (None, String::new());
    if shop.as_ref().is_some_and(|s| common::buyable::sells(s.status())) {
        let mut analytics = d.analytics.clone();
        let message = analytics_pb::SummaryRequest { from: Some(from.clone()), to: Some(to.clone()) };
        let days = match d.call(analytics.list_vendor_days(d.request(message, Some(session.token())))).await {
            Ok(list) => list.days,
            Err(error) => return page::failure(Some(&session), &csrf, error),
        };
        let revenue = days.iter().map(|day| money::from_text("revenue", &day.revenue)).sum::<Result<Decimal, _>>();
        let revenue = match revenue {
            Ok(revenue) => revenue,
            Err(error) => return page::failure(Some(&session), &csrf, ApiError::internal(error.to_string())),
        };
        figures = Some((
            days.iter().map(|day| day.sub_orders).sum(),
            days.iter().map(|day| day.paid_sub_orders).sum(),
            money::to_text(revenue),
        ));
        let amounts = days.iter().filter_map(|d| Some((page::day(&d.day)?, charts::amount(&d.revenue)))).collect();
        if let (Some(from), Some(to)) = (page::day(&from), page::day(&to)) {
            let series = [charts::Series { label: "Revenue", color: charts::REVENUE_COLOR, amounts }];
            chart = charts::per_day(from, to, &series);
        }
    }
    let layout = Layout::new("Dashboard", Some(&session), &csrf, Section::Dashboard);
    page::render(StatusCode::OK, &VendorDashboard { layout, shop, from, to, figures, chart })
}

const SUB_ORDERS_PER_PAGE: i64 = 25;

pub struct SubOrderRow {
    id: i64,
    order: i64,
    status: &'static str,
    items: String,
    subtotal: String,
    created: String,
}

#[derive(Template)]
#[template(path = "console/sub_orders.html")]
struct SubOrdersPage {
    layout: Layout,
    rows: Vec<SubOrderRow>,
    count: i64,
    page: i64,
    pages: i64,
}

/// The shop's sub-orders with its own lines, newest first.
pub async fn sub_orders(
    State(state): State<AppState>,
    Vendor(session, csrf): Vendor,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let page =
        params.get("page").and_then(|p| p.trim().parse::<i64>().ok()).filter(|p| *p >= 1).unwrap_or(1).min(100_000);
    let message =
        order_pb::ListVendorOrdersRequest { limit: SUB_ORDERS_PER_PAGE, offset: (page - 1) * SUB_ORDERS_PER_PAGE };
    let d = &state.downstream;
    let mut orders = d.order.clone();
    let found = match d.call(orders.list_vendor_orders(d.request(message, Some(session.token())))).await {
        Ok(found) => found,
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let rows = found
        .vendor_orders
        .into_iter()
        .map(|v| SubOrderRow {
            id: v.id,
            order: v.order,
            status: v.status().name(),
            items: v
                .items
                .iter()
                .map(|i| format!("{} × {}", i.product_name, i.quantity))
                .collect::<Vec<_>>()
                .join(", "),
            subtotal: v.subtotal,
            created: page::when(v.created_at.as_ref()),
        })
        .collect();
    let pages = ((found.count + SUB_ORDERS_PER_PAGE - 1) / SUB_ORDERS_PER_PAGE).max(1);
    let layout = Layout::new("Sub-orders", Some(&session), &csrf, Section::SubOrders);
    page::render(StatusCode::OK, &SubOrdersPage { layout, rows, count: found.count, page, pages })
}

#[derive(Template)]
#[template(path = "console/shop.html")]
struct ShopPage {
    layout: Layout,
    shop_name: String,
    description: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

fn shop_page(
    session: &super::session::Session,
    csrf: &super::session::Csrf,
    status: StatusCode,
    form: ShopForm,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let layout = Layout::new("Shop profile", Some(session), csrf, Section::Shop);
    page::render(status, &ShopPage { layout, shop_name: form.shop_name, description: form.description, notice, error })
}

/// The shop profile's fields, as posted.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ShopForm {
    #[serde(default)]
    shop_name: String,
    #[serde(default)]
    description: String,
}

/// A vendor with a shop (any status) edits its name and description.
pub async fn shop(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let SignedIn(session, csrf) = signed_in;
    if session.principal.role != common::auth::Role::Vendor {
        return page::forbidden(&session, &csrf);
    }
    let d = &state.downstream;
    let mut identity = d.identity.clone();
    let shop = match d.call(identity.get_my_vendor(d.request(pb::GetMyVendorRequest {}, Some(session.token())))).await {
        Ok(shop) => shop,
        Err(error) if error.kind == ErrorKind::NotFound => {
            let text = "Your account has no shop profile yet: create one through the API (POST /vendors/create/).";
            return page::message(StatusCode::NOT_FOUND, Some(&session), &csrf, "No shop yet", text);
        }
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let notice = (params.get("done").map(String::as_str) == Some("saved")).then_some("Your shop profile is saved.");
    let form = ShopForm { shop_name: shop.shop_name, description: shop.description };
    shop_page(&session, &csrf, StatusCode::OK, form, notice, None)
}

pub async fn save_shop(State(state): State<AppState>, signed_in: SignedIn, Posted(form): Posted<ShopForm>) -> Response {
    let SignedIn(session, csrf) = signed_in;
    if session.principal.role != common::auth::Role::Vendor {
        return page::forbidden(&session, &csrf);
    }
    let message = pb::UpdateMyVendorRequest {
        shop_name: Some(form.shop_name.clone()),
        description: Some(form.description.clone()),
    };
    match update_my_shop(&state, session.token(), message).await {
        Ok(_) => axum::response::IntoResponse::into_response(axum::response::Redirect::to("/admin/shop/?done=saved")),
        Err(error) if crate::error::status_of(error.kind).is_client_error() => {
            let status = crate::error::status_of(error.kind);
            shop_page(&session, &csrf, status, form, None, Some(page::explain(&error)))
        }
        Err(error) => page::failure(Some(&session), &csrf, error),
    }
}
