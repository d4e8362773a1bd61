-- One line per (customer, product): adding a product already in the cart
-- adds to its line.
CREATE TABLE cart_items (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id    BIGINT       NOT NULL,
    product_id BIGINT       NOT NULL,
    quantity   INT UNSIGNED NOT NULL,
    added_at   TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY cart_items_user_product (user_id, product_id),
    KEY cart_items_user_added (user_id, added_at, id)
);
