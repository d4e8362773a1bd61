//! All of payment's SQL. One open payment per order is the generated
//! unique key's job; each provider event id is a unique row; every status
//! move is `UPDATE … WHERE status = ?` and commits with its outbox event.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::db::retry_transient;
use common::error::UniqueKey;
use common::events::outbox;
use common::status::Named;
use common::{ApiError, money};
use proto::payment::v1::PaymentRecord;
use proto::payment::v1::payment_event::Event;
use rust_decimal::Decimal;
use sqlx::{FromRow, MySql, MySqlPool, Transaction};
use tokio::sync::Notify;
use tracing::instrument;

use crate::domain::{self, EventKind, PaymentStatus, ProviderEvent};

/// Payment's unique keys that a write may break on purpose (migrations
/// name them).
///
/// `OpenPayment`: one payment per order that has not failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    OpenPayment,
}

impl UniqueKey for Unique {
    const NAMES: &'static [(&'static str, Self)] = &[("payments_open_order", Unique::OpenPayment)];
}

#[derive(Debug, Clone, FromRow)]
pub struct PaymentRow {
    pub id: i64,
    pub order_id: i64,
    pub user_id: i64,
    pub amount: Decimal,
    pub currency: String,
    pub status: String,
    pub provider: String,
    pub provider_payment_id: String,
    pub client_secret: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new payment's fields.
pub struct NewPayment<'a> {
    pub order_id: i64,
    pub user_id: i64,
    pub amount: Decimal,
    pub currency: &'a str,
    pub provider: &'a str,
    pub provider_payment_id: &'a str,
    pub client_secret: &'a str,
}

/// What applying a provider event did.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// The event id was seen before.
    Duplicate,
    /// Unknown payment or a move the state machine refuses: recorded, no effect.
    Ignored,
    /// Amount or currency differ from the payment's: nothing recorded.
    Mismatch,
}

macro_rules! select_payments {
    ($rest:literal) => {
        concat!(
            "SELECT id, order_id, user_id, amount, currency, status, provider, provider_payment_id, client_secret, ",
            "created_at, updated_at FROM payments ",
            $rest
        )
    };
}

/// The event announcing that `p` moved to `status`.
pub fn announcement(p: &PaymentRow, status: PaymentStatus) -> Event {
    let record = PaymentRecord {
        payment_id: p.id,
        order_id: p.order_id,
        user_id: p.user_id,
        amount: money::to_text(p.amount),
        currency: p.currency.clone(),
        provider_payment_id: p.provider_payment_id.clone(),
    };
    match status {
        // `Unspecified` is never a move's target: `move_in` refuses it first.
        PaymentStatus::Pending | PaymentStatus::Unspecified => Event::Created(record),
        PaymentStatus::Succeeded => Event::Succeeded(record),
        PaymentStatus::Failed => Event::Failed(record),
        PaymentStatus::Refunded => Event::Refunded(record),
    }
}

#[derive(Clone)]
pub struct Store {
    pool: MySqlPool,
    wake: Arc<Notify>,
}

impl Store {
    pub fn new(pool: MySqlPool, wake: Arc<Notify>) -> Self {
        Self { pool, wake }
    }

    #[instrument(name = "payment.payment", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn payment(&self, id: i64) -> Result<Option<PaymentRow>, ApiError> {
        Ok(sqlx::query_as(select_payments!("WHERE id = ?")).bind(id).fetch_optional(&self.pool).await?)
    }

    /// An order's payments, oldest first (a handful: one open at a time).
    pub async fn order_payments(&self, order_id: i64) -> Result<Vec<PaymentRow>, ApiError> {
        Ok(sqlx::query_as(select_payments!("WHERE order_id = ? ORDER BY id LIMIT 100"))
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn open_payment(&self, order_id: i64) -> Result<Option<PaymentRow>, ApiError> {
        Ok(sqlx::query_as(select_payments!("WHERE open_order_id = ?"))
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The order's open payment: the new one (true) or the one that was
    /// already there (false) — concurrent callers meet on the unique key.
    #[instrument(name = "payment.open", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn open(&self, new: &NewPayment<'_>) -> Result<(PaymentRow, bool), ApiError> {
        let inserted = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query(
                "INSERT INTO payments (order_id, user_id, amount, currency, status, provider, provider_payment_id, \
                 client_secret) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(new.order_id)
            .bind(new.user_id)
            .bind(new.amount)
            .bind(new.currency)
            .bind(PaymentStatus::Pending.name())
            .bind(new.provider)
            .bind(new.provider_payment_id)
            .bind(new.client_secret)
            .execute(&mut *tx)
            .await?;
            let id = done.last_insert_id() as i64;
            let row: PaymentRow = sqlx::query_as(select_payments!("WHERE id = ?")).bind(id).fetch_one(&mut *tx).await?;
            outbox::enqueue(&mut tx, &announcement(&row, PaymentStatus::Pending)).await?;
            tx.commit().await?;
            Ok(row)
        })
        .await;
        match inserted {
            Ok(row) => {
                self.wake.notify_one();
                Ok((row, true))
            }
            Err(e) if Unique::broken_by(&e) == Some(Unique::OpenPayment) => {
                let row = self
                    .open_payment(new.order_id)
                    .await?
                    .ok_or_else(|| ApiError::internal("open payment vanished"))?;
                Ok((row, false))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Moves a payment to `to` if it is in the status that move comes
    /// from, with its event, inside `tx`. False when the move does not fit.
    async fn move_in(
        tx: &mut Transaction<'_, MySql>,
        payment: &PaymentRow,
        to: PaymentStatus,
    ) -> Result<bool, sqlx::Error> {
        let Some(from) = domain::comes_from(to) else {
            return Ok(false);
        };
        let done = sqlx::query(
            "UPDATE payments SET status = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ? AND status = ?",
        )
        .bind(to.name())
        .bind(payment.id)
        .bind(from.name())
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        outbox::enqueue(tx, &announcement(payment, to)).await?;
        Ok(true)
    }

    /// Applies a verified provider event exactly once.
    #[instrument(name = "payment.apply", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn apply(&self, event: &ProviderEvent, kind: Option<EventKind>) -> Result<Applied, ApiError> {
        let applied = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            let first = sqlx::query("INSERT IGNORE INTO webhook_events (event_id, event_type) VALUES (?, ?)")
                .bind(&event.id)
                .bind(&event.event_type)
                .execute(&mut *tx)
                .await?;
            if first.rows_affected() == 0 {
                return Ok(Applied::Duplicate);
            }
            let payment: Option<PaymentRow> =
                sqlx::query_as(select_payments!("WHERE provider_payment_id = ? FOR UPDATE"))
                    .bind(&event.provider_payment_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (Some(payment), Some(kind)) = (payment, kind) else {
                tx.commit().await?;
                return Ok(Applied::Ignored);
            };
            if !domain::matches_payment(event, payment.amount, &payment.currency) {
                tx.rollback().await?;
                return Ok(Applied::Mismatch);
            }
            let moved = Self::move_in(&mut tx, &payment, kind.target()).await?;
            tx.commit().await?;
            Ok(if moved { Applied::Applied } else { Applied::Ignored })
        })
        .await?;
        if applied == Applied::Applied {
            self.wake.notify_one();
        }
        Ok(applied)
    }

    /// The order's succeeded payment, locked, inside `tx` (for a refund).
    #[instrument(name = "payment.succeeded_payment_in", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn succeeded_payment_in(
        tx: &mut Transaction<'_, MySql>,
        order_id: i64,
    ) -> Result<Option<PaymentRow>, sqlx::Error> {
        sqlx::query_as(select_payments!("WHERE order_id = ? AND status = ? FOR UPDATE"))
            .bind(order_id)
            .bind(PaymentStatus::Succeeded.name())
            .fetch_optional(&mut **tx)
            .await
    }

    /// Marks a succeeded payment refunded inside `tx`, with its event.
    #[instrument(name = "payment.mark_refunded_in", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn mark_refunded_in(tx: &mut Transaction<'_, MySql>, payment: &PaymentRow) -> Result<bool, sqlx::Error> {
        Self::move_in(tx, payment, PaymentStatus::Refunded).await
    }
}
