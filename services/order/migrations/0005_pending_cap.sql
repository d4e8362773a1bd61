-- The cap on a customer's unpaid orders (MAX_PENDING_ORDERS). Checkout
-- locks the customer's row first (made on their first checkout), so two
-- checkouts of one customer count that customer's pending orders in turn
-- and can never both take the last place under the cap; the count reads
-- only this index.
CREATE TABLE customers (
    user_id BIGINT NOT NULL PRIMARY KEY
);

CREATE INDEX orders_user_status_expires ON orders (user_id, status, expires_at);
