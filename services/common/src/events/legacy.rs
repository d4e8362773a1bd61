//! Events as they were written before they were proto messages: a JSON
//! object per event, its type in the entry. Outbox rows, stream entries
//! and parked events from then may still be waiting at an upgrade, so they
//! are read into today's messages here, and only here. This format is
//! frozen: nothing writes it any more, so it never changes; once no
//! service can hold such an event (a week after the upgrade, when outbox,
//! streams and `processed_events` have been purged), this module goes.
use chrono::{DateTime, Utc};
use proto::order::v1 as order;
use proto::payment::v1 as payment;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::proto_time::timestamp;

#[derive(Deserialize)]
struct OrderPlaced {
    order_id: i64,
    user_id: i64,
    #[serde(default)]
    total_price: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    items: Vec<PlacedItem>,
    created_at: Option<DateTime<Utc>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct PlacedItem {
    product_id: i64,
    vendor_id: i64,
    vendor_name: String,
    quantity: i64,
    unit_price: String,
    line_total: String,
}

#[derive(Deserialize)]
struct OrderCancelled {
    order_id: i64,
    user_id: i64,
    #[serde(default)]
    previous_status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    total_price: String,
    #[serde(default)]
    currency: String,
}

#[derive(Deserialize)]
struct Payment {
    payment_id: i64,
    order_id: i64,
    user_id: i64,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    provider_payment_id: String,
}

fn parse<T: DeserializeOwned>(type_name: &str, json: &[u8]) -> Result<T, String> {
    serde_json::from_slice(json).map_err(|e| format!("the JSON payload of a {type_name} cannot be read: {e}"))
}

fn unknown(type_name: &str) -> String {
    format!("an event type this service does not know: {type_name:?}")
}

/// `OrderPlaced` and `OrderCancelled` of the order stream.
pub(super) fn order_event(type_name: &str, json: &[u8]) -> Result<order::order_event::Event, String> {
    use order::order_event::Event;
    match type_name {
        "OrderPlaced" => {
            let placed: OrderPlaced = parse(type_name, json)?;
            Ok(Event::Placed(order::OrderPlaced {
                order_id: placed.order_id,
                user_id: placed.user_id,
                total_price: placed.total_price,
                currency: placed.currency,
                items: placed
                    .items
                    .into_iter()
                    .map(|i| order::PlacedItem {
                        product_id: i.product_id,
                        vendor_id: i.vendor_id,
                        vendor_name: i.vendor_name,
                        quantity: i.quantity,
                        unit_price: i.unit_price,
                        line_total: i.line_total,
                    })
                    .collect(),
                created_at: placed.created_at.map(timestamp),
            }))
        }
        "OrderCancelled" => {
            let cancelled: OrderCancelled = parse(type_name, json)?;
            let previous = order::OrderStatus::from_str_name(&format!(
                "ORDER_STATUS_{}",
                cancelled.previous_status.to_ascii_uppercase()
            ))
            .ok_or_else(|| format!("an OrderCancelled with previous_status {:?}", cancelled.previous_status))?;
            Ok(Event::Cancelled(order::OrderCancelled {
                order_id: cancelled.order_id,
                user_id: cancelled.user_id,
                previous_status: previous.into(),
                reason: cancelled.reason,
                total_price: cancelled.total_price,
                currency: cancelled.currency,
            }))
        }
        _ => Err(unknown(type_name)),
    }
}

/// The four moves of the payment stream, which all carried the payment.
pub(super) fn payment_event(type_name: &str, json: &[u8]) -> Result<payment::payment_event::Event, String> {
    use payment::payment_event::Event;
    let case = match type_name {
        "PaymentCreated" => Event::Created,
        "PaymentSucceeded" => Event::Succeeded,
        "PaymentFailed" => Event::Failed,
        "PaymentRefunded" => Event::Refunded,
        _ => return Err(unknown(type_name)),
    };
    let p: Payment = parse(type_name, json)?;
    Ok(case(payment::PaymentRecord {
        payment_id: p.payment_id,
        order_id: p.order_id,
        user_id: p.user_id,
        amount: p.amount,
        currency: p.currency,
        provider_payment_id: p.provider_payment_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the order service wrote for an order before the upgrade.
    const PLACED: &str = r#"{"order_id": 12, "user_id": 5, "total_price": "39.98", "currency": "USD",
        "items": [{"product_id": 3, "vendor_id": 2, "vendor_name": "Acme", "quantity": 2,
                   "unit_price": "19.99", "line_total": "39.98"}],
        "created_at": "2026-11-30T23:59:59.999999Z"}"#;

    #[test]
    fn a_placed_order_reads_whole() {
        let Ok(order::order_event::Event::Placed(placed)) = order_event("OrderPlaced", PLACED.as_bytes()) else {
            panic!("not read");
        };
        assert_eq!((placed.order_id, placed.user_id, placed.total_price.as_str()), (12, 5, "39.98"));
        assert_eq!(placed.items[0].vendor_name, "Acme");
        assert_eq!(placed.items[0].line_total, "39.98");
        let at = placed.created_at.expect("created_at");
        assert_eq!((at.seconds, at.nanos), (1_796_083_199, 999_999_000));
    }

    #[test]
    fn a_cancellation_keeps_its_previous_status() {
        let json = br#"{"order_id": 12, "user_id": 5, "previous_status": "paid", "reason": "refund",
                        "total_price": "39.98", "currency": "USD"}"#;
        let Ok(order::order_event::Event::Cancelled(cancelled)) = order_event("OrderCancelled", json) else {
            panic!("not read");
        };
        assert_eq!(cancelled.previous_status(), order::OrderStatus::Paid);
        assert_eq!(cancelled.reason, "refund");
    }

    #[test]
    fn payment_moves_read_by_their_type() {
        let json = br#"{"payment_id": 4, "order_id": 12, "user_id": 5, "amount": "39.98", "currency": "USD",
                        "provider_payment_id": "pi_1", "status": "refunded"}"#;
        let Ok(payment::payment_event::Event::Refunded(record)) = payment_event("PaymentRefunded", json) else {
            panic!("not read");
        };
        assert_eq!((record.payment_id, record.amount.as_str()), (4, "39.98"));
    }

    #[test]
    fn unknown_types_and_broken_json_say_why() {
        assert!(order_event("OrderShipped", b"{}").is_err_and(|e| e.contains("OrderShipped")));
        assert!(payment_event("PaymentSucceeded", b"{\"order_id\": 1}").is_err_and(|e| e.contains("payment_id")));
    }
}
