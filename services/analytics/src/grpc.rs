//! The Analytics gRPC service: admin-only figures, read from analytics'
//! own fact tables (never from the order or payment services).
use std::sync::Arc;

use common::ApiError;
use common::auth::{KeyRing, Role};
use common::money::to_text;
use proto::analytics::v1 as pb;
use tonic::{Request, Response, Status};

use crate::domain;
use crate::store::Store;

type RpcResult<T> = Result<Response<T>, Status>;

pub struct AnalyticsService {
    store: Store,
    keys: Arc<KeyRing>,
    currency: String,
}

impl AnalyticsService {
    pub fn new(store: Store, keys: Arc<KeyRing>, currency: String) -> Self {
        Self { store, keys, currency }
    }

    async fn admin<T>(&self, request: &Request<T>) -> Result<(), ApiError> {
        self.keys.require_principal(request.metadata()).await?.require_role(Role::Admin)
    }
}

#[tonic::async_trait]
impl pb::analytics_server::Analytics for AnalyticsService {
    async fn get_summary(&self, request: Request<pb::SummaryRequest>) -> RpcResult<pb::Summary> {
        self.admin(&request).await?;
        let body = request.into_inner();
        let range = domain::parse_range(body.from.as_deref(), body.to.as_deref())?;
        let row = self.store.summary(&range).await?;
        Ok(Response::new(pb::Summary {
            total_orders: row.total_orders,
            paid_orders: row.paid_orders,
            cancelled_orders: row.cancelled_orders,
            pending_orders: row.pending_orders,
            total_revenue: to_text(row.total_revenue),
            refunded_amount: to_text(row.refunded_amount),
            average_order_value: to_text(domain::average_order_value(row.total_revenue, row.paid_orders)),
            currency: self.currency.clone(),
        }))
    }

    async fn list_daily_revenue(&self, request: Request<pb::SummaryRequest>) -> RpcResult<pb::DailyRevenueList> {
        self.admin(&request).await?;
        let body = request.into_inner();
        let range = domain::parse_range(body.from.as_deref(), body.to.as_deref())?;
        domain::require_chart_range(&range)?;
        let days = self
            .store
            .daily_revenue(&range)
            .await?
            .into_iter()
            .map(|row| pb::DailyRevenue {
                day: row.day.to_string(),
                revenue: to_text(row.revenue),
                paid_orders: row.paid_orders,
                refunded: to_text(row.refunded),
            })
            .collect();
        Ok(Response::new(pb::DailyRevenueList { days }))
    }

    async fn list_vendor_days(&self, request: Request<pb::SummaryRequest>) -> RpcResult<pb::VendorDayList> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        principal.require_role(Role::Vendor)?;
        let body = request.into_inner();
        let range = domain::parse_range(body.from.as_deref(), body.to.as_deref())?;
        domain::require_chart_range(&range)?;
        // A vendor without a shop (no `vendor_id` in its token) has no sub-orders.
        let rows = match principal.vendor_id {
            Some(vendor_id) => self.store.vendor_days(vendor_id, &range).await?,
            None => Vec::new(),
        };
        let days = rows
            .into_iter()
            .map(|row| pb::VendorDay {
                day: row.day.to_string(),
                sub_orders: row.sub_orders,
                paid_sub_orders: row.paid_sub_orders,
                revenue: to_text(row.revenue),
            })
            .collect();
        Ok(Response::new(pb::VendorDayList { days }))
    }

    async fn list_vendor_stats(&self, request: Request<pb::VendorStatsRequest>) -> RpcResult<pb::VendorStatsPage> {
        self.admin(&request).await?;
        let body = request.into_inner();
        let range = domain::parse_range(body.from.as_deref(), body.to.as_deref())?;
        let (count, rows) = self.store.vendor_page(&range, body.limit.clamp(1, 100), body.offset.max(0)).await?;
        let vendors = rows
            .into_iter()
            .map(|row| pb::VendorStats {
                vendor: row.vendor_id,
                vendor_name: row.vendor_name,
                orders: row.orders,
                units_sold: row.units_sold,
                revenue: to_text(row.revenue),
            })
            .collect();
        Ok(Response::new(pb::VendorStatsPage { count, vendors }))
    }
}
