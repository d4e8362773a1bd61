//! The change sequence (migration 0003) and the reads the listing index is
//! built and caught up from.
//!
//! A write takes the next number last in its transaction, so the sequence
//! row's lock is held only until the commit and numbers are handed out in
//! commit order. A statement that sees a row stamped `n` therefore sees every
//! row stamped below `n`: reading `change_seq > watermark` in keyset pages
//! under READ COMMITTED misses nothing, without a snapshot transaction.
use chrono::{DateTime, Utc};
use common::ApiError;
use common::db::push_in_list;
use rust_decimal::Decimal;
use sqlx::{FromRow, MySql, QueryBuilder, Transaction};
use tracing::instrument;

use super::Store;

/// Takes the next change number; `tree`: the change is to the category tree.
/// Call it last in a write transaction (see the module doc).
pub(super) async fn next(tx: &mut Transaction<'_, MySql>, tree: bool) -> Result<i64, sqlx::Error> {
    // Assignments run left to right: `tree_seq` takes the new `seq`.
    let done = sqlx::query(
        "UPDATE catalog_sequence SET seq = LAST_INSERT_ID(seq + 1), tree_seq = IF(?, seq, tree_seq) WHERE id = 1",
    )
    .bind(tree)
    .execute(&mut **tx)
    .await?;
    Ok(done.last_insert_id() as i64)
}

/// Takes the next change number and stamps it on these products (an
/// import's ten thousand in bounded statements).
pub(crate) async fn stamp_products(tx: &mut Transaction<'_, MySql>, ids: &[i64]) -> Result<i64, sqlx::Error> {
    let seq = next(tx, false).await?;
    for chunk in ids.chunks(1000) {
        let mut stamp = QueryBuilder::<MySql>::new("UPDATE products SET change_seq = ");
        stamp.push_bind(seq).push(" WHERE id IN ");
        push_in_list(&mut stamp, chunk.iter().copied());
        stamp.build().execute(&mut **tx).await?;
    }
    Ok(seq)
}

/// Where the sequence stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct Sequence {
    /// The latest change of any kind.
    pub seq: i64,
    /// The latest change to the category tree.
    pub tree_seq: i64,
}

/// A product as the index holds it: what listings filter and sort on.
#[derive(Debug, Clone, FromRow)]
pub struct IndexedProduct {
    pub id: i64,
    pub vendor_id: i64,
    pub vendor_status: String,
    pub category_id: Option<i64>,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub sku: String,
    pub price: Decimal,
    pub is_active: bool,
    pub deleted: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub change_seq: i64,
}

/// A vendor's name and status and when they last changed.
#[derive(Debug, Clone, FromRow)]
pub struct IndexedVendor {
    pub id: i64,
    pub shop_name: String,
    pub status: String,
    pub change_seq: i64,
}

/// Products first, then their vendor by key: with a handful of vendors the
/// optimizer would otherwise read vendors first, fetch every product of each
/// and sort them all for one page (1.2 s a catch-up page at 500,000
/// products, 13 ms in this order).
macro_rules! select_indexed {
    ($rest:literal) => {
        concat!(
            "SELECT STRAIGHT_JOIN p.id, p.vendor_id, v.status AS vendor_status, p.category_id, p.name, p.slug, p.description, ",
            "p.sku, p.price, p.is_active, p.deleted_at IS NOT NULL OR p.pending_write IS NOT NULL AS deleted, ",
            "p.created_at, p.updated_at, ",
            "p.change_seq ",
            "FROM products p JOIN vendors v ON v.id = p.vendor_id ",
            $rest
        )
    };
}

impl Store {
    #[instrument(name = "catalog.sequence", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn sequence(&self) -> Result<Sequence, ApiError> {
        Ok(sqlx::query_as("SELECT seq, tree_seq FROM catalog_sequence WHERE id = 1").fetch_one(&self.pool).await?)
    }

    /// Live products after `after_id`, by id: the index's start-up build.
    #[instrument(name = "catalog.live_products", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn live_products(&self, after_id: i64, limit: i64) -> Result<Vec<IndexedProduct>, ApiError> {
        Ok(sqlx::query_as(select_indexed!(
            "WHERE p.id > ? AND p.deleted_at IS NULL AND p.pending_write IS NULL ORDER BY p.id LIMIT ?"
        ))
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Products stamped after `(seq, id)`, deleted ones included, in
    /// stamp order: one page of a catch-up.
    #[instrument(name = "catalog.changed_products", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn changed_products(&self, after: (i64, i64), limit: i64) -> Result<Vec<IndexedProduct>, ApiError> {
        Ok(sqlx::query_as(select_indexed!(
            "WHERE p.change_seq >= ? AND (p.change_seq > ? OR p.id > ?) ORDER BY p.change_seq, p.id LIMIT ?"
        ))
        .bind(after.0)
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Vendors stamped after `seq` (every vendor for a negative one).
    #[instrument(name = "catalog.changed_vendors", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn changed_vendors(&self, seq: i64) -> Result<Vec<IndexedVendor>, ApiError> {
        Ok(sqlx::query_as(
            "SELECT id, shop_name, status, change_seq FROM vendors WHERE change_seq > ? ORDER BY change_seq",
        )
        .bind(seq)
        .fetch_all(&self.pool)
        .await?)
    }
}
