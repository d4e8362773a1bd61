-- The order follows its payments: the latest payment's id and status
-- (events may arrive out of order; an older payment never overwrites a
-- newer one), and the consumer bookkeeping (common::events DDL, copied).
ALTER TABLE orders ADD COLUMN payment_id BIGINT NULL AFTER payment_status;

CREATE TABLE processed_events (
    consumer VARCHAR(64) NOT NULL,
    event_id CHAR(36) NOT NULL,
    processed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (consumer, event_id),
    KEY processed_events_age (consumer, processed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE parked_events (
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
