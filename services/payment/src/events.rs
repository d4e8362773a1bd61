//! What payment does with the order service's events: an OrderCancelled
//! refunds that order's succeeded payment at the provider and marks it
//! refunded, once (the status move is conditional, and the consumer
//! applies each event once).
use std::sync::Arc;

use common::events::{Event, Handler, HandlerError};
use serde::Deserialize;
use sqlx::{MySql, Transaction};

use crate::provider::PaymentProvider;
use crate::store::Store;

#[derive(Deserialize)]
struct OrderCancelled {
    order_id: i64,
}

pub struct OrderEvents {
    pub provider: Arc<dyn PaymentProvider>,
}

impl Handler for OrderEvents {
    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: &Event) -> Result<(), HandlerError> {
        if event.event_type != "OrderCancelled" {
            return Ok(());
        }
        let cancelled: OrderCancelled = event.payload_as()?;
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
}
