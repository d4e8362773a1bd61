-- The change sequence the listing index catches up from. Every write to a
-- product, a vendor or the category tree takes the next number from the one
-- row of `catalog_sequence`, last in its transaction, and stamps it on the
-- rows it wrote. The row's lock is held until the commit, so numbers are
-- handed out in commit order: a reader that sees `seq = N` sees every row
-- stamped up to N, and "everything after N" is one index range.
CREATE TABLE catalog_sequence (
    id       TINYINT NOT NULL PRIMARY KEY,
    seq      BIGINT  NOT NULL,
    -- the number of the latest change to the category tree
    tree_seq BIGINT  NOT NULL
);
INSERT INTO catalog_sequence (id, seq, tree_seq) VALUES (1, 0, 0);

ALTER TABLE products
    ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0,
    ADD KEY products_change (change_seq, id);
ALTER TABLE vendors
    ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0,
    ADD KEY vendors_change (change_seq);

-- The index answers every search; the term table and the listing keys
-- that served SQL listings are no longer read.
DROP TABLE product_terms;
ALTER TABLE products
    DROP KEY products_created,
    DROP KEY products_price,
    DROP KEY products_name,
    DROP KEY products_vendor_created,
    DROP KEY products_vendor_price,
    DROP KEY products_vendor_name;
