//! What payment does with the order service's events: an OrderCancelled
//! refunds that order's succeeded payment at the provider and marks it
//! refunded, once (the status move is conditional, and the consumer
//! applies each event once).
use std::sync::Arc;

use common::events::{Handler, HandlerError};
use proto::order::v1::order_event::Event;
use sqlx::{MySql, Transaction};

use crate::provider::PaymentProvider;
use crate::store::Store;

pub struct OrderEvents {
    pub provider: Arc<dyn PaymentProvider>,
}

impl Handler for OrderEvents {
    type Event = Event;

    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: Event) -> Result<(), HandlerError> {
        let Event::Cancelled(cancelled) = event else {
            return Ok(());
        };
        let Some(payment) = Store::succeeded_payment_in(tx, cancelled.order_id).await? else {
            return Ok(());
        };
        // The provider refund happens before the commit: if the commit is
        // lost, the event is re-delivered and the refund asked again, which
        // providers treat idempotently per payment.
        self.provider.refund(&payment.provider_payment_id, payment.amount).await?;
        Store::mark_refunded_in(tx, &payment).await?;
        tracing::info!(
            order = cancelled.order_id,
            payment = payment.id,
            "payment refunded after its order was cancelled"
        );
        Ok(())
    }

    /// Exhaustive, so that a new order event is a decision here.
    fn acts_on(&self, event: &Event) -> bool {
        match event {
            Event::Cancelled(_) => true,
            Event::Placed(_) => false,
        }
    }
}
