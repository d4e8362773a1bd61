//! The admin's pages: the dashboard (analytics for a date range, the
//! verification queue's length) and the vendors (a filtered, searched,
//! paged table; a vendor's page with `Approve` and `Suspend`, under the
//! same rules as `PATCH /vendors/{id}/verify/`).
use common::status::{Named, VendorStatus};
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use proto::analytics::v1 as analytics_pb;
use proto::identity::v1 as pb;
use serde::Deserialize;

use super::charts;
use super::page::{self, Layout, Posted, Section};
use super::session::{Admin, SignedIn};
use crate::AppState;
use crate::routes::vendors::set_vendor_status;
use crate::statuses::{self, Choice};

/// Vendors per page of the table.
const VENDORS_PER_PAGE: i64 = 25;
/// Longest search text taken from the query string.
const MAX_SEARCH: usize = 100;

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    from: String,
    to: String,
    summary: analytics_pb::Summary,
    pending_vendors: i64,
    parked_events: usize,
    /// SVG drawn by `charts` (its text escaped there).
    revenue_chart: String,
    vendors_chart: String,
}

impl DashboardPage {
    fn pending_link(&self) -> String {
        format!("/admin/vendors/{}", super::query_string(&[("status", VendorStatus::Pending.name())]))
    }
}

/// The admin's dashboard (the caller checked the role).
pub async fn dashboard(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let SignedIn(session, csrf) = signed_in;
    let (from, to) = page::date_range(&params);
    let d = &state.downstream;
    let mut analytics = d.analytics.clone();
    let message = analytics_pb::SummaryRequest { from: Some(from.clone()), to: Some(to.clone()) };
    let summary = match d.call(analytics.get_summary(d.request(message, Some(session.token())))).await {
        Ok(summary) => summary,
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let range = analytics_pb::SummaryRequest { from: Some(from.clone()), to: Some(to.clone()) };
    let days = match d.call(analytics.list_daily_revenue(d.request(range, Some(session.token())))).await {
        Ok(list) => list.days,
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let top = analytics_pb::VendorStatsRequest { from: Some(from.clone()), to: Some(to.clone()), limit: 5, offset: 0 };
    let vendors = match d.call(analytics.list_vendor_stats(d.request(top, Some(session.token())))).await {
        Ok(page) => page.vendors,
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let (revenue_chart, vendors_chart) = draw_charts(&from, &to, &days, &vendors);
    let pending = VendorQuery { status: Some(VendorStatus::Pending.name().into()), ..VendorQuery::default() };
    let pending_vendors = match search_vendors(&state, session.token(), &pending, 0).await {
        Ok(found) => found.count,
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let parked_events = match super::events::parked(&state, session.token()).await {
        Ok(events) => events.len(),
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let layout = Layout::new("Dashboard", Some(&session), &csrf, Section::Dashboard);
    page::render(
        StatusCode::OK,
        &DashboardPage { layout, from, to, summary, pending_vendors, parked_events, revenue_chart, vendors_chart },
    )
}

/// The dashboard's two charts, as SVG.
fn draw_charts(
    from: &str,
    to: &str,
    days: &[analytics_pb::DailyRevenue],
    vendors: &[analytics_pb::VendorStats],
) -> (String, String) {
    let amounts = |of: fn(&analytics_pb::DailyRevenue) -> &str| {
        days.iter().filter_map(|d| Some((page::day(&d.day)?, charts::amount(of(d))))).collect()
    };
    let series = [
        charts::Series { label: "Revenue", color: charts::REVENUE_COLOR, amounts: amounts(|d| &d.revenue) },
        charts::Series { label: "Refunds", color: charts::REFUNDS_COLOR, amounts: amounts(|d| &d.refunded) },
    ];
    let revenue = match (page::day(from), page::day(to)) {
        (Some(from), Some(to)) => charts::per_day(from, to, &series),
        _ => String::new(),
    };
    let bars: Vec<(String, String)> = vendors.iter().map(|v| (v.vendor_name.clone(), v.revenue.clone())).collect();
    (revenue, charts::top_vendors(&bars))
}

/// The vendor table's filters, as the query string carries them.
#[derive(Debug, Default, Deserialize)]
pub struct VendorQuery {
    status: Option<String>,
    q: Option<String>,
    page: Option<String>,
}

impl VendorQuery {
    fn status(&self) -> Option<&str> {
        self.status.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    fn words(&self) -> Option<String> {
        let words = self.q.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
        Some(words.chars().take(MAX_SEARCH).collect())
    }

    fn page(&self) -> i64 {
        page::page_number(self.page.as_deref())
    }

    /// The query string of another page of the same table.
    fn link(&self, page: i64) -> String {
        let words = self.words().unwrap_or_default();
        let page = page.to_string();
        super::query_string(&[("status", self.status().unwrap_or_default()), ("q", &words), ("page", &page)])
    }
}

async fn search_vendors(
    state: &AppState,
    token: &str,
    query: &VendorQuery,
    vendor_id: i64,
) -> Result<pb::VendorPage, common::ApiError> {
    let message = pb::SearchVendorsRequest {
        status: query.status().and_then(VendorStatus::from_name).map(Into::into),
        search: query.words(),
        vendor_id,
        limit: VENDORS_PER_PAGE,
        offset: (query.page() - 1) * VENDORS_PER_PAGE,
    };
    let d = &state.downstream;
    let mut identity = d.identity.clone();
    d.call(identity.search_vendors(d.request(message, Some(token)))).await
}

/// A vendor as the table and its page show it.
pub struct VendorRow {
    id: i64,
    shop_name: String,
    owner_email: String,
    status: VendorStatus,
    description: String,
    created: String,
    verified: String,
}

/// What an admin may do to a vendor: the status it moves to, the button.
const ACTIONS: [(VendorStatus, &str); 2] = [(VendorStatus::Approved, "Approve"), (VendorStatus::Suspended, "Suspend")];

/// One button of a vendor's page.
pub struct Action {
    status: &'static str,
    label: &'static str,
    danger: bool,
}

impl VendorRow {
    fn status_name(&self) -> &'static str {
        self.status.name()
    }

    /// The moves away from the vendor's current status.
    fn actions(&self) -> Vec<Action> {
        ACTIONS
            .iter()
            .filter(|(to, _)| *to != self.status)
            .map(|(to, label)| Action { status: to.name(), label, danger: *to == VendorStatus::Suspended })
            .collect()
    }
}

impl From<pb::Vendor> for VendorRow {
    fn from(v: pb::Vendor) -> Self {
        Self {
            id: v.id,
            status: v.status(),
            created: page::when(v.created_at.as_ref()),
            verified: page::when(v.verified_at.as_ref()),
            shop_name: v.shop_name,
            owner_email: v.owner_email,
            description: v.description,
        }
    }
}

#[derive(Template)]
#[template(path = "console/vendors.html")]
struct VendorsPage {
    layout: Layout,
    statuses: Vec<Choice>,
    q: String,
    vendors: Vec<VendorRow>,
    count: i64,
    page: i64,
    pages: i64,
    previous: Option<String>,
    next: Option<String>,
}

pub async fn vendors(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Query(query): Query<VendorQuery>,
) -> Response {
    if query.status().is_some_and(|s| VendorStatus::from_name(s).is_none()) {
        return page::message(StatusCode::BAD_REQUEST, Some(&session), &csrf, "Bad request", "Unknown vendor status.");
    }
    let found = match search_vendors(&state, session.token(), &query, 0).await {
        Ok(found) => found,
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let page = query.page();
    let pages = ((found.count + VENDORS_PER_PAGE - 1) / VENDORS_PER_PAGE).max(1);
    let layout = Layout::new("Vendors", Some(&session), &csrf, Section::Vendors);
    page::render(
        StatusCode::OK,
        &VendorsPage {
            layout,
            statuses: statuses::options::<VendorStatus>(query.status()),
            q: query.words().unwrap_or_default(),
            vendors: found.vendors.into_iter().map(VendorRow::from).collect(),
            count: found.count,
            page,
            pages,
            previous: (page > 1).then(|| query.link(page - 1)),
            next: (page < pages).then(|| query.link(page + 1)),
        },
    )
}

#[derive(Template)]
#[template(path = "console/vendor.html")]
struct VendorPage {
    layout: Layout,
    vendor: VendorRow,
    notice: Option<String>,
}

pub async fn vendor(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let not_found =
        |session, csrf| page::message(StatusCode::NOT_FOUND, Some(session), csrf, "Not found", "No such vendor.");
    let Some(id) = page::path_id(&id) else { return not_found(&session, &csrf) };
    let found = match search_vendors(&state, session.token(), &VendorQuery::default(), id).await {
        Ok(found) => found,
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let Some(vendor) = found.vendors.into_iter().next() else { return not_found(&session, &csrf) };
    let notice = params.get("done").and_then(|done| match VendorStatus::from_name(done)? {
        VendorStatus::Approved => Some("The vendor is approved.".to_owned()),
        VendorStatus::Suspended => Some("The vendor is suspended.".to_owned()),
        _ => None,
    });
    let layout = Layout::new(vendor.shop_name.clone(), Some(&session), &csrf, Section::Vendors);
    page::render(StatusCode::OK, &VendorPage { layout, vendor: vendor.into(), notice })
}

#[derive(Deserialize)]
pub struct StatusChange {
    #[serde(default)]
    status: String,
}

/// `Approve` or `Suspend`, then back to the vendor's page.
pub async fn set_status(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Path(id): Path<String>,
    Posted(change): Posted<StatusChange>,
) -> Response {
    let Some(id) = page::path_id(&id) else {
        return page::message(StatusCode::NOT_FOUND, Some(&session), &csrf, "Not found", "No such vendor.");
    };
    let Some(status) = VendorStatus::from_name(&change.status).filter(|s| ACTIONS.iter().any(|(a, _)| a == s)) else {
        return page::message(StatusCode::BAD_REQUEST, Some(&session), &csrf, "Bad request", "Unknown vendor status.");
    };
    let message = pb::VerifyVendorRequest { vendor_id: id, status: status.into() };
    match set_vendor_status(&state, session.token(), message).await {
        Ok(vendor) => {
            Redirect::to(&format!("/admin/vendors/{}/?done={}", vendor.id, vendor.status().name())).into_response()
        }
        Err(error) => page::failure(Some(&session), &csrf, error),
    }
}
