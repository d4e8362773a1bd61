-- Orders, their items (price/vendor snapshot) and one sub-order per vendor.
CREATE TABLE orders (
    id              BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id         BIGINT        NOT NULL,
    status          VARCHAR(16)   NOT NULL,
    total_price     DECIMAL(12,2) NOT NULL,
    currency        CHAR(3)       NOT NULL,
    -- a replayed checkout finds its first order through this key
    idempotency_key VARCHAR(255)  NULL,
    payment_status  VARCHAR(16)   NULL,
    created_at      TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at      TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    expires_at      TIMESTAMP(6)  NOT NULL,
    UNIQUE KEY orders_user_key (user_id, idempotency_key),
    KEY orders_user_created (user_id, created_at, id),
    KEY orders_status_created (status, created_at, id),
    KEY orders_created (created_at, id),
    KEY orders_status_expires (status, expires_at)
);

CREATE TABLE vendor_orders (
    id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id    BIGINT        NOT NULL,
    vendor_id   BIGINT        NOT NULL,
    vendor_name VARCHAR(100)  NOT NULL,
    subtotal    DECIMAL(12,2) NOT NULL,
    created_at  TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY vendor_orders_order_vendor (order_id, vendor_id),
    KEY vendor_orders_vendor (vendor_id, created_at, id),
    CONSTRAINT vendor_orders_order FOREIGN KEY (order_id) REFERENCES orders (id)
);

CREATE TABLE order_items (
    id              BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id        BIGINT        NOT NULL,
    vendor_order_id BIGINT        NOT NULL,
    product_id      BIGINT        NOT NULL,
    product_name    VARCHAR(200)  NOT NULL,
    sku             VARCHAR(64)   NOT NULL,
    vendor_id       BIGINT        NOT NULL,
    vendor_name     VARCHAR(100)  NOT NULL,
    unit_price      DECIMAL(12,2) NOT NULL,
    quantity        INT UNSIGNED  NOT NULL,
    line_total      DECIMAL(12,2) NOT NULL,
    KEY order_items_order (order_id, id),
    KEY order_items_vendor_order (vendor_order_id, id),
    CONSTRAINT order_items_order FOREIGN KEY (order_id) REFERENCES orders (id),
    CONSTRAINT order_items_vendor_order FOREIGN KEY (vendor_order_id) REFERENCES vendor_orders (id)
);
