-- The facts analytics keeps, as the order and payment events report them.
-- Events of the two streams arrive in any order and possibly twice, so
-- every row is an upsert that any of its events may create and none can
-- undo: the figures depend on which events arrived, never on their order.

-- One row per order, created by whichever of its events comes first.
-- `created_at` (and the authoritative `total`) come with OrderPlaced: an
-- order counts in the figures only once that has arrived. `paid` is set by
-- PaymentSucceeded (or an OrderCancelled of a paid order), `cancelled` by
-- OrderCancelled; neither is ever cleared.
CREATE TABLE orders (
    order_id   BIGINT        NOT NULL PRIMARY KEY,
    user_id    BIGINT        NOT NULL,
    -- UTC; DATETIME rather than TIMESTAMP: no session time zone, no 2038
    created_at DATETIME(6)   NULL,
    total      DECIMAL(12,2) NULL,
    currency   CHAR(3)       NULL,
    paid       BOOLEAN       NOT NULL DEFAULT FALSE,
    cancelled  BOOLEAN       NOT NULL DEFAULT FALSE,
    -- covers the summary: a date range is one index range scan
    KEY orders_created (created_at, paid, cancelled, total)
);

-- One row per (order, vendor): the vendor's sub-order, from OrderPlaced.
CREATE TABLE vendor_orders (
    order_id    BIGINT        NOT NULL,
    vendor_id   BIGINT        NOT NULL,
    vendor_name VARCHAR(255)  NOT NULL,
    units       BIGINT        NOT NULL,
    revenue     DECIMAL(12,2) NOT NULL,
    PRIMARY KEY (order_id, vendor_id),
    -- a vendor's latest sub-order names it
    KEY vendor_orders_vendor (vendor_id, order_id)
);

-- One row per refunded payment, from PaymentRefunded.
CREATE TABLE refunds (
    payment_id BIGINT        NOT NULL PRIMARY KEY,
    order_id   BIGINT        NOT NULL,
    amount     DECIMAL(12,2) NOT NULL,
    KEY refunds_order (order_id)
);
