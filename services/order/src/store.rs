//! All of the order service's SQL: inventory, and orders with their items
//! and sub-orders.
//!
//! Lock order, everywhere: a customer's row (`customers`, taken only by
//! checkout, and first) before an order row (`FOR UPDATE`), an order row
//! before inventory rows, and inventory rows in product-id order. Checkout
//! locks the customer (with a cap on pending orders), writes the order and
//! decrements stock last, so a hot product's row is held only for its own
//! decrement and the commit. Nothing locks a customer's row while holding
//! another lock, so the customer lock adds no cycle.
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use common::ApiError;
use common::db::{push_in_list, retry_transient};
use common::error::UniqueKey;
use common::events::outbox;
use proto::order::v1::order_event::Event;
use rust_decimal::Decimal;
use sqlx::{FromRow, MySql, MySqlPool, QueryBuilder, Transaction};
use tokio::sync::Notify;
use tracing::instrument;

use common::status::{self, Named};

use crate::domain::{self, ItemDraft, OrderDraft, OrderStatus, PaymentStatus};

mod stock_writes;

pub use stock_writes::{Applied, Level};

/// Order's unique keys that a write may break on purpose (migrations
/// name them).
///
/// `IdempotencyKey`: one order per (customer, Idempotency-Key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    IdempotencyKey,
}

impl UniqueKey for Unique {
    const NAMES: &'static [(&'static str, Self)] = &[("orders_user_key", Unique::IdempotencyKey)];
}

#[derive(Debug, Clone, FromRow)]
pub struct OrderRow {
    pub id: i64,
    pub user_id: i64,
    pub status: String,
    pub total_price: Decimal,
    pub currency: String,
    pub payment_status: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, FromRow)]
pub struct ItemRow {
    pub id: i64,
    pub order_id: i64,
    pub vendor_order_id: i64,
    pub product_id: i64,
    pub product_name: String,
    pub sku: String,
    pub vendor_id: i64,
    pub vendor_name: String,
    pub unit_price: Decimal,
    pub quantity: i64,
    pub line_total: Decimal,
}

#[derive(Debug, Clone, FromRow)]
pub struct VendorOrderRow {
    pub id: i64,
    pub order_id: i64,
    pub vendor_id: i64,
    pub vendor_name: String,
    pub subtotal: Decimal,
    pub created_at: DateTime<Utc>,
    /// The order's status (a sub-order follows its order).
    pub status: String,
}

/// An order with everything shown about it.
#[derive(Debug, Clone)]
pub struct FullOrder {
    pub order: OrderRow,
    pub items: Vec<ItemRow>,
    pub vendor_orders: Vec<VendorOrderRow>,
}

/// A sub-order with its own items.
pub type VendorOrderWithItems = (VendorOrderRow, Vec<ItemRow>);

/// The ids a checkout's transaction was given, in the order it wrote the rows.
struct Written<'a> {
    order_id: i64,
    vendor_orders: &'a [(i64,)],
    items: &'a [(i64,)],
}

/// Every item of `draft` beside the id its sub-order was given, in the
/// order the items are written.
fn items_by_sub_order<'a>(
    draft: &'a OrderDraft,
    vendor_order_ids: &'a [(i64,)],
) -> impl Iterator<Item = (i64, &'a ItemDraft)> {
    draft.vendors.iter().zip(vendor_order_ids).flat_map(|(vendor, (id,))| vendor.items.iter().map(move |i| (*id, i)))
}

/// The order a checkout wrote, as `Store::order` would read it back.
fn written_order(
    user_id: i64,
    draft: &OrderDraft,
    currency: &str,
    (now, expires_at): (DateTime<Utc>, DateTime<Utc>),
    ids: Written<'_>,
) -> FullOrder {
    let Written { order_id, vendor_orders, items } = ids;
    let status = OrderStatus::Pending.name().to_owned();
    let order = OrderRow {
        id: order_id,
        user_id,
        status: status.clone(),
        total_price: draft.total,
        currency: currency.to_owned(),
        payment_status: None,
        created_at: now,
        updated_at: now,
        expires_at,
    };
    let items = items_by_sub_order(draft, vendor_orders)
        .zip(items)
        .map(|((vendor_order_id, item), (id,))| ItemRow {
            id: *id,
            order_id,
            vendor_order_id,
            product_id: item.product_id,
            product_name: item.name.clone(),
            sku: item.sku.clone(),
            vendor_id: item.vendor_id,
            vendor_name: item.vendor_name.clone(),
            unit_price: item.unit_price,
            quantity: item.quantity,
            line_total: item.line_total,
        })
        .collect();
    let vendor_orders = draft
        .vendors
        .iter()
        .zip(vendor_orders)
        .map(|(vendor, (id,))| VendorOrderRow {
            id: *id,
            order_id,
            vendor_id: vendor.vendor_id,
            vendor_name: vendor.vendor_name.clone(),
            subtotal: vendor.subtotal,
            created_at: now,
            status: status.clone(),
        })
        .collect();
    FullOrder { order, items, vendor_orders }
}

/// How placing an order ended.
pub enum Placed {
    /// Written: the order as a read would find it.
    Created(Box<FullOrder>),
    /// The idempotency key was used before: that order.
    Replayed(i64),
    /// A product did not have the units (it had `available` just after):
    /// nothing was written.
    Short { product_id: i64, requested: i64, available: i64 },
    /// The customer has as many unpaid orders as the cap allows: nothing
    /// was written.
    TooManyPending,
}

/// What an order is placed under, besides its customer and its lines.
#[derive(Debug, Clone, Copy)]
pub struct Checkout<'a> {
    pub currency: &'a str,
    /// How long the order holds its stock unpaid.
    pub reservation: chrono::Duration,
    /// The client's idempotency key: a second checkout under it is the
    /// first one's order.
    pub key: Option<&'a str>,
    /// Unpaid orders the customer may have at once (0: no cap).
    pub max_pending: u32,
}

/// How a cancellation ended.
pub enum Cancelled {
    Done,
    NotFound,
    /// Already cancelled (or otherwise not cancellable).
    NotCancellable,
}

macro_rules! select_orders {
    ($rest:literal) => {
        concat!(
            "SELECT id, user_id, status, total_price, currency, payment_status, created_at, updated_at, expires_at ",
            "FROM orders ",
            $rest
        )
    };
}

macro_rules! select_items {
    ($rest:literal) => {
        concat!(
            "SELECT id, order_id, vendor_order_id, product_id, product_name, sku, vendor_id, vendor_name, unit_price, ",
            "CAST(quantity AS SIGNED) AS quantity, line_total FROM order_items ",
            $rest
        )
    };
}

#[derive(Clone)]
pub struct Store {
    pool: MySqlPool,
    /// Wakes the outbox relay after a commit that wrote an event.
    wake: Arc<Notify>,
}

impl Store {
    pub fn new(pool: MySqlPool, wake: Arc<Notify>) -> Self {
        Self { pool, wake }
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    // ---- inventory ----

    /// Available units of the products that have an inventory row.
    #[instrument(name = "order.stock", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn stock(&self, product_ids: &[i64]) -> Result<Vec<(i64, i64)>, ApiError> {
        if product_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT product_id, CAST(available AS SIGNED) FROM inventory WHERE product_id IN ",
        );
        push_in_list(&mut query, product_ids.iter().copied());
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }

    // ---- orders ----

    #[instrument(name = "order.order_by_key", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn order_by_key(&self, user_id: i64, key: &str) -> Result<Option<i64>, ApiError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM orders WHERE user_id = ? AND idempotency_key = ?")
            .bind(user_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(id,)| id))
    }

    /// With a cap, first locks the customer and refuses a checkout beyond
    /// it; writes the order, its sub-orders and items (one multi-row
    /// statement each), then — last — takes the stock: one conditional
    /// decrement of every product, whose rows InnoDB locks in primary-key
    /// (product-id) order. A product without the units rolls everything
    /// back. The placed order is built from what the transaction wrote.
    #[instrument(name = "order.place_order", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn place_order(&self, user_id: i64, draft: &OrderDraft, terms: Checkout<'_>) -> Result<Placed, ApiError> {
        let Checkout { currency, reservation, key, .. } = terms;
        let attempt = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            // Microseconds, as the columns keep them: the reply equals a read.
            let now = Utc::now().trunc_subsecs(6);
            if let Some(refused) = Self::at_pending_cap(&mut tx, user_id, terms, now).await? {
                tx.rollback().await?;
                return Ok(Some(refused));
            }
            let done = sqlx::query(
                "INSERT INTO orders (user_id, status, total_price, currency, idempotency_key, created_at, updated_at, \
                 expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(user_id)
            .bind(OrderStatus::Pending.name())
            .bind(draft.total)
            .bind(currency)
            .bind(key)
            .bind(now)
            .bind(now)
            .bind(now + reservation)
            .execute(&mut *tx)
            .await?;
            let order_id = done.last_insert_id() as i64;
            let mut insert = QueryBuilder::<MySql>::new(
                "INSERT INTO vendor_orders (order_id, vendor_id, vendor_name, subtotal, created_at) ",
            );
            insert.push_values(&draft.vendors, |mut row, vendor| {
                row.push_bind(order_id)
                    .push_bind(vendor.vendor_id)
                    .push_bind(&vendor.vendor_name)
                    .push_bind(vendor.subtotal)
                    .push_bind(now);
            });
            insert.push(" RETURNING id");
            let vendor_order_ids: Vec<(i64,)> = insert.build_query_as().fetch_all(&mut *tx).await?;
            let mut insert = QueryBuilder::<MySql>::new(
                "INSERT INTO order_items (order_id, vendor_order_id, product_id, product_name, sku, vendor_id, \
                 vendor_name, unit_price, quantity, line_total) ",
            );
            insert.push_values(items_by_sub_order(draft, &vendor_order_ids), |mut row, (vendor_order_id, item)| {
                row.push_bind(order_id)
                    .push_bind(vendor_order_id)
                    .push_bind(item.product_id)
                    .push_bind(&item.name)
                    .push_bind(&item.sku)
                    .push_bind(item.vendor_id)
                    .push_bind(&item.vendor_name)
                    .push_bind(item.unit_price)
                    .push_bind(item.quantity)
                    .push_bind(item.line_total);
            });
            insert.push(" RETURNING id");
            let item_ids: Vec<(i64,)> = insert.build_query_as().fetch_all(&mut *tx).await?;
            let placed = domain::order_placed(order_id, user_id, draft, currency, now);
            outbox::enqueue(&mut tx, &Event::Placed(placed)).await?;
            if !Self::take_stock(&mut tx, &draft.decrements()).await? {
                tx.rollback().await?;
                return Ok(None);
            }
            tx.commit().await?;
            self.wake.notify_one();
            let ids = Written { order_id, vendor_orders: &vendor_order_ids, items: &item_ids };
            let order = written_order(user_id, draft, currency, (now, now + reservation), ids);
            Ok(Some(Placed::Created(Box::new(order))))
        })
        .await;
        match attempt {
            Ok(Some(placed)) => Ok(placed),
            Ok(None) => self.short(&draft.decrements()).await,
            // The same key raced us: the other request's order is the answer.
            Err(e) if Unique::broken_by(&e) == Some(Unique::IdempotencyKey) => {
                let id = self.order_by_key(user_id, key.unwrap_or_default()).await?.ok_or_else(ApiError::not_found)?;
                Ok(Placed::Replayed(id))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Takes every `(product, quantity)` in one statement, only if each
    /// product has the units; false (nothing to keep) when one has not.
    async fn take_stock(tx: &mut Transaction<'_, MySql>, decrements: &[(i64, i64)]) -> Result<bool, sqlx::Error> {
        let case = |query: &mut QueryBuilder<MySql>| {
            query.push("CASE product_id");
            for (product_id, quantity) in decrements {
                query.push(" WHEN ").push_bind(*product_id).push(" THEN ").push_bind(*quantity);
            }
            query.push(" END");
        };
        let mut update = QueryBuilder::<MySql>::new("UPDATE inventory SET available = available - ");
        case(&mut update);
        update.push(" WHERE product_id IN ");
        push_in_list(&mut update, decrements.iter().map(|(product_id, _)| *product_id));
        update.push(" AND available >= ");
        case(&mut update);
        let taken = update.build().execute(&mut **tx).await?;
        Ok(taken.rows_affected() == decrements.len() as u64)
    }

    /// The product that was short when a checkout rolled back: the first
    /// (by id) without the units now, else the one with the least to spare
    /// (units came back meanwhile).
    async fn short(&self, decrements: &[(i64, i64)]) -> Result<Placed, ApiError> {
        let ids: Vec<i64> = decrements.iter().map(|(product_id, _)| *product_id).collect();
        let levels: HashMap<i64, i64> = self.stock(&ids).await?.into_iter().collect();
        let spare = |(product_id, quantity): &(i64, i64)| levels.get(product_id).copied().unwrap_or(0) - quantity;
        let short = decrements.iter().find(|d| spare(d) < 0).or_else(|| decrements.iter().min_by_key(|d| spare(d)));
        let (product_id, requested) = short.copied().unwrap_or_default();
        Ok(Placed::Short { product_id, requested, available: levels.get(&product_id).copied().unwrap_or(0) })
    }

    /// The cap on unpaid orders, inside the checkout's transaction: locks
    /// the customer's row (made on their first checkout), then counts their
    /// pending orders that have not expired (by `orders_user_status_expires`).
    /// Concurrent checkouts of one customer wait for each other here and
    /// each counts the orders the others committed (READ COMMITTED reads
    /// the latest commit), so together they never pass the cap. `Some` at
    /// the cap: the order already placed under the same key, when a replay
    /// raced its first request (the cap must not turn it into a refusal),
    /// else the refusal. Without a cap, nothing is locked.
    async fn at_pending_cap(
        tx: &mut Transaction<'_, MySql>,
        user_id: i64,
        terms: Checkout<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<Placed>, sqlx::Error> {
        if terms.max_pending == 0 {
            return Ok(None);
        }
        // On a duplicate key the upsert takes the row's exclusive lock even
        // though it changes nothing: one statement to make and lock the row.
        sqlx::query("INSERT INTO customers (user_id) VALUES (?) ON DUPLICATE KEY UPDATE user_id = user_id")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        let (pending,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM orders WHERE user_id = ? AND status = ? AND expires_at > ?")
                .bind(user_id)
                .bind(OrderStatus::Pending.name())
                .bind(now)
                .fetch_one(&mut **tx)
                .await?;
        if pending < i64::from(terms.max_pending) {
            return Ok(None);
        }
        if let Some(key) = terms.key {
            let first: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM orders WHERE user_id = ? AND idempotency_key = ?")
                    .bind(user_id)
                    .bind(key)
                    .fetch_optional(&mut **tx)
                    .await?;
            if let Some((id,)) = first {
                return Ok(Some(Placed::Replayed(id)));
            }
        }
        Ok(Some(Placed::TooManyPending))
    }

    #[instrument(name = "order.order", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn order(&self, id: i64) -> Result<Option<FullOrder>, ApiError> {
        let Some(order) =
            sqlx::query_as::<_, OrderRow>(select_orders!("WHERE id = ?")).bind(id).fetch_optional(&self.pool).await?
        else {
            return Ok(None);
        };
        let items =
            sqlx::query_as(select_items!("WHERE order_id = ? ORDER BY id")).bind(id).fetch_all(&self.pool).await?;
        let vendor_orders = sqlx::query_as(
            "SELECT vo.id, vo.order_id, vo.vendor_id, vo.vendor_name, vo.subtotal, vo.created_at, o.status \
             FROM vendor_orders vo JOIN orders o ON o.id = vo.order_id WHERE vo.order_id = ? ORDER BY vo.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(FullOrder { order, items, vendor_orders }))
    }

    /// A page of order ids, newest first, with the total count.
    #[instrument(name = "order.order_ids", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn order_ids(
        &self,
        user: Option<i64>,
        status: Option<OrderStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<i64>), ApiError> {
        let filter = |query: &mut QueryBuilder<MySql>| {
            query.push(" WHERE 1 = 1");
            if let Some(user) = user {
                query.push(" AND user_id = ").push_bind(user);
            }
            if let Some(status) = status {
                query.push(" AND status = ").push_bind(status.name());
            }
        };
        let mut count = QueryBuilder::<MySql>::new("SELECT COUNT(*) FROM orders");
        filter(&mut count);
        let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;
        let mut page = QueryBuilder::<MySql>::new("SELECT id FROM orders");
        filter(&mut page);
        page.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
        let ids: Vec<(i64,)> = page.build_query_as().fetch_all(&self.pool).await?;
        Ok((total, ids.into_iter().map(|(id,)| id).collect()))
    }

    /// A vendor's sub-orders, newest first, each with only its own items.
    #[instrument(name = "order.vendor_orders", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn vendor_orders(
        &self,
        vendor_id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<VendorOrderWithItems>), ApiError> {
        let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM vendor_orders WHERE vendor_id = ?")
            .bind(vendor_id)
            .fetch_one(&self.pool)
            .await?;
        let rows: Vec<VendorOrderRow> = sqlx::query_as(
            "SELECT vo.id, vo.order_id, vo.vendor_id, vo.vendor_name, vo.subtotal, vo.created_at, o.status \
             FROM vendor_orders vo JOIN orders o ON o.id = vo.order_id WHERE vo.vendor_id = ? \
             ORDER BY vo.created_at DESC, vo.id DESC LIMIT ? OFFSET ?",
        )
        .bind(vendor_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let mut page = Vec::with_capacity(rows.len());
        for row in rows {
            let items = sqlx::query_as(select_items!("WHERE vendor_order_id = ? ORDER BY id"))
                .bind(row.id)
                .fetch_all(&self.pool)
                .await?;
            page.push((row, items));
        }
        Ok((total, page))
    }

    /// Cancels an order and puts every line's stock back, exactly once:
    /// the order row is locked and its status checked, so of two
    /// concurrent cancellations one finds it already cancelled. `only`
    /// restricts which statuses may be cancelled (the reaper: pending).
    #[instrument(name = "order.cancel", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn cancel(&self, id: i64, only: &[OrderStatus], reason: &str) -> Result<Cancelled, ApiError> {
        let outcome = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            let outcome = Self::cancel_in(&mut tx, id, only, reason).await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await?;
        if matches!(outcome, Cancelled::Done) {
            self.wake.notify_one();
        }
        Ok(outcome)
    }

    /// Cancels inside `tx` (see `cancel`), with its OrderCancelled event.
    #[instrument(name = "order.cancel_in", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn cancel_in(
        tx: &mut Transaction<'_, MySql>,
        id: i64,
        only: &[OrderStatus],
        reason: &str,
    ) -> Result<Cancelled, sqlx::Error> {
        let row: Option<(String, i64, Decimal, String)> =
            sqlx::query_as("SELECT status, user_id, total_price, currency FROM orders WHERE id = ? FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        let Some((status, user_id, total, currency)) = row else {
            return Ok(Cancelled::NotFound);
        };
        let previous = status::stored::<OrderStatus>(&status);
        if !(domain::cancellable(previous) && only.contains(&previous)) {
            return Ok(Cancelled::NotCancellable);
        }
        sqlx::query("UPDATE orders SET status = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ? AND status = ?")
            .bind(OrderStatus::Cancelled.name())
            .bind(id)
            .bind(previous.name())
            .execute(&mut **tx)
            .await?;
        let lines: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT product_id, CAST(SUM(quantity) AS SIGNED) FROM order_items WHERE order_id = ? \
             GROUP BY product_id ORDER BY product_id",
        )
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
        for (product_id, quantity) in &lines {
            sqlx::query("UPDATE inventory SET available = available + ? WHERE product_id = ?")
                .bind(quantity)
                .bind(product_id)
                .execute(&mut **tx)
                .await?;
        }
        let cancelled = domain::order_cancelled(id, user_id, previous, reason, total, currency);
        outbox::enqueue(tx, &Event::Cancelled(cancelled)).await?;
        Ok(Cancelled::Done)
    }

    /// Records a payment's status on its order, unless a newer payment of
    /// the order, or a later status of this one, is already recorded
    /// (`domain::payment_supersedes`); false when it was not recorded.
    #[instrument(name = "order.record_payment_in", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn record_payment_in(
        tx: &mut Transaction<'_, MySql>,
        order_id: i64,
        payment_id: i64,
        status: PaymentStatus,
    ) -> Result<bool, sqlx::Error> {
        // Locks the order row: concurrent events of one order apply in turn.
        let recorded: Option<(Option<i64>, Option<String>)> =
            sqlx::query_as("SELECT payment_id, payment_status FROM orders WHERE id = ? FOR UPDATE")
                .bind(order_id)
                .fetch_optional(&mut **tx)
                .await?;
        let Some((recorded_id, recorded_status)) = recorded else { return Ok(false) };
        let recorded =
            recorded_id.map(|id| (id, recorded_status.map_or(PaymentStatus::Pending, |s| status::stored(&s))));
        if !domain::payment_supersedes(recorded, (payment_id, status)) {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE orders SET payment_id = ?, payment_status = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?",
        )
        .bind(payment_id)
        .bind(status.name())
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
        Ok(true)
    }

    /// `pending → paid`; false when the order is not pending.
    #[instrument(name = "order.mark_paid_in", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn mark_paid_in(tx: &mut Transaction<'_, MySql>, order_id: i64) -> Result<bool, sqlx::Error> {
        let done =
            sqlx::query("UPDATE orders SET status = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ? AND status = ?")
                .bind(OrderStatus::Paid.name())
                .bind(order_id)
                .bind(OrderStatus::Pending.name())
                .execute(&mut **tx)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A payment succeeded for an order that is already cancelled: say so
    /// again (OrderCancelled), so the payment service refunds it.
    #[instrument(name = "order.refund_late_payment_in", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn refund_late_payment_in(tx: &mut Transaction<'_, MySql>, order_id: i64) -> Result<(), sqlx::Error> {
        let row: Option<(String, i64, Decimal, String)> =
            sqlx::query_as("SELECT status, user_id, total_price, currency FROM orders WHERE id = ?")
                .bind(order_id)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some((status, user_id, total, currency)) = row
            && status::stored::<OrderStatus>(&status) == OrderStatus::Cancelled
        {
            let cancelled = domain::order_cancelled(
                order_id,
                user_id,
                OrderStatus::Cancelled,
                "paid_after_cancel",
                total,
                currency,
            );
            outbox::enqueue(tx, &Event::Cancelled(cancelled)).await?;
        }
        Ok(())
    }

    /// Pending orders whose reservation ran out, oldest first.
    #[instrument(name = "order.expired_orders", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn expired_orders(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<i64>, ApiError> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM orders WHERE status = ? AND expires_at <= ? ORDER BY expires_at LIMIT ?")
                .bind(OrderStatus::Pending.name())
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

/// The name a product had in an order draft (for the stock error).
pub fn product_name(draft: &OrderDraft, product_id: i64) -> String {
    draft
        .vendors
        .iter()
        .flat_map(|v| &v.items)
        .find(|i| i.product_id == product_id)
        .map(|i| i.name.clone())
        .unwrap_or_default()
}

/// The stock error for a short product, with what it had just after.
pub fn short_error(draft: &OrderDraft, product_id: i64, requested: i64, available: i64) -> ApiError {
    domain::insufficient_stock(&product_name(draft, product_id), product_id, requested, available)
}
