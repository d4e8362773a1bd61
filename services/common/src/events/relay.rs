//! The relay: moves committed outbox rows into the producer's Redis
//! stream. Every replica of a service runs one; a MariaDB advisory lock,
//! held by a connection of its own, elects the one that relays (the others
//! retry every second), and all of the relay's SQL runs on that connection,
//! so a relay whose session died cannot go on publishing beside its
//! successor. Rows are published, then marked: a crash in between
//! publishes them again, which consumers absorb.
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use sqlx::{Connection, MySql, MySqlConnection, MySqlPool, QueryBuilder};
use tokio::sync::Notify;

use super::event::stream_fields;
use super::{Encoding, EventsError, stopped_during, stream_key};
use crate::shutdown::CancellationToken;
use crate::trace_context;

/// Rows per pass (one Redis pipeline, one UPDATE).
const BATCH: usize = 100;
/// Streams are trimmed to about this many entries (`MAXLEN ~`).
const STREAM_MAXLEN: usize = 100_000;
/// The backstop poll, for commits whose producer did not (or could not) notify.
const POLL: Duration = Duration::from_millis(500);
/// Pause after a failure, and between attempts to become the relay.
const RETRY: Duration = Duration::from_secs(1);
const MEASURE_EVERY: Duration = Duration::from_secs(1);
const PURGE_EVERY: Duration = Duration::from_secs(60);

#[derive(sqlx::FromRow)]
struct Unpublished {
    id: i64,
    event_id: String,
    stream: String,
    event_type: String,
    payload: Vec<u8>,
    encoding: String,
    traceparent: Option<String>,
    created_at: DateTime<Utc>,
}

/// Relays one service's outbox. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    pool: MySqlPool,
    redis: ConnectionManager,
    key_prefix: String,
    service: &'static str,
    wake: Arc<Notify>,
}

impl Relay {
    /// `key_prefix` is the fleet's `SCHEMA_PREFIX`; `service` names the
    /// metrics and the advisory lock (one relay per service and prefix).
    pub fn new(pool: MySqlPool, redis: ConnectionManager, key_prefix: String, service: &'static str) -> Self {
        Self { pool, redis, key_prefix, service, wake: Arc::new(Notify::new()) }
    }

    /// Producers call `notify_one()` on it after a COMMIT that enqueued
    /// events; wake-ups that arrive while the relay is busy are not lost.
    pub fn notifier(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Relays until `shutdown`: become the relay (or wait for the lock),
    /// then publish whenever woken and at least every 500 ms. Failures are
    /// logged and retried after a second; a database failure gives the
    /// lock up, so another replica may take over.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let Some(mut connection) = self.become_relay(&shutdown).await else { return };
            tracing::info!(service = self.service, "relaying the outbox");
            match self.relay(&mut connection, &shutdown).await {
                Ok(()) => {
                    let _ = sqlx::query("SELECT RELEASE_LOCK(?)").bind(self.lock_name()).execute(&mut connection).await;
                    let _ = connection.close().await;
                    return;
                }
                Err(error) => {
                    tracing::warn!(service = self.service, %error, "outbox relay failed; retrying");
                    // Closing the session releases the lock.
                    drop(connection);
                    if stopped_during(&shutdown, RETRY).await {
                        return;
                    }
                }
            }
        }
    }

    /// One pass when no other relay holds the lock: publishes up to 100
    /// rows and returns how many (0 when another relay is active).
    pub async fn relay_once(&self) -> Result<usize, EventsError> {
        self.relay_once_inner(true).await
    }

    /// A pass that "crashes" after publishing and before marking the rows
    /// published, for the tests that prove the crash is harmless.
    #[cfg(feature = "testkit")]
    pub async fn relay_once_crashing_before_mark(&self) -> Result<usize, EventsError> {
        self.relay_once_inner(false).await
    }

    async fn relay_once_inner(&self, mark: bool) -> Result<usize, EventsError> {
        let mut connection = self.pool.acquire().await?;
        // Whatever happens, the session ends with the pass, and its lock with it.
        connection.close_on_drop();
        if !self.try_lock(&mut connection).await? {
            return Ok(0);
        }
        self.publish_batch(&mut connection, mark).await
    }

    fn lock_name(&self) -> String {
        format!("{}outbox_relay:{}", self.key_prefix, self.service)
    }

    async fn try_lock(&self, connection: &mut MySqlConnection) -> Result<bool, sqlx::Error> {
        let locked: Option<i64> =
            sqlx::query_scalar("SELECT GET_LOCK(?, 0)").bind(self.lock_name()).fetch_one(connection).await?;
        Ok(locked == Some(1))
    }

    /// A connection holding the relay lock, once this replica gets it, or
    /// `None` on shutdown. While another replica relays, this one keeps
    /// the lag gauges current, so a stuck relay shows from anywhere.
    async fn become_relay(&self, shutdown: &CancellationToken) -> Option<MySqlConnection> {
        let mut waiting: Option<MySqlConnection> = None;
        loop {
            let attempt = async {
                let connection = match waiting.as_mut() {
                    Some(connection) => connection,
                    None => waiting.insert(self.pool.acquire().await?.detach()),
                };
                if self.try_lock(connection).await? {
                    return Ok(true);
                }
                self.measure(connection).await?;
                Ok::<_, sqlx::Error>(false)
            };
            match attempt.await {
                Ok(true) => return waiting,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(service = self.service, %error, "cannot take the outbox relay lock");
                    waiting = None;
                }
            }
            if stopped_during(shutdown, RETRY).await {
                return None;
            }
        }
    }

    /// Publishes while holding the lock, until `shutdown` (Ok) or a
    /// database failure (Err). Redis failures only pause it.
    async fn relay(&self, connection: &mut MySqlConnection, shutdown: &CancellationToken) -> Result<(), EventsError> {
        let mut measured: Option<Instant> = None;
        let mut purged = Instant::now();
        loop {
            let published = match self.publish_batch(connection, true).await {
                Ok(published) => published,
                Err(EventsError::Redis(error)) => {
                    tracing::warn!(service = self.service, %error, "cannot publish outbox events to Redis; retrying");
                    if stopped_during(shutdown, RETRY).await {
                        return Ok(());
                    }
                    continue;
                }
                Err(error) => return Err(error),
            };
            if measured.is_none_or(|at| at.elapsed() >= MEASURE_EVERY) {
                self.measure(connection).await?;
                measured = Some(Instant::now());
            }
            if purged.elapsed() >= PURGE_EVERY {
                Self::purge(connection).await?;
                purged = Instant::now();
            }
            if shutdown.is_cancelled() {
                return Ok(());
            }
            if published == BATCH {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// XADDs the oldest unpublished rows, then (when `mark`) marks them
    /// published.
    async fn publish_batch(&self, connection: &mut MySqlConnection, mark: bool) -> Result<usize, EventsError> {
        let rows: Vec<Unpublished> = sqlx::query_as(
            "SELECT id, event_id, stream, event_type, payload, encoding, traceparent, created_at \
             FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 100",
        )
        .fetch_all(&mut *connection)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut pipe = redis::pipe();
        // One producer span per event, a child of the span that enqueued
        // it, alive until the batch is published; the entry carries its
        // traceparent, so consumers become its children.
        let mut spans = Vec::with_capacity(rows.len());
        for row in &rows {
            let span = self.publish_span(row);
            let traceparent = trace_context::traceparent(&span).or_else(|| row.traceparent.clone());
            spans.push(span);
            let command = pipe
                .cmd("XADD")
                .arg(stream_key(&self.key_prefix, &row.stream))
                .arg("MAXLEN")
                .arg("~")
                .arg(STREAM_MAXLEN)
                .arg("*");
            // An encoding this build does not know is relayed as JSON: the
            // consumer then parks it, with what it could not read.
            let encoding = Encoding::parse(&row.encoding).unwrap_or(Encoding::Json);
            let fields = stream_fields(
                &row.event_id,
                &row.event_type,
                row.payload.clone(),
                encoding,
                traceparent.as_deref(),
                row.created_at,
            );
            for (name, value) in fields {
                command.arg(name).arg(value);
            }
            command.ignore();
        }
        pipe.query_async::<()>(&mut self.redis.clone()).await?;
        if mark {
            let mut update = QueryBuilder::<MySql>::new("UPDATE outbox SET published_at = NOW(6) WHERE id IN (");
            let mut ids = update.separated(", ");
            for row in &rows {
                ids.push_bind(row.id);
            }
            update.push(")");
            update.build().execute(&mut *connection).await?;
        }
        metrics::counter!("outbox_published_total", "service" => self.service).increment(rows.len() as u64);
        drop(spans);
        Ok(rows.len())
    }

    /// The span of publishing one event (OpenTelemetry's messaging
    /// "publish", a producer span) under the span that enqueued it.
    fn publish_span(&self, row: &Unpublished) -> tracing::Span {
        let span = tracing::info_span!(
            "outbox.publish",
            otel.name = format!("{} publish {}", self.service, row.event_type),
            otel.kind = "producer",
            messaging.system = "redis",
            messaging.destination.name = %row.stream,
            messaging.message.id = %row.event_id,
        );
        if let Some(traceparent) = &row.traceparent {
            trace_context::continue_from(&span, traceparent);
        }
        span
    }

    /// Sets `outbox_unpublished` and `outbox_lag_seconds` (the age of the
    /// oldest unpublished row, by the database's clock).
    async fn measure(&self, connection: &mut MySqlConnection) -> Result<(), sqlx::Error> {
        let (unpublished, lag_micros): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(6)) FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(connection)
        .await?;
        metrics::gauge!("outbox_unpublished", "service" => self.service).set(unpublished as f64);
        metrics::gauge!("outbox_lag_seconds", "service" => self.service)
            .set(lag_micros.unwrap_or(0).max(0) as f64 / 1e6);
        Ok(())
    }

    /// Drops rows published more than a week ago, a bounded slice at a time.
    async fn purge(connection: &mut MySqlConnection) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM outbox WHERE published_at < NOW(6) - INTERVAL 7 DAY LIMIT 1000")
            .execute(connection)
            .await?;
        Ok(())
    }
}
