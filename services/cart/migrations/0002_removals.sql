-- Orders whose lines already left the cart: taking them out is asked by
-- the gateway after checkout and again by the OrderPlaced consumer, and
-- must happen once.
CREATE TABLE cart_removals (
    order_id   BIGINT       NOT NULL PRIMARY KEY,
    user_id    BIGINT       NOT NULL,
    removed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
);
