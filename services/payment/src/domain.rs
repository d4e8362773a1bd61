//! Payment rules as pure functions: the status machine and reading a
//! provider event (the webhook signature is `signature.rs`).
use common::ApiError;
use rust_decimal::Decimal;
use serde::Deserialize;

pub use common::status::PaymentStatus;

/// The status a move to `to` must come from (the store's
/// `UPDATE … WHERE status = ?`), so no event moves a payment backwards:
/// `pending → succeeded | failed`, `succeeded → refunded`.
pub fn comes_from(to: PaymentStatus) -> Option<PaymentStatus> {
    match to {
        PaymentStatus::Succeeded | PaymentStatus::Failed => Some(PaymentStatus::Pending),
        PaymentStatus::Refunded => Some(PaymentStatus::Succeeded),
        PaymentStatus::Pending | PaymentStatus::Unspecified => None,
    }
}

/// What a provider event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Succeeded,
    Failed,
    Refunded,
}

impl EventKind {
    pub fn parse(event_type: &str) -> Option<Self> {
        match event_type {
            "payment_intent.succeeded" => Some(EventKind::Succeeded),
            "payment_intent.payment_failed" => Some(EventKind::Failed),
            "charge.refunded" => Some(EventKind::Refunded),
            _ => None,
        }
    }

    pub fn event_type(self) -> &'static str {
        match self {
            EventKind::Succeeded => "payment_intent.succeeded",
            EventKind::Failed => "payment_intent.payment_failed",
            EventKind::Refunded => "charge.refunded",
        }
    }

    pub fn target(self) -> PaymentStatus {
        match self {
            EventKind::Succeeded => PaymentStatus::Succeeded,
            EventKind::Failed => PaymentStatus::Failed,
            EventKind::Refunded => PaymentStatus::Refunded,
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    data: RawData,
}

#[derive(Debug, Deserialize)]
struct RawData {
    object: RawObject,
}

#[derive(Debug, Deserialize)]
struct RawObject {
    id: String,
    /// Set on Stripe's charge events (`charge.refunded`), whose object is
    /// the charge: the payment is its intent.
    payment_intent: Option<String>,
    amount: i64,
    currency: String,
}

/// A provider event, read.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEvent {
    pub id: String,
    pub event_type: String,
    pub provider_payment_id: String,
    /// Minor units (cents).
    pub amount_minor: i64,
    pub currency: String,
}

pub fn parse_event(body: &[u8]) -> Result<ProviderEvent, ApiError> {
    let raw: RawEvent = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Malformed event: {e}"), "invalid_event"))?;
    Ok(ProviderEvent {
        id: raw.id,
        event_type: raw.event_type,
        provider_payment_id: raw.data.object.payment_intent.unwrap_or(raw.data.object.id),
        amount_minor: raw.data.object.amount,
        currency: raw.data.object.currency,
    })
}

/// An amount in minor units (2 places), as providers count.
pub fn minor_units(amount: Decimal) -> i64 {
    (amount.round_dp(2) * Decimal::from(100)).trunc().to_string().parse().unwrap_or(i64::MAX)
}

/// Whether an event's amount and currency are the payment's.
pub fn matches_payment(event: &ProviderEvent, amount: Decimal, currency: &str) -> bool {
    event.amount_minor == minor_units(amount) && event.currency.eq_ignore_ascii_case(currency)
}

/// The sandbox outcome a client asked for: a payment that succeeded or
/// failed.
pub fn sandbox_outcome(raw: i32) -> Result<EventKind, ApiError> {
    match common::status::required("outcome", raw)? {
        PaymentStatus::Succeeded => Ok(EventKind::Succeeded),
        PaymentStatus::Failed => Ok(EventKind::Failed),
        _ => Err(ApiError::field("outcome", "A sandbox payment either succeeds or fails.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_machine_never_goes_back() {
        assert_eq!(comes_from(PaymentStatus::Succeeded), Some(PaymentStatus::Pending));
        assert_eq!(comes_from(PaymentStatus::Failed), Some(PaymentStatus::Pending));
        assert_eq!(comes_from(PaymentStatus::Refunded), Some(PaymentStatus::Succeeded));
        assert_eq!(comes_from(PaymentStatus::Pending), None);
    }

    #[test]
    fn events_read_amounts_in_minor_units() {
        let body = br#"{"id":"evt_9","type":"payment_intent.succeeded","created":1,
            "data":{"object":{"id":"pi_1","amount":1999,"currency":"usd","metadata":{"order_id":"7"}}}}"#;
        let event = parse_event(body).expect("event");
        assert_eq!(EventKind::parse(&event.event_type), Some(EventKind::Succeeded));
        assert!(matches_payment(&event, Decimal::new(1999, 2), "USD"));
        assert!(!matches_payment(&event, Decimal::new(2000, 2), "USD"));
        assert!(!matches_payment(&event, Decimal::new(1999, 2), "EUR"));
        assert!(parse_event(b"not json").is_err());
        // Stripe's refund event is about the charge; the payment is its intent.
        let charge = br#"{"id":"evt_2","type":"charge.refunded","created":1,
            "data":{"object":{"id":"ch_1","payment_intent":"pi_1","amount":1999,"currency":"usd"}}}"#;
        assert_eq!(parse_event(charge).expect("event").provider_payment_id, "pi_1");
    }
}
