//! The event tables, as DDL every service copies into its own migrations
//! (a service touches only its own schema, so no shared migration can
//! create them). A producer needs `outbox`; a consumer needs
//! `processed_events` and `parked_events`; each table's later changes
//! follow its creation, in a migration of their own. Copy the text
//! unchanged: the relay and the consumers rely on these names, columns
//! and keys.

/// Events written in the producer's transaction, waiting for the relay.
/// `(published_at, id)` makes "unpublished, oldest first" an index range,
/// and lets the relay purge published rows after a week.
pub const OUTBOX_DDL: &str = "CREATE TABLE outbox (
    id BIGINT NOT NULL AUTO_INCREMENT,
    event_id CHAR(36) NOT NULL,
    stream VARCHAR(64) NOT NULL,
    event_type VARCHAR(64) NOT NULL,
    payload LONGTEXT NOT NULL,
    traceparent VARCHAR(64) NULL DEFAULT NULL,
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    published_at TIMESTAMP(6) NULL DEFAULT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY outbox_event_id (event_id),
    KEY outbox_unpublished (published_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";

/// Payloads became encoded proto messages: bytes, with their encoding
/// beside them. Rows written before keep their JSON, marked `json`.
pub const OUTBOX_BINARY_DDL: &str = "ALTER TABLE outbox
    MODIFY payload LONGBLOB NOT NULL,
    ADD COLUMN encoding VARCHAR(16) NOT NULL DEFAULT 'json' AFTER payload";

/// One row per event a consumer group has applied, written in the same
/// transaction as the event's effects: the primary key is what makes a
/// second delivery a no-op. Rows older than a week are purged.
pub const PROCESSED_EVENTS_DDL: &str = "CREATE TABLE processed_events (
    consumer VARCHAR(64) NOT NULL,
    event_id CHAR(36) NOT NULL,
    processed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (consumer, event_id),
    KEY processed_events_age (consumer, processed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";

/// Events a consumer gave up on (the handler failed `max_attempts` times,
/// or the stream entry could not be read), kept for an operator. A
/// malformed entry is parked under its stream entry id, hence the wider
/// `event_id`.
pub const PARKED_EVENTS_DDL: &str = "CREATE TABLE parked_events (
    consumer VARCHAR(64) NOT NULL,
    event_id VARCHAR(64) NOT NULL,
    stream VARCHAR(64) NOT NULL,
    entry_id VARCHAR(64) NOT NULL,
    event_type VARCHAR(64) NOT NULL,
    payload LONGTEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INT NOT NULL,
    parked_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (consumer, event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";

/// As [`OUTBOX_BINARY_DDL`], for the events a consumer parks.
pub const PARKED_EVENTS_BINARY_DDL: &str = "ALTER TABLE parked_events
    MODIFY payload LONGBLOB NOT NULL,
    ADD COLUMN encoding VARCHAR(16) NOT NULL DEFAULT 'json' AFTER payload";
