-- Payments, one open per order: the generated key is the order id while a
-- payment is pending, succeeded or refunded and NULL once it failed, so
-- concurrent initiations meet on the unique key and a failed payment
-- leaves room for a new one.
CREATE TABLE payments (
    id                  BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id            BIGINT        NOT NULL,
    user_id             BIGINT        NOT NULL,
    amount              DECIMAL(12,2) NOT NULL,
    currency            CHAR(3)       NOT NULL,
    status              VARCHAR(16)   NOT NULL,
    provider            VARCHAR(32)   NOT NULL,
    provider_payment_id VARCHAR(64)   NOT NULL,
    client_secret       VARCHAR(128)  NOT NULL,
    created_at          TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at          TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    open_order_id       BIGINT AS (IF(status = 'failed', NULL, order_id)) STORED,
    UNIQUE KEY payments_open_order (open_order_id),
    UNIQUE KEY payments_provider_id (provider_payment_id),
    KEY payments_order (order_id, id)
);

-- Every provider event id applied (or deliberately ignored): a replay is a
-- duplicate key, answered 200 with no effect.
CREATE TABLE webhook_events (
    event_id    VARCHAR(64)  NOT NULL PRIMARY KEY,
    event_type  VARCHAR(64)  NOT NULL,
    received_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
);
