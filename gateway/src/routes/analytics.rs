//! `/analytics/*` (admins): figures the analytics service computes from its
//! own event-fed facts.
use std::collections::HashMap;

use axum::Json;
use axum::extract::{OriginalUri, Query, State};

use proto::analytics::v1 as pb;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::AdminUser;
use crate::error::HttpResult;
use crate::origin::Origin;
use crate::pagination::{LimitOffset, LimitOffsetQuery, Page};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(summary)).routes(routes!(vendors))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    total_orders: i64,
    paid_orders: i64,
    cancelled_orders: i64,
    pending_orders: i64,
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    total_revenue: String,
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    refunded_amount: String,
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    average_order_value: String,
    currency: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VendorStats {
    vendor: i64,
    vendor_name: String,
    orders: i64,
    units_sold: i64,
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    revenue: String,
}

/// The range of order creation dates (UTC) the figures cover.
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
struct DateRange {
    /// First day, inclusive; empty or left out: unbounded.
    #[param(required = false, schema_with = crate::openapi::schemas::date_filter)]
    from: String,
    /// Last day, inclusive, not before `from`; empty or left out: unbounded.
    #[param(required = false, schema_with = crate::openapi::schemas::date_filter)]
    to: String,
}

/// Orders, revenue and refunds over the orders created between `from` and `to`.
#[utoipa::path(get, path = "/analytics/summary/", tag = "analytics", security(("bearer" = [])), params(DateRange),
    responses((status = 200, description = "OK", body = Summary), (status = 400, description = "A bad date, or `to` before `from`"),
        (status = 403, description = "Not an admin")))]
async fn summary(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Query(params): Query<HashMap<String, String>>,
) -> HttpResult<Json<Summary>> {
    let message = pb::SummaryRequest { from: params.get("from").cloned(), to: params.get("to").cloned() };
    let d = &state.downstream;
    let mut client = d.analytics.clone();
    let s = d.call(client.get_summary(d.request(message, Some(&admin.token)))).await?;
    Ok(Json(Summary {
        total_orders: s.total_orders,
        paid_orders: s.paid_orders,
        cancelled_orders: s.cancelled_orders,
        pending_orders: s.pending_orders,
        total_revenue: s.total_revenue,
        refunded_amount: s.refunded_amount,
        average_order_value: s.average_order_value,
        currency: s.currency,
    }))
}

/// Per vendor with orders in the range: paid sub-orders, units and revenue, by revenue.
#[utoipa::path(get, path = "/analytics/vendors/", tag = "analytics", security(("bearer" = [])),
    params(DateRange, LimitOffsetQuery),
    responses((status = 200, description = "OK", body = Page<VendorStats>),
        (status = 400, description = "A bad date, `to` before `from`, or a bad `limit` or `offset`"),
        (status = 403, description = "Not an admin")))]
async fn vendors(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
    Query(params): Query<HashMap<String, String>>,
) -> HttpResult<Json<Page<VendorStats>>> {
    let page = LimitOffset::from_uri(&uri)?;
    let message = pb::VendorStatsRequest {
        from: params.get("from").cloned(),
        to: params.get("to").cloned(),
        limit: page.limit,
        offset: page.offset,
    };
    let d = &state.downstream;
    let mut client = d.analytics.clone();
    let answer = d.call(client.list_vendor_stats(d.request(message, Some(&admin.token)))).await?;
    let rows = answer
        .vendors
        .into_iter()
        .map(|v| VendorStats {
            vendor: v.vendor,
            vendor_name: v.vendor_name,
            orders: v.orders,
            units_sold: v.units_sold,
            revenue: v.revenue,
        })
        .collect();
    Ok(Json(page.page(answer.count, rows, &uri, &origin)))
}
