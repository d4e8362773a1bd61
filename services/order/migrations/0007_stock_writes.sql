-- Product writes' stock, applied once and undoable. Catalog owns a
-- product write: it records the write, asks order to apply its stock,
-- then publishes the product; a write it abandons is taken back here.
-- `undone` with no levels is a fence: the write was abandoned before it
-- applied, so a late apply does nothing. Rows older than a week are
-- purged (catalog has settled the write by then).
CREATE TABLE stock_writes (
    write_id   CHAR(36)     NOT NULL PRIMARY KEY,
    undone     BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY stock_writes_age (created_at)
);

-- What a write changed per product: the level and the write it replaced,
-- so an undo can put back the difference (checkouts since are kept).
CREATE TABLE stock_write_levels (
    write_id           CHAR(36) NOT NULL,
    product_id         BIGINT   NOT NULL,
    available          BIGINT   NOT NULL,
    previous_available BIGINT   NOT NULL,
    previous_write     CHAR(36) NULL,
    PRIMARY KEY (write_id, product_id)
);

-- The write that last set each product's level: an undo only takes back
-- the latest one (a later write has replaced it otherwise).
ALTER TABLE inventory ADD COLUMN last_write CHAR(36) NULL;
