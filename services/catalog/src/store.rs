//! All of catalog's SQL. Uniqueness (names, slugs, SKUs) is left to unique
//! keys; the category tree's shape changes under one lock row
//! (`category_tree_lock`), so cycle checks and the changes they guard are
//! one serialised transaction. Every write stamps the rows it changed with
//! the next number of the change sequence (`changes`), which the listing
//! index catches up from; listings themselves are not read here.
mod changes;
mod import;
mod stock_writes;

pub use changes::{IndexedProduct, IndexedVendor, Sequence};
pub use import::{ImportRow, Imported};
pub use stock_writes::{StockWrite, WrittenStock};

use chrono::{DateTime, Utc};
use common::ApiError;
use common::db::{push_in_list, retry_transient};
use common::error::{StoreError, UniqueKey};
use common::slug;
use common::status::{self, VendorStatus};
use rust_decimal::Decimal;
use sqlx::{FromRow, MySql, MySqlPool, QueryBuilder, Transaction};
use tracing::instrument;

use crate::domain::{ProductChange, refusals};

/// Catalog's unique keys (migrations name them); a write that breaks one
/// reports which, and the caller words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    CategoryName,
    ProductSlug,
    /// A vendor's SKUs are unique among its live products.
    VendorSku,
}

impl UniqueKey for Unique {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("categories_name", Unique::CategoryName),
        ("products_slug", Unique::ProductSlug),
        ("products_vendor_sku", Unique::VendorSku),
    ];
}

type Refusal = StoreError<Unique>;
const SLUG_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct VendorRow {
    pub id: i64,
    pub user_id: i64,
    pub shop_name: String,
    /// Its `common::status` name, as stored.
    pub status: String,
}

impl VendorRow {
    pub fn status(&self) -> VendorStatus {
        status::stored(&self.status)
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct CategoryRow {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub parent_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, FromRow)]
pub struct ProductRow {
    pub id: i64,
    pub vendor_id: i64,
    pub vendor_name: String,
    pub vendor_status: String,
    pub category_id: Option<i64>,
    pub category_name: Option<String>,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub sku: String,
    pub price: Decimal,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProductRow {
    /// Shown to everyone: active, not deleted, of an approved vendor.
    pub fn is_public(&self) -> bool {
        common::buyable::is_buyable(self.is_active, self.vendor_status())
    }

    pub fn vendor_status(&self) -> VendorStatus {
        status::stored(&self.vendor_status)
    }
}

macro_rules! select_products {
    ($rest:literal) => {
        concat!(
            "SELECT p.id, p.vendor_id, v.shop_name AS vendor_name, v.status AS vendor_status, p.category_id, ",
            "c.name AS category_name, p.name, p.slug, p.description, p.sku, p.price, p.is_active, p.created_at, ",
            "p.updated_at FROM products p JOIN vendors v ON v.id = p.vendor_id ",
            "LEFT JOIN categories c ON c.id = p.category_id ",
            $rest
        )
    };
}

#[derive(Clone)]
pub struct Store {
    pool: MySqlPool,
}

impl Store {
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    // ---- vendors ----

    /// Records a vendor as identity described it; true when that changed
    /// anything. Unchanged vendors (the common case) cost one read. A new
    /// status is stamped on the vendor's products too: whether they are
    /// public changes with it.
    #[instrument(name = "catalog.upsert_vendor", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn upsert_vendor(&self, vendor: &VendorRow) -> Result<bool, ApiError> {
        let current: Option<VendorRow> =
            sqlx::query_as("SELECT id, user_id, shop_name, status FROM vendors WHERE id = ?")
                .bind(vendor.id)
                .fetch_optional(&self.pool)
                .await?;
        if current.as_ref() == Some(vendor) {
            return Ok(false);
        }
        retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            let before: Option<(String,)> = sqlx::query_as("SELECT status FROM vendors WHERE id = ? FOR UPDATE")
                .bind(vendor.id)
                .fetch_optional(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO vendors (id, user_id, shop_name, status) VALUES (?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE user_id = VALUES(user_id), shop_name = VALUES(shop_name), \
                 status = VALUES(status), refreshed_at = CURRENT_TIMESTAMP(6)",
            )
            .bind(vendor.id)
            .bind(vendor.user_id)
            .bind(&vendor.shop_name)
            .bind(&vendor.status)
            .execute(&mut *tx)
            .await?;
            let seq = changes::next(&mut tx, false).await?;
            sqlx::query("UPDATE vendors SET change_seq = ? WHERE id = ?")
                .bind(seq)
                .bind(vendor.id)
                .execute(&mut *tx)
                .await?;
            if before.is_some_and(|(status,)| status != vendor.status) {
                sqlx::query("UPDATE products SET change_seq = ? WHERE vendor_id = ?")
                    .bind(seq)
                    .bind(vendor.id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })
        .await?;
        Ok(true)
    }

    #[instrument(name = "catalog.vendor_of_user", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn vendor_of_user(&self, user_id: i64) -> Result<Option<VendorRow>, ApiError> {
        Ok(sqlx::query_as("SELECT id, user_id, shop_name, status FROM vendors WHERE user_id = ?")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    #[instrument(name = "catalog.vendors_after", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn vendors_after(&self, after_id: i64, limit: i64) -> Result<Vec<VendorRow>, ApiError> {
        Ok(sqlx::query_as("SELECT id, user_id, shop_name, status FROM vendors WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    // ---- categories ----

    #[instrument(name = "catalog.categories", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn categories(&self) -> Result<Vec<CategoryRow>, ApiError> {
        Ok(sqlx::query_as("SELECT id, name, slug, parent_id, created_at FROM categories ORDER BY name, id")
            .fetch_all(&self.pool)
            .await?)
    }

    #[instrument(name = "catalog.category", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn category(&self, id: i64) -> Result<Option<CategoryRow>, ApiError> {
        Ok(sqlx::query_as("SELECT id, name, slug, parent_id, created_at FROM categories WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    #[instrument(name = "catalog.children", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn children(&self, id: i64) -> Result<Vec<i64>, ApiError> {
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT id FROM categories WHERE parent_id = ? ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Takes the tree lock: every change of parents runs under it.
    async fn lock_tree(tx: &mut Transaction<'_, MySql>) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT id FROM category_tree_lock WHERE id = 1 FOR UPDATE").execute(&mut **tx).await?;
        Ok(())
    }

    #[instrument(name = "catalog.create_category", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn create_category(&self, name: &str, parent: Option<i64>) -> Result<CategoryRow, ApiError> {
        let base = slug::slugify(name);
        let id = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            Self::lock_tree(&mut tx).await?;
            let slug = free_slug(&mut tx, "SELECT slug FROM categories WHERE slug = ? OR slug LIKE ?", &base).await?;
            let done = sqlx::query("INSERT INTO categories (name, slug, parent_id) VALUES (?, ?, ?)")
                .bind(name)
                .bind(&slug)
                .bind(parent)
                .execute(&mut *tx)
                .await?;
            changes::next(&mut tx, true).await?;
            tx.commit().await?;
            Ok(done.last_insert_id() as i64)
        })
        .await
        .map_err(|e| match Refusal::from(e) {
            StoreError::Duplicate(_) => refusals::duplicate_category_name(),
            StoreError::MissingReference => refusals::missing("parent", parent.unwrap_or_default()),
            StoreError::Failed(e) => e,
        })?;
        self.category(id).await?.ok_or_else(|| ApiError::internal("inserted category vanished"))
    }

    /// Renames and/or re-parents. `parent`: `None` keeps it, `Some(None)`
    /// makes a root. A parent that is the category itself or lies below it
    /// is refused; the tree lock makes the check and the move one step.
    #[instrument(name = "catalog.update_category", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn update_category(
        &self,
        id: i64,
        name: Option<&str>,
        parent: Option<Option<i64>>,
    ) -> Result<CategoryRow, ApiError> {
        let outcome = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            Self::lock_tree(&mut tx).await?;
            let exists: Option<(i64,)> = sqlx::query_as("SELECT id FROM categories WHERE id = ? FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Ok(Err(ApiError::not_found()));
            }
            if let Some(Some(new_parent)) = parent {
                if new_parent == id {
                    return Ok(Err(ApiError::field("parent", "A category cannot be its own parent.")));
                }
                // Walk up from the new parent: meeting `id` means a cycle.
                let mut at = Some(new_parent);
                let mut first = true;
                while let Some(current) = at {
                    let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT parent_id FROM categories WHERE id = ?")
                        .bind(current)
                        .fetch_optional(&mut *tx)
                        .await?;
                    match row {
                        None if first => return Ok(Err(refusals::missing("parent", new_parent))),
                        None => break,
                        Some((up,)) => {
                            if up == Some(id) {
                                return Ok(Err(ApiError::field(
                                    "parent",
                                    "A category cannot be moved under one of its own descendants.",
                                )));
                            }
                            at = up;
                        }
                    }
                    first = false;
                }
            }
            let (set_parent, parent_value) = match parent {
                Some(p) => (true, p),
                None => (false, None),
            };
            sqlx::query("UPDATE categories SET name = COALESCE(?, name), parent_id = IF(?, ?, parent_id) WHERE id = ?")
                .bind(name)
                .bind(set_parent)
                .bind(parent_value)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            changes::next(&mut tx, true).await?;
            tx.commit().await?;
            Ok(Ok(()))
        })
        .await
        .map_err(|e| match Refusal::from(e) {
            StoreError::Duplicate(_) => refusals::duplicate_category_name(),
            StoreError::MissingReference => ApiError::internal("a category rename named a missing row"),
            StoreError::Failed(e) => e,
        })?;
        outcome?;
        self.category(id).await?.ok_or_else(ApiError::not_found)
    }

    /// Deletes a category: its children move up to its parent, its products
    /// keep existing without a category.
    #[instrument(name = "catalog.delete_category", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn delete_category(&self, id: i64) -> Result<(), ApiError> {
        let found = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            Self::lock_tree(&mut tx).await?;
            let row: Option<(Option<i64>,)> =
                sqlx::query_as("SELECT parent_id FROM categories WHERE id = ? FOR UPDATE")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((parent,)) = row else {
                return Ok(false);
            };
            sqlx::query("UPDATE categories SET parent_id = ? WHERE parent_id = ?")
                .bind(parent)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let seq = changes::next(&mut tx, true).await?;
            // What the foreign key's SET NULL would do, stamped for the index.
            sqlx::query("UPDATE products SET category_id = NULL, change_seq = ? WHERE category_id = ?")
                .bind(seq)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM categories WHERE id = ?").bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await?;
        if found { Ok(()) } else { Err(ApiError::not_found()) }
    }

    // ---- products ----

    #[instrument(name = "catalog.product", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn product(&self, id: i64) -> Result<Option<ProductRow>, ApiError> {
        Ok(sqlx::query_as(select_products!("WHERE p.id = ? AND p.deleted_at IS NULL AND p.pending_write IS NULL"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    #[instrument(name = "catalog.products_by_ids", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn products_by_ids(&self, ids: &[i64]) -> Result<Vec<ProductRow>, ApiError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<MySql>::new(select_products!(
            "WHERE p.deleted_at IS NULL AND p.pending_write IS NULL AND p.id IN "
        ));
        push_in_list(&mut query, ids.iter().copied());
        query.push(" ORDER BY p.id");
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }

    fn product_write_error(e: sqlx::Error, change: &ProductChange) -> ApiError {
        match Refusal::from(e) {
            StoreError::Duplicate(Unique::VendorSku) => refusals::duplicate_sku(),
            StoreError::MissingReference => {
                refusals::missing("category", change.category.flatten().unwrap_or_default())
            }
            StoreError::Duplicate(key) => ApiError::internal(format!("a product write broke {key:?}")),
            StoreError::Failed(e) => e,
        }
    }

    /// Inserts a product for open write `write_id`, which records its
    /// stock: no read sees it until the write is published. A slug lost to
    /// a concurrent insert is recomputed and tried again.
    #[instrument(name = "catalog.create_product", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn create_product(
        &self,
        vendor_id: i64,
        change: &ProductChange,
        write_id: &str,
    ) -> Result<i64, ApiError> {
        let name = change.name.clone().unwrap_or_default();
        let base = slug::slugify(&name);
        for _ in 0..SLUG_ATTEMPTS {
            let attempt = retry_transient(|| async {
                let mut tx = self.pool.begin().await?;
                let slug = free_slug(&mut tx, "SELECT slug FROM products WHERE slug = ? OR slug LIKE ?", &base).await?;
                let done = sqlx::query(
                    "INSERT INTO products (vendor_id, category_id, name, slug, description, sku, price, is_active, \
                     pending_write) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(vendor_id)
                .bind(change.category.flatten())
                .bind(&name)
                .bind(&slug)
                .bind(change.description.clone().unwrap_or_default())
                .bind(change.sku.clone().unwrap_or_default())
                .bind(change.price.unwrap_or_default())
                .bind(change.is_active.unwrap_or(true))
                .bind(write_id)
                .execute(&mut *tx)
                .await?;
                let id = done.last_insert_id() as i64;
                let stock = WrittenStock { product_id: id, vendor_id, available: change.stock.unwrap_or(0) };
                stock_writes::record(&mut tx, write_id, &[stock]).await?;
                tx.commit().await?;
                Ok(id)
            })
            .await;
            match attempt {
                Ok(id) => return Ok(id),
                Err(e) if Unique::broken_by(&e) == Some(Unique::ProductSlug) => continue,
                Err(e) => return Err(Self::product_write_error(e, change)),
            }
        }
        Err(ApiError::internal("no free product slug after several attempts"))
    }

    /// Applies a change to a live product (its slug is kept).
    #[instrument(name = "catalog.update_product", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn update_product(&self, id: i64, change: &ProductChange) -> Result<(), ApiError> {
        let found = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            if !Self::update_in(&mut tx, id, change).await? {
                return Ok(false);
            }
            tx.commit().await?;
            Ok(true)
        })
        .await
        .map_err(|e| Self::product_write_error(e, change))?;
        if found { Ok(()) } else { Err(ApiError::not_found()) }
    }

    /// The change inside `tx`, stamped; false when the product is not live.
    async fn update_in(tx: &mut Transaction<'_, MySql>, id: i64, change: &ProductChange) -> Result<bool, sqlx::Error> {
        let (set_category, category) = match change.category {
            Some(c) => (true, c),
            None => (false, None),
        };
        let done = sqlx::query(
            "UPDATE products SET name = COALESCE(?, name), price = COALESCE(?, price), \
             category_id = IF(?, ?, category_id), description = COALESCE(?, description), \
             sku = COALESCE(?, sku), is_active = COALESCE(?, is_active), updated_at = CURRENT_TIMESTAMP(6) \
             WHERE id = ? AND deleted_at IS NULL AND pending_write IS NULL",
        )
        .bind(&change.name)
        .bind(change.price)
        .bind(set_category)
        .bind(category)
        .bind(&change.description)
        .bind(&change.sku)
        .bind(change.is_active)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        changes::stamp_products(tx, &[id]).await?;
        Ok(true)
    }

    /// Soft-deletes: the row stays for history, every read skips it and its
    /// SKU is free again.
    #[instrument(name = "catalog.delete_product", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn delete_product(&self, id: i64) -> Result<(), ApiError> {
        let found = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query(
                "UPDATE products SET deleted_at = CURRENT_TIMESTAMP(6), updated_at = CURRENT_TIMESTAMP(6) \
                 WHERE id = ? AND deleted_at IS NULL AND pending_write IS NULL",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            changes::stamp_products(&mut tx, &[id]).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await?;
        if found { Ok(()) } else { Err(ApiError::not_found()) }
    }
}

/// The first free slug for `base` (`base`, else one past the highest
/// `base-N`), read with `taken_query`: the table's slugs equal to `base` or
/// like `base-%`. A concurrent insert may still take it: the unique key
/// then refuses and the caller tries again.
async fn free_slug(
    tx: &mut Transaction<'_, MySql>,
    taken_query: &'static str,
    base: &str,
) -> Result<String, sqlx::Error> {
    let taken: Vec<(String,)> = sqlx::query_as(taken_query)
        .bind(slug::candidate(base, 1))
        .bind(slug::numbered_pattern(base))
        .fetch_all(&mut **tx)
        .await?;
    Ok(slug::next_free(base, &taken.into_iter().map(|(s,)| s).collect::<Vec<_>>()))
}
