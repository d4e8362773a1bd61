//! The producer's half: an event is a row in the service's `outbox`,
//! inserted in the same transaction as the state change it announces, so
//! it is published if and only if that change commits.
use sqlx::{MySql, Transaction};

use crate::trace_context;

/// Adds an event to `stream` (the producing service's name, e.g.
/// `"order"`) inside `tx`, carrying the current trace context. Returns the
/// event id (a UUID v4). After COMMIT, wake the relay with
/// `notify_one()` on [`Relay::notifier`](super::Relay::notifier).
pub async fn enqueue(
    tx: &mut Transaction<'_, MySql>,
    stream: &str,
    event_type: &str,
    payload: &serde_json::Value,
) -> Result<String, sqlx::Error> {
    let event_id = uuid::Uuid::new_v4().to_string();
    sqlx::query("INSERT INTO outbox (event_id, stream, event_type, payload, traceparent) VALUES (?, ?, ?, ?, ?)")
        .bind(&event_id)
        .bind(stream)
        .bind(event_type)
        .bind(payload.to_string())
        .bind(trace_context::traceparent_or_fresh(&tracing::Span::current()))
        .execute(&mut **tx)
        .await?;
    Ok(event_id)
}
