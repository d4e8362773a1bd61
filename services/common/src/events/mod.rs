//! Events between services: the transactional outbox, its relay to Redis
//! Streams, and idempotent consumers (DESIGN §2). A crash at any point
//! loses no event and applies none twice.
//!
//! An event is a case of its producer's stream message, a proto oneof
//! (`marketplace/order/v1/events.proto`, `marketplace/payment/v1/
//! events.proto`, with the rules for changing them): [`StreamEvent`] ties
//! each case to its stream and type name. It travels encoded, its type
//! name beside it; a consumer decodes it into the same generated type,
//! and parks at once, with the reason, an event it cannot decode (a case
//! a newer producer added, or bytes that are no such message). Events
//! written as JSON before they were messages are still read (`legacy`).
//!
//! The path of one event:
//!
//! 1. **Producer** — [`outbox::enqueue`] inserts the event into the
//!    service's `outbox` table inside the transaction that makes the state
//!    change, so the event exists if and only if the change committed. After
//!    COMMIT the producer calls `notify_one()` on [`Relay::notifier`].
//! 2. **Relay** — [`Relay::run`] (one per producing service, any number of
//!    replicas: a MariaDB advisory lock lets exactly one of them relay)
//!    reads unpublished rows in id order, XADDs each to the stream
//!    [`stream_key`]`(prefix, stream)` and then marks them published. It
//!    wakes on the notifier and polls every 500 ms as a backstop. A crash
//!    between XADD and the mark publishes the event again on the next pass:
//!    publishing is at least once, and the stream may hold duplicates.
//! 3. **Consumer** — [`Consumer::run`] reads the stream in a consumer group
//!    (one group per consuming service). Each entry is applied in one
//!    transaction that first inserts `(consumer, event_id)` into
//!    `processed_events` (a duplicate inserts nothing and is only
//!    acknowledged), then runs the [`Handler`]; XACK follows the COMMIT.
//!    An entry whose consumer died before XACK stays pending and is
//!    re-claimed by a live consumer after `min_idle`; the
//!    `processed_events` row makes the second application a no-op. An event
//!    whose handler keeps failing is parked in `parked_events` after
//!    `max_attempts` deliveries (one that cannot be decoded, at once),
//!    acknowledged, and counted in `events_parked_total`.
//!
//! One trace follows the event ([`crate::trace_context`]): the outbox row
//! keeps the `traceparent` of the span that enqueued it, the relay
//! publishes each row under a producer span continuing that one and puts
//! the producer span's `traceparent` in the entry, and the consumer applies
//! the entry under a consumer span continuing it.
//!
//! What this does not promise: order. Outbox ids are allocated at insert,
//! not at commit, and failed entries are retried after later ones, so
//! handlers must accept events out of order (the state machines do: a
//! stale transition changes 0 rows). Streams are trimmed to about
//! 100 000 entries; a consumer group that falls further behind than that
//! loses the oldest entries (logged, `events_lost_total`).
//!
//! Tables: each service owns its tables, so it copies the DDL it needs
//! ([`OUTBOX_DDL`] and [`OUTBOX_BINARY_DDL`] to produce;
//! [`PROCESSED_EVENTS_DDL`], [`PARKED_EVENTS_DDL`] and
//! [`PARKED_EVENTS_BINARY_DDL`] to consume) into files of its own
//! `migrations/`, unchanged.
//!
//! Wiring, in a service's `serve`:
//!
//! ```ignore
//! let relay = Relay::new(pool.clone(), redis.clone(), infra.schema_prefix.clone(), "order");
//! let wake = relay.notifier(); // the store calls wake.notify_one() after each COMMIT that enqueued
//! tokio::spawn(relay.run(shutdown.clone()));
//! let consumer = Consumer::connect(pool.clone(), &infra, "payment").await?; // a Consumer<order_event::Event>
//! tokio::spawn(consumer.run(OrderEvents { .. }, shutdown.clone())); // its Handler<Event = order_event::Event>
//! ```
mod consumer;
mod event;
mod legacy;
pub mod outbox;
mod parked;
mod relay;
mod schema;
mod streams;

pub use consumer::{Consumer, Handler, HandlerError};
pub use event::{Encoding, Event};
pub use parked::{ParkedEvents, ParkedEventsService};
pub use relay::Relay;
pub use schema::{OUTBOX_BINARY_DDL, OUTBOX_DDL, PARKED_EVENTS_BINARY_DDL, PARKED_EVENTS_DDL, PROCESSED_EVENTS_DDL};
pub use streams::StreamEvent;

/// The Redis key of a producer's stream, e.g. `t42_events:order`.
pub fn stream_key(key_prefix: &str, stream: &str) -> String {
    format!("{key_prefix}events:{stream}")
}

/// Why a relay or consumer pass stopped: the database or Redis failed.
/// The long-running loops log it, back off and carry on.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Sleeps for `pause`; true when `shutdown` came first.
async fn stopped_during(shutdown: &crate::shutdown::CancellationToken, pause: std::time::Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(pause) => false,
    }
}
