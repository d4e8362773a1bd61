//! Payment rules as pure functions: the status machine, the webhook
//! signature (`Payment-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<raw body>")>`, several `v1` allowed, 300 s tolerance, constant-time
//! comparison), and reading a provider event.
use common::ApiError;
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use serde::Deserialize;
use sha2::Sha256;

pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// `pending → succeeded | failed`, `succeeded → refunded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Refunded => "refunded",
        }
    }

    /// The status a move to `self` must come from (the store's
    /// `UPDATE … WHERE status = ?`), so no event moves a payment backwards.
    pub fn comes_from(self) -> Option<PaymentStatus> {
        match self {
            PaymentStatus::Succeeded | PaymentStatus::Failed => Some(PaymentStatus::Pending),
            PaymentStatus::Refunded => Some(PaymentStatus::Succeeded),
            PaymentStatus::Pending => None,
        }
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

fn invalid_signature() -> ApiError {
    ApiError::new(common::ErrorKind::Invalid, "Invalid signature.")
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| {
        // HMAC takes keys of any length; this cannot happen.
        <Hmac<Sha256> as KeyInit>::new_from_slice(b"-").expect("a one-byte key")
    });
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value a provider sends for `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

/// Checks a `Payment-Signature` header against any of `secrets`: a fresh
/// timestamp and at least one `v1` that matches, compared in constant time.
pub fn verify_signature(header: &str, body: &[u8], secrets: &[String], now: i64) -> Result<(), ApiError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.trim().parse::<i64>().ok(),
            Some(("v1", v)) => {
                if let Ok(bytes) = hex::decode(v.trim()) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(invalid_signature)?;
    if (now - timestamp).abs() > SIGNATURE_TOLERANCE_SECS {
        return Err(invalid_signature());
    }
    let valid = secrets
        .iter()
        .any(|secret| signatures.iter().any(|sig| mac(secret, timestamp, body).verify_slice(sig).is_ok()));
    if valid { Ok(()) } else { Err(invalid_signature()) }
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
        provider_payment_id: raw.data.object.id,
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

/// A sandbox outcome as a client asks for it.
pub fn parse_outcome(raw: Option<&str>) -> Result<EventKind, ApiError> {
    match raw.map(str::trim) {
        Some("succeeded") => Ok(EventKind::Succeeded),
        Some("failed") => Ok(EventKind::Failed),
        None | Some("") => Err(ApiError::field("outcome", "This field is required.")),
        Some(other) => Err(ApiError::field("outcome", format!("\"{other}\" is not a valid choice."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_fresh_and_matching() {
        let secrets = vec!["whsec_new".to_owned()];
        let body = br#"{"id":"evt_1"}"#;
        let header = sign("whsec_new", 1_000, body);
        assert!(verify_signature(&header, body, &secrets, 1_100).is_ok());
        assert!(verify_signature(&header, body, &secrets, 1_400).is_err(), "too old");
        assert!(verify_signature(&header, b"{}", &secrets, 1_100).is_err(), "other body");
        assert!(verify_signature("t=1000,v1=zz", body, &secrets, 1_000).is_err());
        assert!(verify_signature("v1=00", body, &secrets, 1_000).is_err(), "no timestamp");
        // Rotation: the old secret's signature beside the new one's.
        let old = sign("whsec_old", 1_000, body);
        let both = format!("{header},{}", old.split(',').nth(1).expect("v1"));
        assert!(verify_signature(&both, body, &["whsec_old".to_owned()], 1_000).is_ok());
    }

    #[test]
    fn the_status_machine_never_goes_back() {
        assert_eq!(PaymentStatus::Succeeded.comes_from(), Some(PaymentStatus::Pending));
        assert_eq!(PaymentStatus::Failed.comes_from(), Some(PaymentStatus::Pending));
        assert_eq!(PaymentStatus::Refunded.comes_from(), Some(PaymentStatus::Succeeded));
        assert_eq!(PaymentStatus::Pending.comes_from(), None);
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
    }
}
