//! The consumer's half: reads a producer's stream in a consumer group and
//! applies each event exactly once in effect. The `processed_events` row
//! and the handler's writes share one transaction; XACK comes after the
//! COMMIT. Whatever a crash leaves unacknowledged stays pending and is
//! re-claimed (`XAUTOCLAIM`) once idle for `min_idle`; the row makes the
//! replay a no-op. Handler failures leave the entry pending too, until its
//! delivery count reaches `max_attempts`: then it is parked.
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamPendingReply,
    StreamReadOptions, StreamReadReply,
};
use sqlx::{MySql, MySqlPool, Transaction};
use tracing::Instrument;

use super::{Encoding, Event, EventsError, StreamEvent, stopped_during, stream_key};
use crate::db::{is_transient, retry_transient};
use crate::shutdown::CancellationToken;
use crate::trace_context;

/// Entries taken per read, and per re-claim.
const READ_COUNT: usize = 50;
/// How long a read waits for new entries.
const BLOCK: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_secs(1);
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How often a running consumer looks for stale entries to re-claim and
/// measures what is pending: two Redis calls it used to make on every
/// read, which under load is every few events.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(1);
const DEFAULT_MIN_IDLE: Duration = Duration::from_secs(30);
const DEFAULT_MAX_ATTEMPTS: usize = 5;

/// What a handler may fail with: any error (`?` works on `sqlx::Error`,
/// `ApiError`, `serde_json::Error`, and `String`/`&str` via `.into()`).
/// A deadlock or lock-wait timeout (`sqlx::Error`) is retried at once; a
/// lost database connection pauses the consumer; anything else counts as
/// a failed attempt.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Applies one stream's events to this service's state.
///
/// ```ignore
/// impl Handler for PaymentEvents {
///     type Event = payment_event::Event;
///     async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: Self::Event) -> Result<(), HandlerError> {
///         match event {
///             payment_event::Event::Succeeded(payment) => store::mark_paid(tx, payment.order_id).await?,
///             _ => {} // not ours: see `acts_on`
///         }
///         Ok(())
///     }
///     fn acts_on(&self, event: &Self::Event) -> bool {
///         matches!(event, payment_event::Event::Succeeded(_))
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// The stream's events, decoded.
    type Event: StreamEvent;

    /// Applies the event inside the consumer's transaction (the
    /// `processed_events` row is written in the same one). Do not commit
    /// or roll back `tx`: the consumer does.
    fn handle(
        &self,
        tx: &mut Transaction<'static, MySql>,
        event: Self::Event,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Whether `handle` does anything with this event. One it ignores is
    /// acknowledged with no transaction and no `processed_events` row:
    /// there is no effect to apply once, and on a stream every order
    /// passes through that row was a statement per event for nothing.
    fn acts_on(&self, event: &Self::Event) -> bool {
        let _ = event;
        true
    }
}

/// A handler as a trait object (a `Handler`'s future is not object safe):
/// what `claim_and_handle` runs, and what the parked-event replays keep.
pub(super) trait Replay: Send + Sync {
    /// Decodes the event for the handler, then applies it.
    fn apply<'a>(
        &'a self,
        tx: &'a mut Transaction<'static, MySql>,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;

    /// The event as its message reads, for an operator; its raw payload
    /// when it cannot be decoded.
    fn describe(&self, event: &Event) -> String;
}

impl<H: Handler> Replay for H {
    fn apply<'a>(
        &'a self,
        tx: &'a mut Transaction<'static, MySql>,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move { self.handle(tx, event.decode::<H::Event>().map_err(Undecodable)?).await })
    }

    fn describe(&self, event: &Event) -> String {
        match event.decode::<H::Event>() {
            Ok(decoded) => format!("{decoded:#?}"),
            Err(_) => String::from_utf8_lossy(&event.payload).into_owned(),
        }
    }
}

/// One consumer (process) in a consumer group reading the stream of `E`:
/// only a handler of `E` can run it.
pub struct Consumer<E: StreamEvent> {
    pool: MySqlPool,
    redis: ConnectionManager,
    key: String,
    stream: String,
    group: &'static str,
    name: String,
    min_idle: Duration,
    max_attempts: usize,
    events: PhantomData<fn() -> E>,
}

/// An entry taken from the stream, with its delivery count (this one included).
struct Delivery {
    entry: StreamId,
    deliveries: usize,
}

/// What handling an event in a transaction came to.
pub(super) enum Outcome {
    Applied,
    /// Its `processed_events` row was there already: applied before.
    Duplicate,
    /// The handler refused it (or panicked); the transaction must roll back.
    Failed(String),
    /// No delivery can decode it (a case this build does not know, bytes
    /// that are no such message): the transaction must roll back, and the
    /// event is parked at once rather than retried.
    Undecodable(String),
}

/// What `Replay::apply` fails with when the payload does not decode.
#[derive(Debug, thiserror::Error)]
#[error("undecodable event: {0}")]
struct Undecodable(String);

/// The one way an event is applied (by a consumer, or replayed from the
/// parked list): in `tx`, claim its `processed_events` row for `group`,
/// then decode the event and run the handler. The caller commits, or rolls back on `Failed`, on
/// `Undecodable` and on an error (a deadlock, a lock wait or a lost
/// database, which are not the event's fault).
pub(super) async fn claim_and_handle(
    tx: &mut Transaction<'static, MySql>,
    group: &str,
    handler: &dyn Replay,
    event: &Event,
) -> Result<Outcome, sqlx::Error> {
    let first = sqlx::query("INSERT IGNORE INTO processed_events (consumer, event_id) VALUES (?, ?)")
        .bind(group)
        .bind(&event.id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        == 1;
    if !first {
        return Ok(Outcome::Duplicate);
    }
    let handled = AssertUnwindSafe(handler.apply(&mut *tx, event)).catch_unwind().await;
    let failure = match handled {
        Ok(Ok(())) => return Ok(Outcome::Applied),
        Ok(Err(error)) if error.is::<Undecodable>() => return Ok(Outcome::Undecodable(error.to_string())),
        Ok(Err(error)) => match error.downcast::<sqlx::Error>() {
            Ok(error) if is_transient(&error) || is_outage(&error) => return Err(*error),
            Ok(error) => error.to_string(),
            Err(error) => error.to_string(),
        },
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            format!("handler panicked: {message}")
        }
    };
    Ok(Outcome::Failed(failure))
}

impl<E: StreamEvent> Consumer<E> {
    /// This process's consumer of `E`'s stream in `group`, on a Redis
    /// connection of its own (a blocking read must not stall other
    /// commands) and under a unique consumer name.
    pub async fn connect(
        pool: MySqlPool,
        infra: &crate::config::Infra,
        group: &'static str,
    ) -> Result<Self, crate::StartupError> {
        let redis = infra.redis().await?;
        Ok(Self::new(pool, redis, infra.schema_prefix.clone(), group, uuid::Uuid::new_v4().to_string()))
    }

    /// Reads `E`'s stream as member `consumer_name` (unique per process,
    /// e.g. a UUID) of the group `group` (the consuming service, at most 64
    /// characters; it is also the `consumer` in `processed_events`).
    ///
    /// `redis` must be a connection of the consumer's own
    /// (`infra.redis().await?`): a blocking XREADGROUP holds it for up to a
    /// second, which would stall every other command multiplexed on it.
    pub fn new(
        pool: MySqlPool,
        redis: ConnectionManager,
        key_prefix: String,
        group: &'static str,
        consumer_name: String,
    ) -> Self {
        Self {
            pool,
            redis,
            key: stream_key(&key_prefix, E::STREAM),
            stream: E::STREAM.to_owned(),
            group,
            name: consumer_name,
            min_idle: DEFAULT_MIN_IDLE,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            events: PhantomData,
        }
    }

    /// How long an entry must sit unacknowledged before another delivery
    /// (default 30 s). Keep it well above the slowest handler.
    pub fn min_idle(mut self, min_idle: Duration) -> Self {
        self.min_idle = min_idle;
        self
    }

    /// Deliveries before a failing event is parked (default 5).
    pub fn max_attempts(mut self, max_attempts: usize) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Consumes until `shutdown`, finishing the entries in hand. Failures
    /// are logged and retried after a second. On the way out the consumer
    /// leaves the group if nothing is pending on it.
    pub async fn run<H: Handler<Event = E>>(self, handler: H, shutdown: CancellationToken) {
        while let Err(error) = self.create_group().await {
            tracing::warn!(stream = %self.stream, group = self.group, %error, "cannot create the consumer group");
            if stopped_during(&shutdown, RETRY).await {
                return;
            }
        }
        let mut purged: Option<Instant> = None;
        let mut kept: Option<Instant> = None;
        loop {
            let housekeeping = kept.is_none_or(|at| at.elapsed() >= HOUSEKEEPING_EVERY);
            if housekeeping {
                kept = Some(Instant::now());
            }
            let taken = tokio::select! {
                _ = shutdown.cancelled() => break,
                taken = self.take(Some(BLOCK), housekeeping) => taken,
            };
            let result = match taken {
                Ok(deliveries) => self.process_all(&handler, deliveries, true).await,
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                tracing::warn!(stream = %self.stream, group = self.group, %error, "consuming events failed; retrying");
                if let EventsError::Redis(e) = &error
                    && e.code() == Some("NOGROUP")
                {
                    let _ = self.create_group().await;
                }
                if stopped_during(&shutdown, RETRY).await {
                    break;
                }
            }
            if housekeeping {
                self.measure_pending().await;
            }
            if purged.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
                if let Err(error) = self.purge().await {
                    tracing::warn!(group = self.group, %error, "cannot purge processed_events");
                }
                purged = Some(Instant::now());
            }
        }
        self.leave_group().await;
    }

    /// One pass without waiting: re-claims stale entries, reads new ones,
    /// and processes them all. Returns how many entries it took.
    pub async fn consume_once<H: Handler<Event = E>>(&self, handler: &H) -> Result<usize, EventsError> {
        self.consume_once_inner(handler, true).await
    }

    /// A pass that "crashes" after each COMMIT and before its XACK, for the
    /// tests that prove the crash is harmless.
    #[cfg(feature = "testkit")]
    pub async fn consume_once_crashing_before_ack<H: Handler<Event = E>>(
        &self,
        handler: &H,
    ) -> Result<usize, EventsError> {
        self.consume_once_inner(handler, false).await
    }

    async fn consume_once_inner<H: Handler<Event = E>>(&self, handler: &H, ack: bool) -> Result<usize, EventsError> {
        self.create_group().await?;
        let deliveries = self.take(None, true).await?;
        let taken = deliveries.len();
        self.process_all(handler, deliveries, ack).await?;
        self.measure_pending().await;
        Ok(taken)
    }

    /// `XGROUP CREATE <key> <group> 0 MKSTREAM`: a new group starts at the
    /// beginning of the stream, so events published before the consuming
    /// service first ran are not skipped.
    async fn create_group(&self) -> Result<(), EventsError> {
        match self.redis.clone().xgroup_create_mkstream::<_, _, _, ()>(&self.key, self.group, "0").await {
            Err(error) if error.code() != Some("BUSYGROUP") => Err(error.into()),
            _ => Ok(()),
        }
    }

    /// Stale pending entries (any consumer's, idle for `min_idle`) first
    /// when `reclaim`, then new ones; waits up to `block` only when nothing
    /// was stale.
    async fn take(&self, block: Option<Duration>, reclaim: bool) -> Result<Vec<Delivery>, EventsError> {
        let mut redis = self.redis.clone();
        let reclaimed = if reclaim {
            let claim = StreamAutoClaimOptions::default().count(READ_COUNT);
            let min_idle = self.min_idle.as_millis() as u64;
            redis.xautoclaim_options(&self.key, self.group, &self.name, min_idle, "0-0", claim).await?
        } else {
            StreamAutoClaimReply::default()
        };
        if !reclaimed.deleted_ids.is_empty() {
            tracing::error!(
                stream = %self.stream,
                group = self.group,
                entries = ?reclaimed.deleted_ids,
                "pending events were trimmed from the stream before this group processed them"
            );
            metrics::counter!("events_lost_total", "consumer" => self.group, "stream" => self.stream.clone())
                .increment(reclaimed.deleted_ids.len() as u64);
        }
        let mut taken = Vec::new();
        if !reclaimed.claimed.is_empty() {
            // XAUTOCLAIM counts the delivery but does not report the count.
            let mut pipe = redis::pipe();
            for entry in &reclaimed.claimed {
                pipe.xpending_consumer_count(&self.key, self.group, &entry.id, &entry.id, 1, &self.name);
            }
            let counts: Vec<StreamPendingCountReply> = pipe.query_async(&mut redis).await?;
            for (entry, count) in reclaimed.claimed.into_iter().zip(counts) {
                let deliveries = count.ids.first().map_or(1, |pending| pending.times_delivered);
                taken.push(Delivery { entry, deliveries });
            }
        }
        let mut read = StreamReadOptions::default().group(self.group, &self.name).count(READ_COUNT);
        if let Some(block) = block.filter(|_| taken.is_empty()) {
            read = read.block(block.as_millis() as usize);
        }
        let fresh: Option<StreamReadReply> = redis.xread_options(&[&self.key], &[">"], &read).await?;
        let fresh = fresh.into_iter().flat_map(|reply| reply.keys).flat_map(|key| key.ids);
        taken.extend(fresh.map(|entry| Delivery { entry, deliveries: 1 }));
        Ok(taken)
    }

    /// Processes entries in order; stops at the first failure of the
    /// database or Redis (the rest stay pending and are re-claimed).
    ///
    /// Under load a read takes several entries: they are applied in one
    /// transaction (each still claims its own `processed_events` row, so
    /// each applies once) and acknowledged with one XACK, so commits fall
    /// as load rises. When any of them is refused, the batch rolls back
    /// and its events are applied one by one, each settled on its own.
    /// Events the handler does not act on only join the acknowledgement.
    async fn process_all<H: Handler<Event = E>>(
        &self,
        handler: &H,
        deliveries: Vec<Delivery>,
        ack: bool,
    ) -> Result<(), EventsError> {
        let mut batch = Vec::with_capacity(deliveries.len());
        let mut ignored = Vec::new();
        for delivery in deliveries {
            match Event::from_stream_entry(&delivery.entry) {
                Ok(event) if ignores(handler, &event) => ignored.push(delivery),
                Ok(event) => batch.push((delivery, event)),
                Err(reason) => self.park_malformed(&delivery, &reason).await?,
            }
        }
        if !ignored.is_empty() {
            metrics::counter!("events_ignored_total", &self.labels()).increment(ignored.len() as u64);
        }
        let mut ids: Vec<&str> = ignored.iter().map(|delivery| delivery.entry.id.as_str()).collect();
        let events: Vec<&Event> = batch.iter().map(|(_, event)| event).collect();
        let mut applied = false;
        if events.len() > 1
            && let Ok(outcomes) = retry_transient(|| self.apply(handler, &events)).await?
        {
            for outcome in &outcomes {
                self.count(outcome);
            }
            ids.extend(batch.iter().map(|(delivery, _)| delivery.entry.id.as_str()));
            applied = true;
        }
        if ack && !ids.is_empty() {
            self.ack(&ids).await?;
        }
        if applied {
            return Ok(());
        }
        for (delivery, event) in batch {
            self.process(handler, delivery, event, ack).await?;
        }
        Ok(())
    }

    async fn process<H: Handler<Event = E>>(
        &self,
        handler: &H,
        delivery: Delivery,
        event: Event,
        ack: bool,
    ) -> Result<(), EventsError> {
        let span = self.span(&event);
        self.settle(handler, &event, &delivery, ack).instrument(span).await
    }

    /// OpenTelemetry's messaging "process" span (a consumer span), under
    /// the relay's publish span the entry names.
    fn span(&self, event: &Event) -> tracing::Span {
        let span = tracing::info_span!(
            "event",
            otel.name = format!("{} process {}", self.group, event.event_type),
            otel.kind = "consumer",
            "type" = %event.event_type,
            id = %event.id,
            traceparent = event.traceparent.as_deref().unwrap_or(""),
            stream = %self.stream,
            consumer = self.group,
        );
        if let Some(traceparent) = &event.traceparent {
            trace_context::continue_from(&span, traceparent);
        }
        span
    }

    /// The labels of this consumer's counters.
    fn labels(&self) -> [(&'static str, String); 2] {
        [("consumer", self.group.to_owned()), ("stream", self.stream.clone())]
    }

    fn count(&self, outcome: &Outcome) {
        let labels = self.labels();
        match outcome {
            Outcome::Applied => metrics::counter!("events_consumed_total", &labels).increment(1),
            Outcome::Duplicate => metrics::counter!("events_duplicate_total", &labels).increment(1),
            Outcome::Failed(_) | Outcome::Undecodable(_) => {
                metrics::counter!("events_failed_total", &labels).increment(1)
            }
        }
    }

    async fn settle<H: Handler<Event = E>>(
        &self,
        handler: &H,
        event: &Event,
        delivery: &Delivery,
        ack: bool,
    ) -> Result<(), EventsError> {
        let lone = [event];
        let outcome = match retry_transient(|| self.apply(handler, &lone)).await? {
            // One event, one outcome.
            Ok(mut done) => done.pop().unwrap_or(Outcome::Duplicate),
            Err(refused) => refused,
        };
        match outcome {
            done @ (Outcome::Applied | Outcome::Duplicate) => self.count(&done),
            // No later delivery can decode it either: parked at once.
            Outcome::Undecodable(reason) => return self.park(event, delivery, &reason).await,
            Outcome::Failed(error) if delivery.deliveries >= self.max_attempts => {
                return self.park(event, delivery, &error).await;
            }
            Outcome::Failed(error) => {
                tracing::warn!(
                    attempt = delivery.deliveries,
                    max_attempts = self.max_attempts,
                    %error,
                    "event handler failed; the event stays pending and will be retried"
                );
                self.count(&Outcome::Failed(error));
                return Ok(());
            }
        }
        if ack {
            self.ack(&[delivery.entry.id.as_str()]).await?;
        }
        Ok(())
    }

    /// One transaction: for each event its `processed_events` row, then
    /// the handler; committed when every one was applied or a duplicate,
    /// rolled back at the first refusal, which is returned. An `Err` is
    /// the database's failure (retried when transient), not an event's.
    async fn apply<H: Handler<Event = E>>(
        &self,
        handler: &H,
        events: &[&Event],
    ) -> Result<Result<Vec<Outcome>, Outcome>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            // A lone event is already inside its own span (`process`).
            let span = if events.len() > 1 { self.span(event) } else { tracing::Span::none() };
            match claim_and_handle(&mut tx, self.group, handler, event).instrument(span).await {
                Ok(done @ (Outcome::Applied | Outcome::Duplicate)) => outcomes.push(done),
                Ok(refused) => {
                    let _ = tx.rollback().await;
                    return Ok(Err(refused));
                }
                Err(error) => {
                    let _ = tx.rollback().await;
                    return Err(error);
                }
            }
        }
        tx.commit().await?;
        Ok(Ok(outcomes))
    }

    async fn ack(&self, entry_ids: &[&str]) -> Result<(), EventsError> {
        self.redis.clone().xack::<_, _, _, ()>(&self.key, self.group, entry_ids).await?;
        Ok(())
    }

    /// Records the event in `parked_events` (again, when a duplicate of it
    /// failed as well), then acknowledges it.
    async fn park(&self, event: &Event, delivery: &Delivery, error: &str) -> Result<(), EventsError> {
        sqlx::query(
            "INSERT INTO parked_events \
             (consumer, event_id, stream, entry_id, event_type, payload, encoding, error, attempts) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE entry_id = VALUES(entry_id), event_type = VALUES(event_type), \
             payload = VALUES(payload), encoding = VALUES(encoding), error = VALUES(error), \
             attempts = VALUES(attempts), parked_at = CURRENT_TIMESTAMP(6)",
        )
        .bind(self.group)
        .bind(clip(&event.id, 64))
        .bind(clip(&self.stream, 64))
        .bind(clip(&delivery.entry.id, 64))
        .bind(clip(&event.event_type, 64))
        .bind(&event.payload)
        .bind(event.encoding.as_str())
        .bind(clip(error, 4000))
        .bind(u32::try_from(delivery.deliveries).unwrap_or(u32::MAX))
        .execute(&self.pool)
        .await?;
        self.ack(&[delivery.entry.id.as_str()]).await?;
        tracing::error!(attempts = delivery.deliveries, %error, entry = %delivery.entry.id, "event parked");
        metrics::counter!("events_parked_total", "consumer" => self.group, "stream" => self.stream.clone())
            .increment(1);
        Ok(())
    }

    /// An entry that is not an event is parked at once, under its `id`
    /// field when it has a usable one, else its entry id, with its raw fields.
    async fn park_malformed(&self, delivery: &Delivery, reason: &str) -> Result<(), EventsError> {
        let entry = &delivery.entry;
        let text = |name: &str| entry.get::<Vec<u8>>(name).map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let raw: serde_json::Map<String, serde_json::Value> =
            entry.map.keys().map(|k| (k.clone(), text(k).into())).collect();
        let event_id = text("id").filter(|id| !id.is_empty() && id.len() <= 64);
        let kept = Event {
            id: event_id.unwrap_or_else(|| entry.id.clone()),
            event_type: text("type").unwrap_or_default(),
            payload: serde_json::Value::from(raw).to_string().into_bytes(),
            encoding: Encoding::Json,
            traceparent: None,
            occurred_at: chrono::Utc::now(),
        };
        self.park(&kept, delivery, &format!("malformed entry: {reason}")).await
    }

    /// Sets `events_pending`: entries delivered to the group and not yet
    /// acknowledged.
    async fn measure_pending(&self) {
        if let Ok(pending) = self.redis.clone().xpending::<_, _, StreamPendingReply>(&self.key, self.group).await {
            metrics::gauge!("events_pending", "consumer" => self.group, "stream" => self.stream.clone())
                .set(pending.count() as f64);
        }
    }

    /// Forgets `processed_events` rows older than a week, a bounded slice
    /// at a time: by then no redelivery of those events can arrive.
    async fn purge(&self) -> Result<(), sqlx::Error> {
        sqlx::query(
            "DELETE FROM processed_events WHERE consumer = ? AND processed_at < NOW(6) - INTERVAL 7 DAY LIMIT 1000",
        )
        .bind(self.group)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes this consumer from the group when nothing is pending on it
    /// (deleting a consumer drops its pending entries, so never otherwise).
    async fn leave_group(&self) {
        let mut redis = self.redis.clone();
        let pending: Result<StreamPendingCountReply, _> =
            redis.xpending_consumer_count(&self.key, self.group, "-", "+", 1, &self.name).await;
        if pending.is_ok_and(|pending| pending.ids.is_empty()) {
            let _ = redis.xgroup_delconsumer::<_, _, _, ()>(&self.key, self.group, &self.name).await;
        }
    }
}

/// The database is unreachable or the connection broke: the event is not
/// to blame, so the attempt does not count as the handler failing.
/// An event the handler does not act on; one that does not decode is not
/// ignored: the handler's path parks it.
fn ignores<H: Handler>(handler: &H, event: &Event) -> bool {
    event.decode::<H::Event>().is_ok_and(|decoded| !handler.acts_on(&decoded))
}

fn is_outage(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    )
}

/// At most `max` characters of `text`, so a column limit cannot fail the insert.
fn clip(text: &str, max: usize) -> &str {
    text.char_indices().nth(max).map_or(text, |(end, _)| &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_counts_characters_not_bytes() {
        assert_eq!(clip("héllo", 2), "hé");
        assert_eq!(clip("short", 64), "short");
    }

    #[test]
    fn only_a_broken_connection_is_an_outage() {
        assert!(is_outage(&sqlx::Error::PoolTimedOut));
        assert!(!is_outage(&sqlx::Error::RowNotFound));
    }
}
