//! The typed side of the streams: each producer's stream carries one proto
//! message (`marketplace.<service>.v1.<Service>Event`, a oneof of its
//! events), and [`StreamEvent`] ties the oneof to its stream, its cases to
//! their type names, and the message to its encoding. Producers enqueue a
//! case; consumers decode into the same generated type and match on it, so
//! a renamed or retyped field breaks the build on both sides.
use prost::Message;
use proto::order::v1 as order;
use proto::payment::v1 as payment;

use super::legacy;

/// One stream's events: the oneof of its message.
pub trait StreamEvent: Sized + Clone + Send + Sync + std::fmt::Debug + 'static {
    /// The producing service's stream, e.g. `order`.
    const STREAM: &'static str;
    /// The entry's `type`: which case this is, e.g. `OrderPlaced`.
    fn type_name(&self) -> &'static str;
    /// The stream message holding this case, encoded.
    fn to_payload(&self) -> Vec<u8>;
    /// The case an encoded stream message holds; the error says why there
    /// is none (bytes that are not the message, or a case this build does
    /// not know: a newer producer's event).
    fn from_payload(payload: &[u8]) -> Result<Self, String>;
    /// The case a JSON payload of type `type_name` says, as events were
    /// written before they were messages ([`super::legacy`]).
    fn from_legacy_json(type_name: &str, json: &[u8]) -> Result<Self, String>;
}

/// Implements [`StreamEvent`] for a stream message's oneof: the stream,
/// and each case's type name.
macro_rules! stream_events {
    ($message:path, $case:ty, $stream:literal, $legacy:path, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl StreamEvent for $case {
            const STREAM: &'static str = $stream;

            fn type_name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name),+
                }
            }

            fn to_payload(&self) -> Vec<u8> {
                $message { event: Some(self.clone()) }.encode_to_vec()
            }

            fn from_payload(payload: &[u8]) -> Result<Self, String> {
                let message = <$message>::decode(payload).map_err(|e| format!("the payload cannot be decoded: {e}"))?;
                message.event.ok_or_else(|| "an event type this service does not know".to_owned())
            }

            fn from_legacy_json(type_name: &str, json: &[u8]) -> Result<Self, String> {
                $legacy(type_name, json)
            }
        }
    };
}

stream_events!(order::OrderEvent, order::order_event::Event, "order", legacy::order_event, {
    Placed => "OrderPlaced",
    Cancelled => "OrderCancelled",
});

stream_events!(payment::PaymentEvent, payment::payment_event::Event, "payment", legacy::payment_event, {
    Created => "PaymentCreated",
    Succeeded => "PaymentSucceeded",
    Failed => "PaymentFailed",
    Refunded => "PaymentRefunded",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_survives_its_payload() {
        let refunded = payment::payment_event::Event::Refunded(payment::PaymentRecord {
            payment_id: 4,
            order_id: 9,
            amount: "10.00".into(),
            ..Default::default()
        });
        assert_eq!(refunded.type_name(), "PaymentRefunded");
        assert_eq!(payment::payment_event::Event::from_payload(&refunded.to_payload()), Ok(refunded));
    }

    #[test]
    fn an_unknown_case_says_so() {
        // A newer producer's case 15: a length-delimited field this build skips.
        let newer = [0x7a, 0x00];
        let decoded = order::order_event::Event::from_payload(&newer);
        assert_eq!(decoded, Err("an event type this service does not know".to_owned()));
    }
}
