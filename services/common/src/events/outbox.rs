//! The producer's half: an event is a row in the service's `outbox`,
//! inserted in the same transaction as the state change it announces, so
//! it is published if and only if that change commits.
use sqlx::{MySql, Transaction};

use super::{Encoding, StreamEvent};
use crate::trace_context;

/// Adds `event` to its stream inside `tx`, encoded as its stream's
/// message, carrying the current trace context. Returns the event id (a
/// UUID v4). After COMMIT, wake the relay with `notify_one()` on
/// [`Relay::notifier`](super::Relay::notifier).
pub async fn enqueue<E: StreamEvent>(tx: &mut Transaction<'_, MySql>, event: &E) -> Result<String, sqlx::Error> {
    let event_id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO outbox (event_id, stream, event_type, payload, encoding, traceparent) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&event_id)
    .bind(E::STREAM)
    .bind(event.type_name())
    .bind(event.to_payload())
    .bind(Encoding::Protobuf.as_str())
    .bind(trace_context::traceparent_or_fresh(&tracing::Span::current()))
    .execute(&mut **tx)
    .await?;
    Ok(event_id)
}
