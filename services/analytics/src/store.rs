//! All of analytics' SQL: the upserts that record what each event says
//! about an order (inside the consumer's transaction), and the aggregates
//! the figures are, computed by the database over the fact tables.
//!
//! Every write is an upsert that only adds knowledge — a `created_at`, a
//! `paid`, a `cancelled`, a refund — and never takes it back, so the facts
//! end up the same whatever order the events arrive in, and a replayed
//! event rewrites the values it already wrote. Lock order within one
//! event: the `orders` row, then its `vendor_orders` rows by vendor id.
use common::ApiError;
use rust_decimal::Decimal;
use sqlx::{FromRow, MySql, MySqlPool, QueryBuilder, Transaction};
use tracing::instrument;

use crate::domain::{DateRange, OrderCancelled, OrderPlaced, PaymentEvent};

/// The summary's figures for one date range.
#[derive(Debug, Clone, FromRow)]
pub struct SummaryRow {
    pub total_orders: i64,
    pub paid_orders: i64,
    pub cancelled_orders: i64,
    pub pending_orders: i64,
    pub total_revenue: Decimal,
    pub refunded_amount: Decimal,
}

/// One day's figures.
#[derive(Debug, Clone, FromRow)]
pub struct DayRow {
    pub day: chrono::NaiveDate,
    pub revenue: Decimal,
    pub paid_orders: i64,
    pub refunded: Decimal,
}

/// One day of one vendor's sub-orders.
#[derive(Debug, Clone, FromRow)]
pub struct VendorDayRow {
    pub day: chrono::NaiveDate,
    pub sub_orders: i64,
    pub paid_sub_orders: i64,
    pub revenue: Decimal,
}

/// One vendor's figures for one date range.
#[derive(Debug, Clone, FromRow)]
pub struct VendorRow {
    pub vendor_id: i64,
    pub vendor_name: String,
    pub orders: i64,
    pub units_sold: i64,
    pub revenue: Decimal,
}

#[derive(Clone)]
pub struct Store {
    pool: MySqlPool,
}

impl Store {
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }

    // ---- facts (inside the consumer's transaction) ----

    /// The order as placed: when, for how much, and its sub-orders.
    #[instrument(name = "analytics.record_placed", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn record_placed(tx: &mut Transaction<'_, MySql>, placed: &OrderPlaced) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO orders (order_id, user_id, created_at, total, currency) VALUES (?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE created_at = VALUES(created_at), total = VALUES(total), \
             currency = VALUES(currency)",
        )
        .bind(placed.order_id)
        .bind(placed.user_id)
        .bind(placed.created_at_utc())
        .bind(placed.total_price)
        .bind(&placed.currency)
        .execute(&mut **tx)
        .await?;
        let vendors = placed.vendor_orders();
        if vendors.is_empty() {
            return Ok(());
        }
        let mut insert =
            QueryBuilder::<MySql>::new("INSERT INTO vendor_orders (order_id, vendor_id, vendor_name, units, revenue) ");
        insert.push_values(&vendors, |mut row, vendor| {
            row.push_bind(placed.order_id)
                .push_bind(vendor.vendor_id)
                .push_bind(&vendor.vendor_name)
                .push_bind(vendor.units)
                .push_bind(vendor.revenue);
        });
        insert.push(
            " ON DUPLICATE KEY UPDATE vendor_name = VALUES(vendor_name), units = VALUES(units), \
             revenue = VALUES(revenue)",
        );
        insert.build().execute(&mut **tx).await?;
        Ok(())
    }

    /// The order was cancelled (and, when it was paid then, it was paid).
    /// `total` and `currency` fill in only until OrderPlaced brings them.
    #[instrument(name = "analytics.record_cancelled", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn record_cancelled(
        tx: &mut Transaction<'_, MySql>,
        cancelled: &OrderCancelled,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO orders (order_id, user_id, total, currency, paid, cancelled) VALUES (?, ?, ?, ?, ?, TRUE) \
             ON DUPLICATE KEY UPDATE cancelled = TRUE, paid = paid OR VALUES(paid), \
             total = COALESCE(total, VALUES(total)), currency = COALESCE(currency, VALUES(currency))",
        )
        .bind(cancelled.order_id)
        .bind(cancelled.user_id)
        .bind(cancelled.total_price)
        .bind(&cancelled.currency)
        .bind(cancelled.was_paid)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// A payment of the order succeeded: the order is paid (unless it is,
    /// or turns out to be, cancelled).
    #[instrument(name = "analytics.record_paid", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn record_paid(tx: &mut Transaction<'_, MySql>, payment: &PaymentEvent) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO orders (order_id, user_id, paid) VALUES (?, ?, TRUE) ON DUPLICATE KEY UPDATE paid = TRUE",
        )
        .bind(payment.order_id)
        .bind(payment.user_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// A payment was refunded (once per payment, however often reported).
    #[instrument(name = "analytics.record_refund", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn record_refund(tx: &mut Transaction<'_, MySql>, payment: &PaymentEvent) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO refunds (payment_id, order_id, amount) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE order_id = VALUES(order_id), amount = VALUES(amount)",
        )
        .bind(payment.payment_id)
        .bind(payment.order_id)
        .bind(payment.amount)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    // ---- figures ----

    /// Counts and sums over the orders placed in `range` (an order whose
    /// OrderPlaced has not arrived has no `created_at` and is not one of
    /// them); one statement, so the figures come from one moment.
    #[instrument(name = "analytics.summary", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn summary(&self, range: &DateRange) -> Result<SummaryRow, ApiError> {
        let (start, end) = range.bounds();
        Ok(sqlx::query_as(
            "SELECT COUNT(*) AS total_orders, \
                    CAST(COALESCE(SUM(paid AND NOT cancelled), 0) AS SIGNED) AS paid_orders, \
                    CAST(COALESCE(SUM(cancelled), 0) AS SIGNED) AS cancelled_orders, \
                    CAST(COALESCE(SUM(NOT paid AND NOT cancelled), 0) AS SIGNED) AS pending_orders, \
                    COALESCE(SUM(CASE WHEN paid AND NOT cancelled THEN total END), 0) AS total_revenue, \
                    (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r \
                     JOIN orders ro ON ro.order_id = r.order_id \
                     WHERE ro.created_at BETWEEN ? AND ?) AS refunded_amount \
             FROM orders WHERE created_at BETWEEN ? AND ?",
        )
        .bind(start)
        .bind(end)
        .bind(start)
        .bind(end)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Revenue, paid orders and refunds per day of the orders placed in
    /// `range`, days without an order left out.
    #[instrument(name = "analytics.daily_revenue", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn daily_revenue(&self, range: &DateRange) -> Result<Vec<DayRow>, ApiError> {
        let (start, end) = range.bounds();
        Ok(sqlx::query_as(
            "SELECT DATE(o.created_at) AS day, \
                    COALESCE(SUM(CASE WHEN o.paid AND NOT o.cancelled THEN o.total END), 0) AS revenue, \
                    CAST(COALESCE(SUM(o.paid AND NOT o.cancelled), 0) AS SIGNED) AS paid_orders, \
                    COALESCE(SUM((SELECT SUM(r.amount) FROM refunds r WHERE r.order_id = o.order_id)), 0) AS refunded \
             FROM orders o WHERE o.created_at BETWEEN ? AND ? \
             GROUP BY DATE(o.created_at) ORDER BY day",
        )
        .bind(start)
        .bind(end)
        .fetch_all(&self.pool)
        .await?)
    }

    /// One vendor's sub-orders per day of the orders placed in `range`,
    /// days without one left out.
    #[instrument(name = "analytics.vendor_days", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn vendor_days(&self, vendor_id: i64, range: &DateRange) -> Result<Vec<VendorDayRow>, ApiError> {
        let (start, end) = range.bounds();
        Ok(sqlx::query_as(
            "SELECT DATE(o.created_at) AS day, COUNT(*) AS sub_orders, \
                    CAST(COALESCE(SUM(o.paid AND NOT o.cancelled), 0) AS SIGNED) AS paid_sub_orders, \
                    COALESCE(SUM(CASE WHEN o.paid AND NOT o.cancelled THEN v.revenue END), 0) AS revenue \
             FROM vendor_orders v JOIN orders o ON o.order_id = v.order_id \
             WHERE v.vendor_id = ? AND o.created_at BETWEEN ? AND ? \
             GROUP BY DATE(o.created_at) ORDER BY day",
        )
        .bind(vendor_id)
        .bind(start)
        .bind(end)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The vendors with a sub-order in `range`, by revenue descending then
    /// vendor id, one page of them; and how many there are. Each is named
    /// by its latest sub-order (the shop name may have changed since).
    #[instrument(name = "analytics.vendor_page", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn vendor_page(
        &self,
        range: &DateRange,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<VendorRow>), ApiError> {
        let (start, end) = range.bounds();
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(DISTINCT v.vendor_id) FROM orders o JOIN vendor_orders v ON v.order_id = o.order_id \
             WHERE o.created_at BETWEEN ? AND ?",
        )
        .bind(start)
        .bind(end)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query_as(
            "SELECT page.vendor_id, \
                    (SELECT latest.vendor_name FROM vendor_orders latest WHERE latest.vendor_id = page.vendor_id \
                     ORDER BY latest.order_id DESC LIMIT 1) AS vendor_name, \
                    page.paid_orders AS orders, page.paid_units AS units_sold, page.paid_revenue AS revenue \
             FROM (SELECT v.vendor_id, \
                          CAST(COALESCE(SUM(o.paid AND NOT o.cancelled), 0) AS SIGNED) AS paid_orders, \
                          CAST(COALESCE(SUM(CASE WHEN o.paid AND NOT o.cancelled THEN v.units END), 0) AS SIGNED) \
                              AS paid_units, \
                          COALESCE(SUM(CASE WHEN o.paid AND NOT o.cancelled THEN v.revenue END), 0) AS paid_revenue \
                   FROM orders o JOIN vendor_orders v ON v.order_id = o.order_id \
                   WHERE o.created_at BETWEEN ? AND ? \
                   GROUP BY v.vendor_id \
                   ORDER BY paid_revenue DESC, v.vendor_id \
                   LIMIT ? OFFSET ?) page \
             ORDER BY page.paid_revenue DESC, page.vendor_id",
        )
        .bind(start)
        .bind(end)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((count, rows))
    }
}
