//! The outbox, relay and consumers against the real MariaDB and Redis:
//! every committed event is applied exactly once, whatever crashes in
//! between, and a rolled-back one never is. Each test owns a schema and a
//! Redis key prefix, dropped at its end.
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::config::Infra;
use common::events::{
    Consumer, Handler, HandlerError, OUTBOX_BINARY_DDL, OUTBOX_DDL, PARKED_EVENTS_BINARY_DDL, PARKED_EVENTS_DDL,
    PROCESSED_EVENTS_DDL, Relay, StreamEvent, outbox, stream_key,
};
use common::shutdown::CancellationToken;
use futures::FutureExt;
use proto::order::v1::order_event::Event;
use proto::order::v1::{OrderCancelled, OrderPlaced};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, MySql, MySqlPool, Transaction};

/// What the test handlers write: one row per application, so applying an
/// event twice shows as two rows. Each test event names its own order.
const APPLIED_DDL: &str = "CREATE TABLE applied (
    n BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id BIGINT NOT NULL,
    event_type VARCHAR(64) NOT NULL
)";

const STREAM: &str = "order";
const GROUP: &str = "cart";

#[derive(Clone)]
struct Fixture {
    infra: Infra,
    prefix: String,
    schema: String,
    pool: MySqlPool,
    redis: ConnectionManager,
}

impl Fixture {
    async fn new() -> Self {
        let infra = Infra::from_env().expect("infra");
        let prefix = common::testkit::unique_prefix("events");
        let schema = format!("{prefix}db");
        let root = MySqlPoolOptions::new().max_connections(1).connect(&infra.mysql_url).await.expect("mysql");
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE `{schema}`"))).execute(&root).await.expect("create schema");
        root.close().await;
        let options = MySqlConnectOptions::from_str(&infra.mysql_url).expect("mysql url").database(&schema);
        let pool = MySqlPoolOptions::new()
            .max_connections(12)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED").execute(connection).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .expect("pool");
        let tables = [OUTBOX_DDL, OUTBOX_BINARY_DDL, PROCESSED_EVENTS_DDL, PARKED_EVENTS_DDL, PARKED_EVENTS_BINARY_DDL];
        for ddl in tables.into_iter().chain([APPLIED_DDL]) {
            sqlx::query(ddl).execute(&pool).await.expect("tables");
        }
        let redis = common::redis_conn::connect(&infra.redis_url).await.expect("redis");
        Self { infra, prefix, schema, pool, redis }
    }

    async fn clean_up(self) {
        self.pool.close().await;
        common::db::drop_schema(&self.infra.mysql_url, &self.schema).await.expect("drop schema");
        common::redis_conn::delete_prefixed(&mut self.redis.clone(), &self.prefix).await.expect("delete keys");
    }

    fn relay(&self) -> Relay {
        Relay::new(self.pool.clone(), self.redis.clone(), self.prefix.clone(), "order")
    }

    /// A consumer in the `cart` group that re-claims at once (min-idle 0).
    async fn consumer(&self) -> Consumer<Event> {
        self.patient_consumer().await.min_idle(Duration::ZERO)
    }

    /// A consumer with the default min-idle of 30 s.
    async fn patient_consumer(&self) -> Consumer<Event> {
        let redis = common::redis_conn::connect(&self.infra.redis_url).await.expect("redis");
        Consumer::new(self.pool.clone(), redis, self.prefix.clone(), GROUP, uuid::Uuid::new_v4().to_string())
    }

    /// Commits `event`; returns its order id.
    async fn enqueue_committed(&self, event: Event) -> i64 {
        let mut tx = self.pool.begin().await.expect("begin");
        outbox::enqueue(&mut tx, &event).await.expect("enqueue");
        tx.commit().await.expect("commit");
        order_of(&event)
    }

    /// How many times each event was applied, by order id.
    async fn applications(&self) -> Vec<(i64, i64)> {
        sqlx::query_as("SELECT order_id, COUNT(*) FROM applied GROUP BY order_id ORDER BY order_id")
            .fetch_all(&self.pool)
            .await
            .expect("applied")
    }

    async fn count(&self, table: &'static str) -> i64 {
        let sql = match table {
            "processed_events" => "SELECT COUNT(*) FROM processed_events",
            "parked_events" => "SELECT COUNT(*) FROM parked_events",
            _ => "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL",
        };
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.expect("count")
    }

    async fn stream_length(&self) -> usize {
        self.redis.clone().xlen(stream_key(&self.prefix, STREAM)).await.expect("xlen")
    }

    async fn pending(&self) -> usize {
        let pending: redis::streams::StreamPendingReply =
            self.redis.clone().xpending(stream_key(&self.prefix, STREAM), GROUP).await.expect("xpending");
        pending.count()
    }
}

/// Runs `test` on a fresh fixture and drops the fixture's schema and keys
/// afterwards, also when the test fails.
async fn with_fixture<F, Fut>(test: F)
where
    F: FnOnce(Fixture) -> Fut,
    Fut: Future<Output = ()>,
{
    let fixture = Fixture::new().await;
    let outcome = AssertUnwindSafe(test(fixture.clone())).catch_unwind().await;
    fixture.clean_up().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn placed(order_id: i64) -> Event {
    Event::Placed(OrderPlaced { order_id, total_price: "19.99".into(), ..Default::default() })
}

fn cancelled(order_id: i64) -> Event {
    Event::Cancelled(OrderCancelled { order_id, ..Default::default() })
}

fn order_of(event: &Event) -> i64 {
    match event {
        Event::Placed(placed) => placed.order_id,
        Event::Cancelled(cancelled) => cancelled.order_id,
    }
}

async fn record(tx: &mut Transaction<'static, MySql>, event: &Event) -> Result<(), HandlerError> {
    sqlx::query("INSERT INTO applied (order_id, event_type) VALUES (?, ?)")
        .bind(order_of(event))
        .bind(event.type_name())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Applies every event by recording it.
struct Recorder;

impl Handler for Recorder {
    type Event = Event;

    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: Event) -> Result<(), HandlerError> {
        record(tx, &event).await
    }
}

/// Records, then fails (or panics) its first `failures` calls, so a
/// failed attempt's writes must be rolled back.
struct Flaky {
    failures: AtomicUsize,
    panics: bool,
}

impl Handler for Flaky {
    type Event = Event;

    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: Event) -> Result<(), HandlerError> {
        record(tx, &event).await?;
        if self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            if self.panics {
                panic!("flaky handler panics");
            }
            return Err("flaky handler fails".into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_committed_event_is_delivered_once_and_a_rolled_back_one_never() {
    with_fixture(|fx| async move {
        let committed = fx.enqueue_committed(placed(1)).await;
        let mut tx = fx.pool.begin().await.expect("begin");
        outbox::enqueue(&mut tx, &placed(2)).await.expect("enqueue");
        tx.rollback().await.expect("rollback");

        let relay = fx.relay();
        assert_eq!(relay.relay_once().await.expect("relay"), 1);
        assert_eq!(relay.relay_once().await.expect("relay"), 0);
        assert_eq!(fx.count("unpublished").await, 0);
        let consumer = fx.consumer().await;
        assert_eq!(consumer.consume_once(&Recorder).await.expect("consume"), 1);
        assert_eq!(consumer.consume_once(&Recorder).await.expect("consume"), 0);

        assert_eq!(fx.applications().await, vec![(committed, 1)]);
        let event_type: String =
            sqlx::query_scalar("SELECT event_type FROM applied").fetch_one(&fx.pool).await.expect("row");
        assert_eq!(event_type, "OrderPlaced");
        let (payload, encoding, traceparent): (Vec<u8>, String, Option<String>) =
            sqlx::query_as("SELECT payload, encoding, traceparent FROM outbox").fetch_one(&fx.pool).await.expect("row");
        assert_eq!((Event::from_payload(&payload), encoding.as_str()), (Ok(placed(1)), "protobuf"));
        assert!(traceparent.is_some_and(|t| t.len() == 55 && t.starts_with("00-")));
        assert_eq!(fx.count("processed_events").await, 1);
        assert_eq!(fx.pending().await, 0);
    })
    .await;
}

#[tokio::test]
async fn a_relay_crash_before_marking_republishes_but_applies_once() {
    with_fixture(|fx| async move {
        let id = fx.enqueue_committed(placed(1)).await;
        let relay = fx.relay();
        assert_eq!(relay.relay_once_crashing_before_mark().await.expect("relay"), 1);
        assert_eq!(fx.count("unpublished").await, 1);
        // The next relay pass publishes the same event again.
        assert_eq!(relay.relay_once().await.expect("relay"), 1);
        assert_eq!(relay.relay_once().await.expect("relay"), 0);
        assert_eq!(fx.stream_length().await, 2);

        let consumer = fx.consumer().await;
        assert_eq!(consumer.consume_once(&Recorder).await.expect("consume"), 2);
        assert_eq!(fx.applications().await, vec![(id, 1)]);
        assert_eq!(fx.pending().await, 0);
    })
    .await;
}

/// Records each event with the InnoDB transaction that applied it.
struct TransactionRecorder;

impl Handler for TransactionRecorder {
    type Event = Event;

    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: Event) -> Result<(), HandlerError> {
        record(tx, &event).await?;
        sqlx::query(
            "INSERT INTO applied_in (order_id, trx) SELECT ?, trx_id FROM information_schema.innodb_trx \
             WHERE trx_mysql_thread_id = CONNECTION_ID()",
        )
        .bind(order_of(&event))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

#[tokio::test]
async fn events_read_together_are_applied_in_one_transaction_each_once() {
    with_fixture(|fx| async move {
        sqlx::query("CREATE TABLE applied_in (order_id BIGINT NOT NULL, trx VARCHAR(32) NOT NULL)")
            .execute(&fx.pool)
            .await
            .expect("table");
        let mut ids = Vec::new();
        for order in 1..=20 {
            ids.push(fx.enqueue_committed(placed(order)).await);
        }
        fx.relay().relay_once().await.expect("relay");
        let crashing = fx.consumer().await;
        assert_eq!(crashing.consume_once_crashing_before_ack(&TransactionRecorder).await.expect("consume"), 20);
        let transactions: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT trx) FROM applied_in")
            .fetch_one(&fx.pool)
            .await
            .expect("transactions");
        assert_eq!(transactions, 1, "one read, one transaction");
        assert_eq!(fx.pending().await, 20);
        // Re-claimed after the "crash": acknowledged in one go, applied no more.
        assert_eq!(fx.consumer().await.consume_once(&TransactionRecorder).await.expect("consume"), 20);
        assert_eq!(fx.applications().await, ids.iter().map(|id| (*id, 1)).collect::<Vec<_>>());
        assert_eq!(fx.count("processed_events").await, 20);
        assert_eq!(fx.pending().await, 0);
    })
    .await;
}

/// Applies OrderPlaced only, as cart does.
struct PlacedOnly;

impl Handler for PlacedOnly {
    type Event = Event;

    async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: Event) -> Result<(), HandlerError> {
        record(tx, &event).await
    }

    fn acts_on(&self, event: &Event) -> bool {
        matches!(event, Event::Placed(_))
    }
}

#[tokio::test]
async fn events_a_handler_ignores_are_acknowledged_without_a_processed_row() {
    with_fixture(|fx| async move {
        // A read with several events to apply, one with a single one, and
        // one with nothing to apply at all.
        let reads: [&[Event]; 3] =
            [&[placed(1), cancelled(2), placed(3), placed(4)], &[cancelled(5), placed(6)], &[cancelled(7)]];
        let consumer = fx.consumer().await;
        for events in reads {
            for event in events {
                fx.enqueue_committed(event.clone()).await;
            }
            fx.relay().relay_once().await.expect("relay");
            assert_eq!(consumer.consume_once(&PlacedOnly).await.expect("consume"), events.len());
            assert_eq!(fx.pending().await, 0, "every entry acknowledged");
        }
        assert_eq!(fx.applications().await, vec![(1, 1), (3, 1), (4, 1), (6, 1)]);
        assert_eq!(fx.count("processed_events").await, 4, "a row for each applied event, none for the ignored");
    })
    .await;
}

#[tokio::test]
async fn a_consumer_crash_after_commit_before_ack_is_not_applied_twice() {
    with_fixture(|fx| async move {
        let id = fx.enqueue_committed(placed(1)).await;
        fx.relay().relay_once().await.expect("relay");
        let crashing = fx.consumer().await;
        assert_eq!(crashing.consume_once_crashing_before_ack(&Recorder).await.expect("consume"), 1);
        assert_eq!(fx.applications().await, vec![(id, 1)]);
        assert_eq!(fx.pending().await, 1);

        // Not idle for 30 s yet: a default consumer leaves it alone.
        assert_eq!(fx.patient_consumer().await.consume_once(&Recorder).await.expect("consume"), 0);
        // Re-claimed by another consumer: acknowledged, not applied again.
        let survivor = fx.consumer().await;
        assert_eq!(survivor.consume_once(&Recorder).await.expect("consume"), 1);
        assert_eq!(fx.applications().await, vec![(id, 1)]);
        assert_eq!(fx.pending().await, 0);
        assert_eq!(survivor.consume_once(&Recorder).await.expect("consume"), 0);
    })
    .await;
}

#[tokio::test]
async fn a_handler_failure_before_commit_is_retried_and_applied_once() {
    with_fixture(|fx| async move {
        let id = fx.enqueue_committed(placed(1)).await;
        fx.relay().relay_once().await.expect("relay");
        let consumer = fx.consumer().await;
        let handler = Flaky { failures: AtomicUsize::new(1), panics: false };
        assert_eq!(consumer.consume_once(&handler).await.expect("consume"), 1);
        assert_eq!(fx.applications().await, vec![], "the failed attempt was rolled back");
        assert_eq!(fx.count("processed_events").await, 0);
        assert_eq!(fx.pending().await, 1);

        assert_eq!(consumer.consume_once(&handler).await.expect("consume"), 1);
        assert_eq!(fx.applications().await, vec![(id, 1)]);
        assert_eq!(fx.pending().await, 0);
    })
    .await;
}

#[tokio::test]
async fn a_panicking_handler_is_retried_and_applied_once() {
    with_fixture(|fx| async move {
        let id = fx.enqueue_committed(placed(1)).await;
        fx.relay().relay_once().await.expect("relay");
        let handler = Flaky { failures: AtomicUsize::new(1), panics: true };
        assert_eq!(fx.consumer().await.consume_once(&handler).await.expect("consume"), 1);
        assert_eq!(fx.applications().await, vec![]);
        // Another consumer re-claims it.
        assert_eq!(fx.consumer().await.consume_once(&handler).await.expect("consume"), 1);
        assert_eq!(fx.applications().await, vec![(id, 1)]);
        assert_eq!(fx.pending().await, 0);
    })
    .await;
}

#[tokio::test]
async fn a_handler_that_always_fails_is_parked_after_max_attempts() {
    with_fixture(|fx| async move {
        let poison = fx.enqueue_committed(placed(1)).await;
        let healthy = fx.enqueue_committed(cancelled(2)).await;
        fx.relay().relay_once().await.expect("relay");
        let consumer = fx.consumer().await.max_attempts(3);
        struct PoisonIsFatal(i64);
        impl Handler for PoisonIsFatal {
            type Event = Event;
            async fn handle(&self, tx: &mut Transaction<'static, MySql>, event: Event) -> Result<(), HandlerError> {
                record(tx, &event).await?;
                if order_of(&event) == self.0 { Err("cannot apply this one".into()) } else { Ok(()) }
            }
        }
        let handler = PoisonIsFatal(poison);
        for attempt in 1..=2 {
            consumer.consume_once(&handler).await.expect("consume");
            assert_eq!(fx.count("parked_events").await, 0, "attempt {attempt}");
            assert_eq!(fx.pending().await, 1, "attempt {attempt}");
        }
        consumer.consume_once(&handler).await.expect("consume");
        let parked: (String, Vec<u8>, String, String, i32) =
            sqlx::query_as("SELECT event_type, payload, encoding, error, attempts FROM parked_events")
                .fetch_one(&fx.pool)
                .await
                .expect("parked");
        assert_eq!(parked.0, "OrderPlaced");
        assert_eq!((Event::from_payload(&parked.1), parked.2.as_str()), (Ok(placed(poison)), "protobuf"));
        assert_eq!(parked.3, "cannot apply this one");
        assert_eq!(parked.4, 3);
        assert_eq!(fx.pending().await, 0);
        assert_eq!(consumer.consume_once(&handler).await.expect("consume"), 0);
        assert_eq!(fx.applications().await, vec![(healthy, 1)]);
        assert_eq!(fx.count("processed_events").await, 1);
    })
    .await;
}

#[tokio::test]
async fn a_malformed_entry_is_parked_at_once() {
    with_fixture(|fx| async move {
        let _: String = fx
            .redis
            .clone()
            .xadd(stream_key(&fx.prefix, STREAM), "*", &[("type", "OrderPlaced"), ("payload", "{not json")])
            .await
            .expect("xadd");
        let consumer = fx.consumer().await;
        assert_eq!(consumer.consume_once(&Recorder).await.expect("consume"), 1);
        let (event_type, error, attempts): (String, String, i32) =
            sqlx::query_as("SELECT event_type, error, attempts FROM parked_events")
                .fetch_one(&fx.pool)
                .await
                .expect("parked");
        assert_eq!(event_type, "OrderPlaced");
        assert!(error.contains("`id` is missing"), "{error}");
        assert_eq!(attempts, 1);
        assert_eq!(fx.pending().await, 0);
        assert_eq!(fx.applications().await, vec![]);
    })
    .await;
}

#[tokio::test]
async fn an_event_type_this_build_does_not_know_is_parked_at_once_with_the_reason() {
    with_fixture(|fx| async move {
        // A newer producer's case 15 (a length-delimited field this build skips).
        let id = uuid::Uuid::new_v4().to_string();
        let fields: [(&str, &[u8]); 5] = [
            ("id", id.as_bytes()),
            ("type", b"OrderShipped"),
            ("payload", &[0x7a, 0x00]),
            ("encoding", b"protobuf"),
            ("occurred_at", b"2026-12-01T10:00:00.000000Z"),
        ];
        let _: String = fx.redis.clone().xadd(stream_key(&fx.prefix, STREAM), "*", &fields).await.expect("xadd");
        let consumer = fx.consumer().await.max_attempts(5);
        assert_eq!(consumer.consume_once(&Recorder).await.expect("consume"), 1);
        let (event_id, event_type, error, attempts): (String, String, String, i32) =
            sqlx::query_as("SELECT event_id, event_type, error, attempts FROM parked_events")
                .fetch_one(&fx.pool)
                .await
                .expect("parked");
        assert_eq!((event_id, event_type.as_str(), attempts), (id, "OrderShipped", 1));
        assert!(error.contains("does not know"), "{error}");
        assert_eq!(fx.pending().await, 0);
        assert_eq!(fx.applications().await, vec![]);
    })
    .await;
}

#[tokio::test]
async fn events_written_as_json_before_the_upgrade_are_still_applied() {
    with_fixture(|fx| async move {
        // An outbox row from before the migration: created with the first
        // DDL, then migrated.
        sqlx::query("DROP TABLE outbox").execute(&fx.pool).await.expect("drop");
        sqlx::query(OUTBOX_DDL).execute(&fx.pool).await.expect("old outbox");
        sqlx::query("INSERT INTO outbox (event_id, stream, event_type, payload) VALUES (?, 'order', 'OrderPlaced', ?)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(r#"{"order_id": 7, "user_id": 3, "total_price": "19.99", "currency": "USD", "items": []}"#)
            .execute(&fx.pool)
            .await
            .expect("old row");
        sqlx::query(OUTBOX_BINARY_DDL).execute(&fx.pool).await.expect("migration");
        // A stream entry from before: no `encoding`, a JSON payload.
        let id = uuid::Uuid::new_v4().to_string();
        let fields = [
            ("id", id.as_str()),
            ("type", "OrderCancelled"),
            ("payload", r#"{"order_id": 8, "user_id": 3, "previous_status": "pending", "reason": "expired"}"#),
            ("occurred_at", "2026-12-01T10:00:00.000000Z"),
        ];
        let _: String = fx.redis.clone().xadd(stream_key(&fx.prefix, STREAM), "*", &fields).await.expect("xadd");

        assert_eq!(fx.relay().relay_once().await.expect("relay"), 1);
        assert_eq!(fx.consumer().await.consume_once(&Recorder).await.expect("consume"), 2);
        assert_eq!(fx.applications().await, vec![(7, 1), (8, 1)]);
        assert_eq!(fx.count("parked_events").await, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_and_ten_producers_deliver_every_event_exactly_once() {
    with_fixture(|fx| async move {
        let shutdown = CancellationToken::new();
        let relays = [fx.relay(), fx.relay()];
        let wakes: Vec<_> = relays.iter().map(Relay::notifier).collect();
        let mut tasks: Vec<_> = relays.into_iter().map(|relay| tokio::spawn(relay.run(shutdown.clone()))).collect();
        for _ in 0..2 {
            let consumer = fx.patient_consumer().await;
            tasks.push(tokio::spawn(consumer.run(Recorder, shutdown.clone())));
        }

        let producers = (0..10).map(|producer| {
            let (fx, wakes) = (fx.clone(), wakes.clone());
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..20 {
                    ids.push(fx.enqueue_committed(placed(producer * 100 + n)).await);
                    wakes.iter().for_each(|wake| wake.notify_one());
                }
                ids
            })
        });
        let mut enqueued: Vec<i64> =
            futures::future::join_all(producers).await.into_iter().flat_map(|ids| ids.expect("producer")).collect();
        enqueued.sort();

        let started = Instant::now();
        while fx.applications().await.len() < enqueued.len() && started.elapsed() < Duration::from_secs(15) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shutdown.cancel();
        for task in tasks {
            task.await.expect("task");
        }

        let applications = fx.applications().await;
        assert_eq!(applications.len(), 200);
        assert!(applications.iter().all(|(_, times)| *times == 1), "{applications:?}");
        assert_eq!(applications.into_iter().map(|(id, _)| id).collect::<Vec<_>>(), enqueued);
        assert_eq!(fx.stream_length().await, 200, "one relay at a time: nothing published twice");
        assert_eq!(fx.count("unpublished").await, 0);
        assert_eq!(fx.pending().await, 0);
    })
    .await;
}
