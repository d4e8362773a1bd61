-- A product write that carries stock is one operation of catalog's, and
-- the order service owns stock: catalog records the write here (`open`),
-- asks order to apply these levels, then publishes the write in one
-- transaction (`published`). A failure or a timeout before that abandons
-- it (`abandoned`) and order takes the stock back (`undone`), so nobody
-- sees half a write. Order reads a write from here to apply or undo it:
-- the write id is its capability. Settled writes are purged after a week.
CREATE TABLE stock_writes (
    write_id   CHAR(36)     NOT NULL PRIMARY KEY,
    state      VARCHAR(16)  NOT NULL,
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY stock_writes_state (state, created_at)
);

CREATE TABLE stock_write_levels (
    write_id   CHAR(36) NOT NULL,
    product_id BIGINT   NOT NULL,
    vendor_id  BIGINT   NOT NULL,
    available  BIGINT   NOT NULL,
    PRIMARY KEY (write_id, product_id)
);

-- A product created by an open write: no read sees it until the write is
-- published (an abandoned one is deleted as well). It holds its slug and
-- SKU meanwhile.
ALTER TABLE products
    ADD COLUMN pending_write CHAR(36) NULL,
    ADD KEY products_pending_write (pending_write);
