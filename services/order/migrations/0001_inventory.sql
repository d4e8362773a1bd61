-- Stock per product. The order service owns it because checkout takes its
-- row locks; catalog owns everything else about a product.
CREATE TABLE inventory (
    product_id BIGINT       NOT NULL PRIMARY KEY,
    vendor_id  BIGINT       NOT NULL,
    available  INT UNSIGNED NOT NULL,
    updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY inventory_vendor (vendor_id)
);
