//! What cart does with other services' events: an OrderPlaced takes the
//! ordered lines out of the customer's cart — the backstop for a checkout
//! whose gateway died before it could (it runs once per order, whoever is
//! first, through `cart_removals`).
use common::events::{Event, Handler, HandlerError};
use serde::Deserialize;
use sqlx::{MySql, Transaction};

use crate::store::Store;

#[derive(Deserialize)]
struct PlacedItem {
    product_id: i64,
    quantity: i64,
}

#[derive(Deserialize)]
struct OrderPlaced {
    order_id: i64,
    user_id: i64,
    items: Vec<PlacedItem>,
}

pub struct OrderEvents;

impl Handler for OrderEvents {
    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: &Event) -> Result<(), HandlerError> {
        if event.event_type != "OrderPlaced" {
            return Ok(());
        }
        let placed: OrderPlaced = event.payload_as()?;
        let lines: Vec<(i64, i64)> = placed.items.iter().map(|i| (i.product_id, i.quantity)).collect();
        Store::take_out_in(tx, placed.user_id, Some(placed.order_id), &lines).await?;
        Ok(())
    }
}
