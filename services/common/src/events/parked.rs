//! Parked events for an operator: list them, replay one, or discard one —
//! as the `ParkedEvents` gRPC service every consuming service serves
//! beside its own (for the console), and directly on a service's schema
//! (for `fleet events`). A replay is the consumer's normal path run once
//! more (`consumer::claim_and_handle`): in one transaction the
//! `processed_events` row is claimed, the consumer's own handler applies
//! the event and the parked row is deleted — so an
//! event already applied is only removed, and two admins replaying the
//! same event apply it once (the parked row is locked first).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use proto::events::v1 as pb;
use sqlx::{FromRow, MySqlPool};
use tonic::{Request, Response, Status};

use super::consumer::{Outcome, Replay, claim_and_handle};
use super::{Encoding, Event, Handler, StreamEvent};
use crate::ApiError;
use crate::auth::{KeyRing, Role};
use crate::proto_time::timestamp;

/// Parked events listed at most.
const LIST_LIMIT: i64 = 200;

/// One consumer: its group, the stream it reads, its handler.
struct Registered {
    group: &'static str,
    stream: String,
    handler: Arc<dyn Replay>,
}

/// One consuming service's parked events and the handlers that replay them.
pub struct ParkedEvents {
    pool: MySqlPool,
    consumers: Vec<Registered>,
}

/// The `ParkedEvents` gRPC service: the same operations, for admins.
pub struct ParkedEventsService {
    events: ParkedEvents,
    keys: Arc<KeyRing>,
}

#[derive(FromRow)]
struct ParkedRow {
    consumer: String,
    event_id: String,
    stream: String,
    event_type: String,
    error: String,
    attempts: i32,
    parked_at: DateTime<Utc>,
    payload: Vec<u8>,
    encoding: String,
}

impl ParkedEventsService {
    pub fn new(events: ParkedEvents, keys: Arc<KeyRing>) -> Self {
        Self { events, keys }
    }

    pub fn into_server(self) -> pb::parked_events_server::ParkedEventsServer<Self> {
        pb::parked_events_server::ParkedEventsServer::new(self)
    }

    async fn admin<T>(&self, request: &Request<T>) -> Result<(), ApiError> {
        self.keys.require_principal(request.metadata()).await?.require_role(Role::Admin)
    }
}

impl ParkedEvents {
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool, consumers: Vec::new() }
    }

    /// The consumer in `group` of its handler's stream, and the handler
    /// its replays use (the same one its `Consumer` runs).
    pub fn consumer<H: Handler>(mut self, group: &'static str, handler: H) -> Self {
        self.consumers.push(Registered { group, stream: H::Event::STREAM.to_owned(), handler: Arc::new(handler) });
        self
    }

    fn handler(&self, group: &str, stream: &str) -> Option<&Arc<dyn Replay>> {
        self.consumers.iter().find(|c| c.group == group && c.stream == stream).map(|c| &c.handler)
    }

    /// Newest first, at most 200, each payload as its message reads.
    pub async fn list(&self) -> Result<Vec<pb::Parked>, ApiError> {
        let rows: Vec<ParkedRow> = sqlx::query_as(
            "SELECT consumer, event_id, stream, event_type, error, attempts, parked_at, payload, encoding \
             FROM parked_events ORDER BY parked_at DESC, consumer, event_id LIMIT ?",
        )
        .bind(LIST_LIMIT)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let payload = match (self.handler(&row.consumer, &row.stream), event_of(&row)) {
                    (Some(handler), Some(event)) => handler.describe(&event),
                    _ => String::from_utf8_lossy(&row.payload).into_owned(),
                };
                pb::Parked {
                    consumer: row.consumer,
                    event_id: row.event_id,
                    stream: row.stream,
                    event_type: row.event_type,
                    error: row.error,
                    attempts: u32::try_from(row.attempts).unwrap_or(0),
                    parked_at: Some(timestamp(row.parked_at)),
                    payload,
                }
            })
            .collect())
    }

    /// Drops a parked event without applying it.
    pub async fn discard(&self, key: &pb::ParkedKey) -> Result<(), ApiError> {
        let deleted = sqlx::query("DELETE FROM parked_events WHERE consumer = ? AND event_id = ?")
            .bind(&key.consumer)
            .bind(&key.event_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(ApiError::not_found());
        }
        tracing::info!(consumer = %key.consumer, event = %key.event_id, "parked event discarded");
        Ok(())
    }

    /// Applies a parked event once: `applied`, or `duplicate` when it had
    /// been applied already; either way it leaves the list.
    pub async fn replay(&self, key: &pb::ParkedKey) -> Result<&'static str, ApiError> {
        let mut tx = self.pool.begin().await?;
        let row: Option<ParkedRow> = sqlx::query_as(
            "SELECT consumer, event_id, stream, event_type, error, attempts, parked_at, payload, encoding \
             FROM parked_events WHERE consumer = ? AND event_id = ? FOR UPDATE",
        )
        .bind(&key.consumer)
        .bind(&key.event_id)
        .fetch_optional(&mut *tx)
        .await?;
        let row = row.ok_or_else(ApiError::not_found)?;
        let handler = self.handler(&row.consumer, &row.stream).ok_or_else(|| {
            ApiError::bad_request("No consumer here reads this event's stream; discard it.", "not_replayable")
        })?;
        let event = event_of(&row).ok_or_else(|| {
            ApiError::bad_request("A malformed stream entry cannot be replayed; discard it.", "not_replayable")
        })?;
        let outcome = match claim_and_handle(&mut tx, &row.consumer, handler.as_ref(), &event).await? {
            Outcome::Failed(error) | Outcome::Undecodable(error) => {
                let _ = tx.rollback().await;
                return Err(ApiError::bad_request(format!("The event failed again: {error}"), "replay_failed"));
            }
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
        };
        sqlx::query("DELETE FROM parked_events WHERE consumer = ? AND event_id = ?")
            .bind(&row.consumer)
            .bind(&row.event_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(consumer = %row.consumer, event = %row.event_id, outcome, "parked event replayed");
        Ok(outcome)
    }
}

/// The event a parked row holds; none for a malformed stream entry.
fn event_of(row: &ParkedRow) -> Option<Event> {
    if row.error.starts_with("malformed entry") || uuid::Uuid::try_parse(&row.event_id).is_err() {
        return None;
    }
    Some(Event {
        id: row.event_id.clone(),
        event_type: row.event_type.clone(),
        payload: row.payload.clone(),
        encoding: Encoding::parse(&row.encoding)?,
        traceparent: None,
        occurred_at: row.parked_at,
    })
}

#[tonic::async_trait]
impl pb::parked_events_server::ParkedEvents for ParkedEventsService {
    async fn list_parked(&self, request: Request<pb::ListParkedRequest>) -> Result<Response<pb::ParkedList>, Status> {
        self.admin(&request).await?;
        Ok(Response::new(pb::ParkedList { events: self.events.list().await? }))
    }

    async fn replay_parked(&self, request: Request<pb::ParkedKey>) -> Result<Response<pb::ReplayOutcome>, Status> {
        self.admin(&request).await?;
        let outcome = self.events.replay(request.get_ref()).await?;
        Ok(Response::new(pb::ReplayOutcome { outcome: outcome.to_owned() }))
    }

    async fn discard_parked(&self, request: Request<pb::ParkedKey>) -> Result<Response<pb::DiscardOutcome>, Status> {
        self.admin(&request).await?;
        self.events.discard(request.get_ref()).await?;
        Ok(Response::new(pb::DiscardOutcome {}))
    }
}
