//! What the order service does with payment events: it records the latest
//! payment's status on the order (only ever forward: replicas may handle a
//! payment's events out of order), marks a pending order paid when its
//! payment succeeds, and cancels the order (stock restored once) when the
//! provider refunds it. A payment that succeeds for an order already
//! cancelled (its reservation expired meanwhile) is sent back for a refund
//! by cancelling again: the payment service refunds on OrderCancelled.
use common::events::{Handler, HandlerError};
use proto::payment::v1::payment_event::Event;
use sqlx::{MySql, Transaction};

use crate::domain::{OrderStatus, PaymentStatus};
use crate::store::{Cancelled, Store};

pub struct PaymentEvents;

impl Handler for PaymentEvents {
    type Event = Event;

    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: Event) -> Result<(), HandlerError> {
        let (payment, status) = match &event {
            Event::Created(p) => (p, PaymentStatus::Pending),
            Event::Succeeded(p) => (p, PaymentStatus::Succeeded),
            Event::Failed(p) => (p, PaymentStatus::Failed),
            Event::Refunded(p) => (p, PaymentStatus::Refunded),
        };
        let recorded = Store::record_payment_in(tx, payment.order_id, payment.payment_id, status).await?;
        match event {
            // Already refunded (the events of one payment may be handled
            // out of order by different replicas): it must not pay the order.
            Event::Succeeded(payment) if !recorded => {
                tracing::info!(
                    order = payment.order_id,
                    payment = payment.payment_id,
                    "stale PaymentSucceeded ignored"
                );
            }
            Event::Succeeded(payment) => {
                let paid = Store::mark_paid_in(tx, payment.order_id).await?;
                if !paid {
                    Store::refund_late_payment_in(tx, payment.order_id).await?;
                }
            }
            Event::Refunded(payment) => {
                // Pending too: its PaymentSucceeded may not have been handled yet.
                let cancellable = [OrderStatus::Pending, OrderStatus::Paid];
                let outcome = Store::cancel_in(tx, payment.order_id, &cancellable, "provider_refund").await?;
                if matches!(outcome, Cancelled::Done) {
                    tracing::info!(order = payment.order_id, "order cancelled after a provider refund");
                }
            }
            Event::Created(_) | Event::Failed(_) => {}
        }
        Ok(())
    }
}
