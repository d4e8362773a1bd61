-- Listings filtered by vendor read its products already in sort order
-- (no filesort), and a product's terms are one index range.
ALTER TABLE products
    ADD KEY products_vendor_created (vendor_id, created_at, id),
    ADD KEY products_vendor_price (vendor_id, price, id),
    ADD KEY products_vendor_name (vendor_id, name, id);
ALTER TABLE product_terms
    DROP KEY product_terms_product,
    ADD KEY product_terms_product (product_id, term);
