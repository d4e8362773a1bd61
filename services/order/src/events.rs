//! What the order service does with payment events: it records the latest
//! payment's status on the order (only ever forward: replicas may handle a
//! payment's events out of order), marks a pending order paid when its
//! payment succeeds, and cancels the order (stock restored once) when the
//! provider refunds it. A payment that succeeds for an order already
//! cancelled (its reservation expired meanwhile) is sent back for a refund
//! by cancelling again: the payment service refunds on OrderCancelled.
use common::events::{Event, Handler, HandlerError};
use serde::Deserialize;
use sqlx::{MySql, Transaction};

use crate::domain::OrderStatus;
use crate::store::{Cancelled, Store};

#[derive(Deserialize)]
struct PaymentEvent {
    payment_id: i64,
    order_id: i64,
    status: String,
}

pub struct PaymentEvents;

impl Handler for PaymentEvents {
    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: &Event) -> Result<(), HandlerError> {
        let known = ["PaymentCreated", "PaymentSucceeded", "PaymentFailed", "PaymentRefunded"];
        if !known.contains(&event.event_type.as_str()) {
            return Ok(());
        }
        let payment: PaymentEvent = event.payload_as()?;
        let recorded = Store::record_payment_in(tx, payment.order_id, payment.payment_id, &payment.status).await?;
        match event.event_type.as_str() {
            // Already refunded (the events of one payment may be handled
            // out of order by different replicas): it must not pay the order.
            "PaymentSucceeded" if !recorded => {
                tracing::info!(
                    order = payment.order_id,
                    payment = payment.payment_id,
                    "stale PaymentSucceeded ignored"
                );
            }
            "PaymentSucceeded" => {
                let paid = Store::mark_paid_in(tx, payment.order_id).await?;
                if !paid {
                    Store::refund_late_payment_in(tx, payment.order_id).await?;
                }
            }
            "PaymentRefunded" => {
                // Pending too: its PaymentSucceeded may not have been handled yet.
                let cancellable = [OrderStatus::Pending, OrderStatus::Paid];
                let outcome = Store::cancel_in(tx, payment.order_id, &cancellable, "provider_refund").await?;
                if matches!(outcome, Cancelled::Done) {
                    tracing::info!(order = payment.order_id, "order cancelled after a provider refund");
                }
            }
            _ => {}
        }
        Ok(())
    }
}
