//! One event as it travels, and its shape in a Redis stream entry: the
//! fields `id`, `type`, `payload` (the encoded stream message),
//! `encoding` (`protobuf`; absent on entries written before events were
//! messages, whose payload is JSON), `traceparent` (absent when unknown)
//! and `occurred_at` (RFC 3339, microseconds, UTC).
use chrono::{DateTime, SecondsFormat, Utc};
use redis::streams::StreamId;

use super::StreamEvent;

/// How a payload is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The producer's stream message (`OrderEvent`, `PaymentEvent`), encoded.
    Protobuf,
    /// A JSON object, as events were written before they were messages:
    /// outbox rows, stream entries and parked events from then are still
    /// read (`legacy`).
    Json,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Protobuf => "protobuf",
            Encoding::Json => "json",
        }
    }

    /// A stored or streamed encoding's name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "protobuf" => Some(Encoding::Protobuf),
            "json" => Some(Encoding::Json),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// A UUID v4, unique across services: what consumers deduplicate on.
    pub id: String,
    /// The case of the stream message, e.g. `OrderPlaced`.
    pub event_type: String,
    pub payload: Vec<u8>,
    pub encoding: Encoding,
    pub traceparent: Option<String>,
    /// When the producer's transaction wrote it.
    pub occurred_at: DateTime<Utc>,
}

impl Event {
    /// The payload as the stream's event; the error says why it cannot be
    /// (an event type this build does not know, or bytes that are not one).
    pub fn decode<E: StreamEvent>(&self) -> Result<E, String> {
        let event = match self.encoding {
            Encoding::Protobuf => E::from_payload(&self.payload)?,
            Encoding::Json => E::from_legacy_json(&self.event_type, &self.payload)?,
        };
        if event.type_name() != self.event_type {
            return Err(format!("the entry says `{}` but its payload is a `{}`", self.event_type, event.type_name()));
        }
        Ok(event)
    }

    /// The stream entry fields, in order.
    pub fn to_fields(&self) -> Vec<(&'static str, Vec<u8>)> {
        stream_fields(
            &self.id,
            &self.event_type,
            self.payload.clone(),
            self.encoding,
            self.traceparent.as_deref(),
            self.occurred_at,
        )
    }

    /// Reads a stream entry; the error says what is missing or malformed.
    pub fn from_stream_entry(entry: &StreamId) -> Result<Self, String> {
        let field = |name: &str| entry.get::<String>(name).ok_or_else(|| format!("field `{name}` is missing"));
        let id = field("id")?;
        if !crate::ids::is_hyphenated_uuid(&id) {
            return Err(format!("field `id` is not a hyphenated UUID: {id:?}"));
        }
        let encoding = match entry.get::<String>("encoding") {
            None => Encoding::Json,
            Some(name) => Encoding::parse(&name).ok_or_else(|| format!("field `encoding` is unknown: {name:?}"))?,
        };
        let occurred_at = field("occurred_at")?;
        Ok(Self {
            id,
            event_type: field("type")?,
            payload: entry.get::<Vec<u8>>("payload").ok_or("field `payload` is missing")?,
            encoding,
            traceparent: entry.get("traceparent"),
            occurred_at: DateTime::parse_from_rfc3339(&occurred_at)
                .map_err(|e| format!("field `occurred_at` is not RFC 3339: {e}"))?
                .with_timezone(&Utc),
        })
    }
}

/// The fields of one stream entry; the relay writes them straight from
/// outbox rows, without decoding the payload.
pub(crate) fn stream_fields(
    id: &str,
    event_type: &str,
    payload: Vec<u8>,
    encoding: Encoding,
    traceparent: Option<&str>,
    occurred_at: DateTime<Utc>,
) -> Vec<(&'static str, Vec<u8>)> {
    let text = |value: &str| value.as_bytes().to_vec();
    let mut fields = vec![("id", text(id)), ("type", text(event_type)), ("payload", payload)];
    // Entries from before `encoding` existed are JSON: writing it only for
    // protobuf keeps a republished old row exactly what it was.
    if encoding != Encoding::Json {
        fields.push(("encoding", text(encoding.as_str())));
    }
    if let Some(traceparent) = traceparent {
        fields.push(("traceparent", text(traceparent)));
    }
    fields.push(("occurred_at", text(&occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true))));
    fields
}

#[cfg(test)]
mod tests {
    use proto::order::v1 as order;

    use super::*;

    fn entry(fields: &[(&str, Vec<u8>)]) -> StreamId {
        StreamId {
            id: "1-0".into(),
            map: fields.iter().map(|(k, v)| ((*k).to_owned(), redis::Value::BulkString(v.clone()))).collect(),
            ..StreamId::default()
        }
    }

    fn placed() -> order::order_event::Event {
        order::order_event::Event::Placed(order::OrderPlaced {
            order_id: 7,
            user_id: 3,
            total_price: "19.99".into(),
            currency: "USD".into(),
            ..Default::default()
        })
    }

    fn order_placed() -> Event {
        Event {
            id: uuid::Uuid::new_v4().to_string(),
            event_type: "OrderPlaced".into(),
            payload: placed().to_payload(),
            encoding: Encoding::Protobuf,
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            occurred_at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z").expect("time").with_timezone(&Utc),
        }
    }

    #[test]
    fn an_event_survives_the_stream_fields() {
        let sent = order_placed();
        let received = Event::from_stream_entry(&entry(&sent.to_fields()));
        assert_eq!(received, Ok(sent));
        assert_eq!(received.and_then(|e| e.decode::<order::order_event::Event>()), Ok(placed()));
    }

    #[test]
    fn traceparent_is_optional() {
        let sent = Event { traceparent: None, ..order_placed() };
        let fields = sent.to_fields();
        assert!(fields.iter().all(|(k, _)| *k != "traceparent"));
        assert_eq!(Event::from_stream_entry(&entry(&fields)), Ok(sent));
    }

    #[test]
    fn an_entry_without_encoding_is_json() {
        let json = br#"{"order_id": 7, "user_id": 3, "total_price": "19.99", "currency": "USD", "items": []}"#;
        let sent = Event { payload: json.to_vec(), encoding: Encoding::Json, ..order_placed() };
        let fields = sent.to_fields();
        assert!(fields.iter().all(|(k, _)| *k != "encoding"));
        let received = Event::from_stream_entry(&entry(&fields)).expect("entry");
        assert_eq!(received.encoding, Encoding::Json);
        assert_eq!(received.decode::<order::order_event::Event>(), Ok(placed()));
    }

    #[test]
    fn malformed_entries_say_why() {
        let mut fields = order_placed().to_fields();
        fields.retain(|(k, _)| *k != "type");
        assert_eq!(Event::from_stream_entry(&entry(&fields)), Err("field `type` is missing".into()));
        let mut fields = order_placed().to_fields();
        fields[0].1 = b"42".to_vec();
        assert!(Event::from_stream_entry(&entry(&fields)).is_err_and(|e| e.contains("UUID")));
    }

    #[test]
    fn a_payload_that_is_not_its_type_is_refused() {
        let cancelled = Event { event_type: "OrderCancelled".into(), ..order_placed() };
        assert!(cancelled.decode::<order::order_event::Event>().is_err_and(|e| e.contains("OrderPlaced")));
        let garbage = Event { payload: vec![0xff, 0xff, 0xff], ..order_placed() };
        assert!(garbage.decode::<order::order_event::Event>().is_err());
    }
}
