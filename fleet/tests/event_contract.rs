//! The events between services as one contract: every event a producer
//! emits, built by the producer's own code, is written as a stream entry
//! and read back by every consumer of its stream — decoded into the
//! consumer's handler type and, where the consumer reads amounts and times
//! (analytics), turned into its facts. A consumer is typed by its stream
//! (`Consumer<E>` runs only a `Handler<Event = E>`), so what is left to
//! check is what the types cannot say: that the values a producer writes
//! are ones its consumers accept.
use chrono::{TimeZone, Utc};
use common::events::{Encoding, Event, Handler, StreamEvent};
use order::domain::{ItemDraft, OrderDraft, OrderStatus, VendorDraft};
use payment::domain::PaymentStatus;
use payment::store::PaymentRow;
use rust_decimal::Decimal;

/// The entry a relay would publish for `event`, as a consumer reads it.
fn entry<E: StreamEvent>(event: &E) -> Event {
    Event {
        id: uuid::Uuid::new_v4().to_string(),
        event_type: event.type_name().to_owned(),
        payload: event.to_payload(),
        encoding: Encoding::Protobuf,
        traceparent: None,
        occurred_at: Utc::now(),
    }
}

/// Decodes `event` as consumer `H` does, or fails naming the consumer.
fn decoded_by<H: Handler>(consumer: &str, event: &Event) -> H::Event {
    event.decode::<H::Event>().unwrap_or_else(|e| panic!("{consumer} cannot decode {}: {e}", event.event_type))
}

fn item(product_id: i64, vendor_id: i64, cents: i64, quantity: i64) -> ItemDraft {
    let unit_price = Decimal::new(cents, 2);
    ItemDraft {
        product_id,
        name: format!("Product {product_id}"),
        sku: format!("SKU-{product_id}"),
        vendor_id,
        vendor_name: format!("Shop {vendor_id}"),
        unit_price,
        quantity,
        line_total: unit_price * Decimal::from(quantity),
    }
}

/// What the order service emits: an order of two vendors placed, then
/// cancelled from each status a cancellation can leave.
fn order_stream() -> Vec<Event> {
    let (a, b) = (item(3, 1, 1999, 2), item(9, 2, 500, 1));
    let vendors = vec![
        VendorDraft { vendor_id: 1, vendor_name: a.vendor_name.clone(), subtotal: a.line_total, items: vec![a] },
        VendorDraft { vendor_id: 2, vendor_name: b.vendor_name.clone(), subtotal: b.line_total, items: vec![b] },
    ];
    let draft = OrderDraft { total: Decimal::new(4498, 2), vendors };
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 23, 59, 59).single().expect("time");
    let placed = order::domain::order_placed(41, 7, &draft, "USD", at);
    let mut events = vec![entry(&proto::order::v1::order_event::Event::Placed(placed))];
    for previous in [OrderStatus::Pending, OrderStatus::Paid, OrderStatus::Cancelled] {
        let cancelled = order::domain::order_cancelled(41, 7, previous, "refund", draft.total, "USD".into());
        events.push(entry(&proto::order::v1::order_event::Event::Cancelled(cancelled)));
    }
    events
}

/// What the payment service emits: each move of a payment.
fn payment_stream() -> Vec<Event> {
    let row = PaymentRow {
        id: 5,
        order_id: 41,
        user_id: 7,
        amount: Decimal::new(4498, 2),
        currency: "USD".into(),
        status: "pending".into(),
        provider: "fake".into(),
        provider_payment_id: "pi_5".into(),
        client_secret: "pi_5_secret".into(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    };
    [PaymentStatus::Pending, PaymentStatus::Succeeded, PaymentStatus::Failed, PaymentStatus::Refunded]
        .into_iter()
        .map(|status| entry(&payment::store::announcement(&row, status)))
        .collect()
}

#[test]
fn every_order_event_is_read_by_cart_payment_and_analytics() {
    use proto::order::v1::order_event::Event as OrderEvent;
    for event in order_stream() {
        decoded_by::<cart::events::OrderEvents>("cart", &event);
        decoded_by::<payment::events::OrderEvents>("payment", &event);
        match decoded_by::<analytics::events::OrderEvents>("analytics", &event) {
            OrderEvent::Placed(placed) => {
                let facts = analytics::domain::OrderPlaced::try_from(placed).expect("analytics reads OrderPlaced");
                assert_eq!(facts.total_price, Decimal::new(4498, 2));
                assert_eq!(facts.vendor_orders().len(), 2);
                assert_eq!(facts.created_at_utc().to_string(), "2026-12-01 23:59:59");
            }
            OrderEvent::Cancelled(cancelled) => {
                let paid = cancelled.previous_status() == proto::order::v1::OrderStatus::Paid;
                let facts =
                    analytics::domain::OrderCancelled::try_from(cancelled).expect("analytics reads OrderCancelled");
                assert_eq!((facts.total_price, facts.was_paid), (Decimal::new(4498, 2), paid));
            }
        }
    }
}

#[test]
fn every_payment_event_is_read_by_order_and_analytics() {
    use proto::payment::v1::payment_event::Event as PaymentEvent;
    let stream = payment_stream();
    let types: Vec<&str> = stream.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["PaymentCreated", "PaymentSucceeded", "PaymentFailed", "PaymentRefunded"]);
    for event in stream {
        decoded_by::<order::events::PaymentEvents>("order", &event);
        let (PaymentEvent::Created(payment)
        | PaymentEvent::Succeeded(payment)
        | PaymentEvent::Failed(payment)
        | PaymentEvent::Refunded(payment)) = decoded_by::<analytics::events::PaymentEvents>("analytics", &event);
        let facts = analytics::domain::PaymentEvent::try_from(payment).expect("analytics reads the payment");
        assert_eq!((facts.payment_id, facts.order_id, facts.amount), (5, 41, Decimal::new(4498, 2)));
    }
}
