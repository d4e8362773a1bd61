//! One event as a consumer sees it, and its shape in a Redis stream entry:
//! the fields `id`, `type`, `payload` (a JSON string), `traceparent`
//! (absent when unknown) and `occurred_at` (RFC 3339, microseconds, UTC).
use chrono::{DateTime, SecondsFormat, Utc};
use redis::streams::StreamId;
use serde::de::DeserializeOwned;

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// A UUID v4, unique across services: what consumers deduplicate on.
    pub id: String,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub traceparent: Option<String>,
    /// When the producer's transaction wrote it.
    pub occurred_at: DateTime<Utc>,
}

impl Event {
    /// The payload as `T`, e.g. `let placed: OrderPlaced = event.payload_as()?;`.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.payload)
    }

    /// The stream entry fields, in order.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        stream_fields(
            &self.id,
            &self.event_type,
            self.payload.to_string(),
            self.traceparent.as_deref(),
            self.occurred_at,
        )
    }

    /// Reads a stream entry; the error says what is missing or malformed.
    pub fn from_stream_entry(entry: &StreamId) -> Result<Self, String> {
        let field = |name: &str| entry.get::<String>(name).ok_or_else(|| format!("field `{name}` is missing"));
        let id = field("id")?;
        if id.len() != 36 || uuid::Uuid::try_parse(&id).is_err() {
            return Err(format!("field `id` is not a hyphenated UUID: {id:?}"));
        }
        let payload = field("payload")?;
        let occurred_at = field("occurred_at")?;
        Ok(Self {
            id,
            event_type: field("type")?,
            payload: serde_json::from_str(&payload).map_err(|e| format!("field `payload` is not JSON: {e}"))?,
            traceparent: entry.get("traceparent"),
            occurred_at: DateTime::parse_from_rfc3339(&occurred_at)
                .map_err(|e| format!("field `occurred_at` is not RFC 3339: {e}"))?
                .with_timezone(&Utc),
        })
    }
}

/// The fields of one stream entry; the relay writes them straight from
/// outbox rows, without parsing the payload.
pub(crate) fn stream_fields(
    id: &str,
    event_type: &str,
    payload: String,
    traceparent: Option<&str>,
    occurred_at: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let mut fields = vec![("id", id.to_owned()), ("type", event_type.to_owned()), ("payload", payload)];
    if let Some(traceparent) = traceparent {
        fields.push(("traceparent", traceparent.to_owned()));
    }
    fields.push(("occurred_at", occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true)));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fields: &[(&str, String)]) -> StreamId {
        StreamId {
            id: "1-0".into(),
            map: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), redis::Value::BulkString(v.clone().into_bytes())))
                .collect(),
            ..StreamId::default()
        }
    }

    fn order_placed() -> Event {
        Event {
            id: uuid::Uuid::new_v4().to_string(),
            event_type: "OrderPlaced".into(),
            payload: serde_json::json!({"order_id": 7, "total": "19.99"}),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            occurred_at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z").expect("time").with_timezone(&Utc),
        }
    }

    #[test]
    fn an_event_survives_the_stream_fields() {
        let sent = order_placed();
        assert_eq!(Event::from_stream_entry(&entry(&sent.to_fields())), Ok(sent));
    }

    #[test]
    fn traceparent_is_optional() {
        let sent = Event { traceparent: None, ..order_placed() };
        let fields = sent.to_fields();
        assert!(fields.iter().all(|(k, _)| *k != "traceparent"));
        assert_eq!(Event::from_stream_entry(&entry(&fields)), Ok(sent));
    }

    #[test]
    fn malformed_entries_say_why() {
        let mut fields = order_placed().to_fields();
        fields.retain(|(k, _)| *k != "type");
        assert_eq!(Event::from_stream_entry(&entry(&fields)), Err("field `type` is missing".into()));
        let mut fields = order_placed().to_fields();
        fields[0].1 = "42".into();
        assert!(Event::from_stream_entry(&entry(&fields)).is_err_and(|e| e.contains("UUID")));
    }

    #[test]
    fn payloads_decode_into_types() {
        #[derive(serde::Deserialize)]
        struct Placed {
            order_id: u64,
        }
        let placed: Placed = order_placed().payload_as().expect("payload");
        assert_eq!(placed.order_id, 7);
    }
}
