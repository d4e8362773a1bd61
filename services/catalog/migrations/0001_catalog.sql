-- Vendors as catalog sees them (name and status, refreshed from identity),
-- the category tree and the products with their search terms.
CREATE TABLE vendors (
    id           BIGINT       NOT NULL PRIMARY KEY,
    user_id      BIGINT       NOT NULL,
    shop_name    VARCHAR(100) NOT NULL,
    status       VARCHAR(16)  NOT NULL,
    refreshed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY vendors_user (user_id),
    KEY vendors_status (status)
);

CREATE TABLE categories (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    -- the collation is case-insensitive, so this key is too
    name       VARCHAR(100) NOT NULL,
    slug       VARCHAR(120) NOT NULL,
    parent_id  BIGINT       NULL,
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY categories_name (name),
    UNIQUE KEY categories_slug (slug),
    KEY categories_parent (parent_id),
    CONSTRAINT categories_parent_fk FOREIGN KEY (parent_id) REFERENCES categories (id)
);

-- One row that every change of the tree's shape locks first, so two
-- concurrent re-parentings cannot together form a cycle.
CREATE TABLE category_tree_lock (
    id TINYINT NOT NULL PRIMARY KEY
);
INSERT INTO category_tree_lock (id) VALUES (1);

CREATE TABLE products (
    id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    vendor_id   BIGINT        NOT NULL,
    category_id BIGINT        NULL,
    name        VARCHAR(200)  NOT NULL,
    slug        VARCHAR(230)  NOT NULL,
    description VARCHAR(5000) NOT NULL DEFAULT '',
    sku         VARCHAR(64)   NOT NULL DEFAULT '',
    price       DECIMAL(12,2) NOT NULL,
    is_active   BOOLEAN       NOT NULL DEFAULT TRUE,
    deleted_at  TIMESTAMP(6)  NULL,
    created_at  TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    -- SKUs are unique per vendor among live products with a SKU; NULLs
    -- never collide, so empty and deleted SKUs are free.
    sku_key     VARCHAR(64) AS (IF(sku = '' OR deleted_at IS NOT NULL, NULL, sku)) STORED,
    UNIQUE KEY products_slug (slug),
    UNIQUE KEY products_vendor_sku (vendor_id, sku_key),
    KEY products_created (created_at, id),
    KEY products_price (price, id),
    KEY products_name (name, id),
    KEY products_category (category_id),
    CONSTRAINT products_vendor_fk FOREIGN KEY (vendor_id) REFERENCES vendors (id),
    CONSTRAINT products_category_fk FOREIGN KEY (category_id) REFERENCES categories (id) ON DELETE SET NULL
);

-- Search terms: every lower-cased word of a product's name, description
-- and SKU. A search word matches terms it is a prefix of, through the
-- primary key (no scan of product text, no minimum word length).
CREATE TABLE product_terms (
    term       VARCHAR(64) NOT NULL,
    product_id BIGINT      NOT NULL,
    PRIMARY KEY (term, product_id),
    KEY product_terms_product (product_id),
    CONSTRAINT product_terms_product_fk FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE
);
