//! What analytics does with the order and payment events: each one adds
//! its fact to the tables (see `store`), whatever order they come in.
//! `PaymentFailed` changes no figure, and any other type is not ours: both
//! are acknowledged without effect.
use common::events::{Event, Handler, HandlerError};
use sqlx::{MySql, Transaction};

use crate::store::Store;

/// The order stream: `OrderPlaced`, `OrderCancelled`.
pub struct OrderEvents;

impl Handler for OrderEvents {
    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: &Event) -> Result<(), HandlerError> {
        match event.event_type.as_str() {
            "OrderPlaced" => Store::record_placed(tx, &event.payload_as()?).await?,
            "OrderCancelled" => Store::record_cancelled(tx, &event.payload_as()?).await?,
            _ => {}
        }
        Ok(())
    }
}

/// The payment stream: `PaymentSucceeded`, `PaymentRefunded`.
pub struct PaymentEvents;

impl Handler for PaymentEvents {
    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: &Event) -> Result<(), HandlerError> {
        match event.event_type.as_str() {
            "PaymentSucceeded" => Store::record_paid(tx, &event.payload_as()?).await?,
            "PaymentRefunded" => Store::record_refund(tx, &event.payload_as()?).await?,
            _ => {}
        }
        Ok(())
    }
}
