//! All of catalog's SQL. Uniqueness (names, slugs, SKUs) is left to unique
//! keys; the category tree's shape changes under one lock row
//! (`category_tree_lock`), so cycle checks and the changes they guard are
//! one serialised transaction. Listings are keyset pages built from fixed
//! SQL fragments with bound values.
use chrono::{DateTime, Utc};
use common::ApiError;
use common::db::{error_number, retry_transient};
use common::error::unique_violation;
use common::slug;
use rust_decimal::Decimal;
use sqlx::{FromRow, MySql, MySqlPool, QueryBuilder, Transaction};
use tracing::instrument;

use crate::domain::{ListQuery, ProductChange, SortKey, SortValue};

/// ER_NO_REFERENCED_ROW_2: a foreign key names a row that does not exist.
const ER_NO_REFERENCED_ROW: u16 = 1452;
const SLUG_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct VendorRow {
    pub id: i64,
    pub user_id: i64,
    pub shop_name: String,
    pub status: String,
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
    pub fn sort_value(&self, key: SortKey) -> SortValue {
        match key {
            SortKey::Price => SortValue::Price(self.price),
            SortKey::CreatedAt => SortValue::CreatedAt(self.created_at),
            SortKey::Name => SortValue::Name(self.name.clone()),
        }
    }

    /// Shown to everyone: active, not deleted, of an approved vendor.
    pub fn is_public(&self) -> bool {
        self.is_active && self.vendor_status == "approved"
    }
}

/// Whose products a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Active products of approved vendors.
    Public,
    /// One vendor's own products, inactive included.
    Vendor(i64),
}

/// One page of a listing, in display order.
pub struct Page {
    pub rows: Vec<ProductRow>,
    /// More rows exist beyond the page in the direction it was read.
    pub more: bool,
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

fn duplicate_category_name() -> ApiError {
    ApiError::field("name", "category with this name already exists.")
}

fn missing(field: &str, id: i64) -> ApiError {
    ApiError::field(field, format!("Invalid pk \"{id}\" - object does not exist."))
}

fn duplicate_sku() -> ApiError {
    ApiError::field("sku", "product with this sku already exists for this vendor.")
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
    /// anything. Unchanged vendors (the common case) cost one read.
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
            sqlx::query(
                "INSERT INTO vendors (id, user_id, shop_name, status) VALUES (?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE user_id = VALUES(user_id), shop_name = VALUES(shop_name), \
                 status = VALUES(status), refreshed_at = CURRENT_TIMESTAMP(6)",
            )
            .bind(vendor.id)
            .bind(vendor.user_id)
            .bind(&vendor.shop_name)
            .bind(&vendor.status)
            .execute(&self.pool)
            .await
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
            tx.commit().await?;
            Ok(done.last_insert_id() as i64)
        })
        .await
        .map_err(|e| match (unique_violation(&e).as_deref(), error_number(&e)) {
            (Some("categories_name"), _) => duplicate_category_name(),
            (_, Some(ER_NO_REFERENCED_ROW)) => missing("parent", parent.unwrap_or_default()),
            _ => ApiError::from(e),
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
                        None if first => return Ok(Err(missing("parent", new_parent))),
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
            tx.commit().await?;
            Ok(Ok(()))
        })
        .await
        .map_err(|e| match unique_violation(&e).as_deref() {
            Some("categories_name") => duplicate_category_name(),
            _ => ApiError::from(e),
        })?;
        outcome?;
        self.category(id).await?.ok_or_else(ApiError::not_found)
    }

    /// Deletes a category: its children move up to its parent, its products
    /// keep existing without a category (the foreign key's SET NULL).
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
        Ok(sqlx::query_as(select_products!("WHERE p.id = ? AND p.deleted_at IS NULL"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    #[instrument(name = "catalog.products_by_ids", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn products_by_ids(&self, ids: &[i64]) -> Result<Vec<ProductRow>, ApiError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<MySql>::new(select_products!("WHERE p.deleted_at IS NULL AND p.id IN ("));
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        query.push(") ORDER BY p.id");
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }

    /// Replaces a product's terms (`fresh`: it has none yet).
    async fn write_terms(
        tx: &mut Transaction<'_, MySql>,
        product_id: i64,
        terms: &[String],
        fresh: bool,
    ) -> Result<(), sqlx::Error> {
        if !fresh {
            sqlx::query("DELETE FROM product_terms WHERE product_id = ?").bind(product_id).execute(&mut **tx).await?;
        }
        if terms.is_empty() {
            return Ok(());
        }
        let mut insert = QueryBuilder::<MySql>::new("INSERT INTO product_terms (term, product_id) ");
        insert.push_values(terms, |mut row, term| {
            row.push_bind(term).push_bind(product_id);
        });
        insert.build().execute(&mut **tx).await?;
        Ok(())
    }

    fn product_write_error(e: sqlx::Error, change: &ProductChange) -> ApiError {
        match (unique_violation(&e).as_deref(), error_number(&e)) {
            (Some("products_vendor_sku"), _) => duplicate_sku(),
            (_, Some(ER_NO_REFERENCED_ROW)) => missing("category", change.category.flatten().unwrap_or_default()),
            _ => ApiError::from(e),
        }
    }

    /// Inserts a product and its search terms. A slug lost to a concurrent
    /// insert is recomputed and tried again.
    #[instrument(name = "catalog.create_product", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn create_product(
        &self,
        vendor_id: i64,
        change: &ProductChange,
        terms: &[String],
    ) -> Result<i64, ApiError> {
        let name = change.name.clone().unwrap_or_default();
        let base = slug::slugify(&name);
        for _ in 0..SLUG_ATTEMPTS {
            let attempt = retry_transient(|| async {
                let mut tx = self.pool.begin().await?;
                let slug = free_slug(&mut tx, "SELECT slug FROM products WHERE slug = ? OR slug LIKE ?", &base).await?;
                let done = sqlx::query(
                    "INSERT INTO products (vendor_id, category_id, name, slug, description, sku, price, is_active) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(vendor_id)
                .bind(change.category.flatten())
                .bind(&name)
                .bind(&slug)
                .bind(change.description.clone().unwrap_or_default())
                .bind(change.sku.clone().unwrap_or_default())
                .bind(change.price.unwrap_or_default())
                .bind(change.is_active.unwrap_or(true))
                .execute(&mut *tx)
                .await?;
                let id = done.last_insert_id() as i64;
                Self::write_terms(&mut tx, id, terms, true).await?;
                tx.commit().await?;
                Ok(id)
            })
            .await;
            match attempt {
                Ok(id) => return Ok(id),
                Err(e) if unique_violation(&e).as_deref() == Some("products_slug") => continue,
                Err(e) => return Err(Self::product_write_error(e, change)),
            }
        }
        Err(ApiError::internal("no free product slug after several attempts"))
    }

    /// Applies a change to a live product (its slug is kept). `terms` is
    /// given when a searchable field changed.
    #[instrument(name = "catalog.update_product", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn update_product(
        &self,
        id: i64,
        change: &ProductChange,
        terms: Option<&[String]>,
    ) -> Result<(), ApiError> {
        let (set_category, category) = match change.category {
            Some(c) => (true, c),
            None => (false, None),
        };
        let found = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query(
                "UPDATE products SET name = COALESCE(?, name), price = COALESCE(?, price), \
                 category_id = IF(?, ?, category_id), description = COALESCE(?, description), \
                 sku = COALESCE(?, sku), is_active = COALESCE(?, is_active), updated_at = CURRENT_TIMESTAMP(6) \
                 WHERE id = ? AND deleted_at IS NULL",
            )
            .bind(&change.name)
            .bind(change.price)
            .bind(set_category)
            .bind(category)
            .bind(&change.description)
            .bind(&change.sku)
            .bind(change.is_active)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            if let Some(terms) = terms {
                Self::write_terms(&mut tx, id, terms, false).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
        .await
        .map_err(|e| Self::product_write_error(e, change))?;
        if found { Ok(()) } else { Err(ApiError::not_found()) }
    }

    /// Soft-deletes: the row stays for history, every read skips it, its
    /// SKU is free again and it is no longer searchable.
    #[instrument(name = "catalog.delete_product", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn delete_product(&self, id: i64) -> Result<(), ApiError> {
        let found = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query(
                "UPDATE products SET deleted_at = CURRENT_TIMESTAMP(6), updated_at = CURRENT_TIMESTAMP(6) \
                 WHERE id = ? AND deleted_at IS NULL",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM product_terms WHERE product_id = ?").bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await?;
        if found { Ok(()) } else { Err(ApiError::not_found()) }
    }

    /// One keyset page. `categories` is the resolved category filter (a
    /// category and its descendants), when there is one.
    #[instrument(name = "catalog.list_products", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn list_products(
        &self,
        scope: Scope,
        query: &ListQuery,
        categories: Option<&[i64]>,
    ) -> Result<Page, ApiError> {
        let mut sql = QueryBuilder::<MySql>::new(select_products!("WHERE p.deleted_at IS NULL"));
        match scope {
            Scope::Public => {
                sql.push(" AND p.is_active AND v.status = 'approved'");
            }
            Scope::Vendor(vendor_id) => {
                sql.push(" AND p.vendor_id = ").push_bind(vendor_id);
            }
        }
        if let Some(categories) = categories {
            sql.push(" AND p.category_id IN (");
            let mut list = sql.separated(", ");
            for id in categories {
                list.push_bind(*id);
            }
            sql.push(")");
        }
        if let Some(vendor) = query.vendor {
            sql.push(" AND p.vendor_id = ").push_bind(vendor);
        }
        if let Some(min) = query.min_price {
            sql.push(" AND p.price >= ").push_bind(min);
        }
        if let Some(max) = query.max_price {
            sql.push(" AND p.price <= ").push_bind(max);
        }
        for word in &query.words {
            sql.push(" AND EXISTS (SELECT 1 FROM product_terms t WHERE t.product_id = p.id AND t.term LIKE ")
                .push_bind(format!("{}%", like_escape(word)))
                .push(")");
        }
        let key = query.ordering.key();
        let column = match key {
            SortKey::Price => "p.price",
            SortKey::CreatedAt => "p.created_at",
            SortKey::Name => "p.name",
        };
        let backwards = query.cursor.as_ref().is_some_and(|c| c.backwards);
        // Reading backwards flips the direction; the page is reversed after.
        let descending = query.ordering.descending() != backwards;
        if let Some(cursor) = &query.cursor {
            let value =
                cursor.sort_value().ok_or_else(|| ApiError::new(common::ErrorKind::NotFound, "Invalid cursor"))?;
            let op = if descending { " < " } else { " > " };
            sql.push(" AND (").push(column).push(op);
            push_sort_value(&mut sql, &value);
            sql.push(" OR (").push(column).push(" = ");
            push_sort_value(&mut sql, &value);
            sql.push(" AND p.id").push(op).push_bind(cursor.id).push("))");
        }
        let direction = if descending { " DESC" } else { " ASC" };
        sql.push(" ORDER BY ").push(column).push(direction).push(", p.id").push(direction);
        sql.push(" LIMIT ").push_bind(i64::from(query.page_size) + 1);
        let mut rows: Vec<ProductRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        let more = rows.len() > query.page_size as usize;
        rows.truncate(query.page_size as usize);
        if backwards {
            rows.reverse();
        }
        Ok(Page { rows, more })
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

fn push_sort_value(sql: &mut QueryBuilder<MySql>, value: &SortValue) {
    match value {
        SortValue::Price(p) => sql.push_bind(*p),
        SortValue::CreatedAt(t) => sql.push_bind(*t),
        SortValue::Name(n) => sql.push_bind(n.clone()),
    };
}

/// Escapes `LIKE` wildcards in a search word.
fn like_escape(word: &str) -> String {
    word.chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}
