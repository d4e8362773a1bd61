//! What cart does with other services' events: an OrderPlaced takes the
//! ordered lines out of the customer's cart — the backstop for a checkout
//! whose gateway died before it could (it runs once per order, whoever is
//! first, through `cart_removals`).
use common::events::{Handler, HandlerError};
use proto::order::v1::order_event::Event;
use sqlx::{MySql, Transaction};

use crate::store::Store;

pub struct OrderEvents;

impl Handler for OrderEvents {
    type Event = Event;

    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: Event) -> Result<(), HandlerError> {
        let Event::Placed(placed) = event else {
            return Ok(());
        };
        let lines: Vec<(i64, i64)> = placed.items.iter().map(|i| (i.product_id, i.quantity)).collect();
        Store::take_out_in(tx, placed.user_id, Some(placed.order_id), &lines).await?;
        Ok(())
    }

    /// Exhaustive, so that a new order event is a decision here.
    fn acts_on(&self, event: &Event) -> bool {
        match event {
            Event::Placed(_) => true,
            Event::Cancelled(_) => false,
        }
    }
}
