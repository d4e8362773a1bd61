//! What analytics does with the order and payment events: each one adds
//! its fact to the tables (see `store`), whatever order they come in.
//! `PaymentCreated` and `PaymentFailed` change no figure: they are
//! acknowledged without a transaction (`acts_on`).
use common::events::{Handler, HandlerError};
use proto::order::v1::order_event::Event as OrderEvent;
use proto::payment::v1::payment_event::Event as PaymentEvent;
use sqlx::{MySql, Transaction};

use crate::store::Store;

/// The order stream: `OrderPlaced`, `OrderCancelled`.
pub struct OrderEvents;

impl Handler for OrderEvents {
    type Event = OrderEvent;

    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: OrderEvent) -> Result<(), HandlerError> {
        match event {
            OrderEvent::Placed(placed) => Store::record_placed(tx, &placed.try_into()?).await?,
            OrderEvent::Cancelled(cancelled) => Store::record_cancelled(tx, &cancelled.try_into()?).await?,
        }
        Ok(())
    }
}

/// The payment stream: `PaymentSucceeded`, `PaymentRefunded`.
pub struct PaymentEvents;

impl Handler for PaymentEvents {
    type Event = PaymentEvent;

    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: PaymentEvent) -> Result<(), HandlerError> {
        match event {
            PaymentEvent::Succeeded(payment) => Store::record_paid(tx, &payment.try_into()?).await?,
            PaymentEvent::Refunded(payment) => Store::record_refund(tx, &payment.try_into()?).await?,
            PaymentEvent::Created(_) | PaymentEvent::Failed(_) => {}
        }
        Ok(())
    }

    /// Exhaustive, so that a new payment event is a decision here.
    fn acts_on(&self, event: &PaymentEvent) -> bool {
        match event {
            PaymentEvent::Succeeded(_) | PaymentEvent::Refunded(_) => true,
            PaymentEvent::Created(_) | PaymentEvent::Failed(_) => false,
        }
    }
}
