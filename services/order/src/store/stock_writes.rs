//! Product writes' stock, applied once and undoable. Catalog owns a
//! product write that carries stock: it records the write, asks order to
//! apply the levels it recorded, then publishes the product. A write it
//! abandons (a failure or a timeout before publishing) is taken back here.
//!
//! A write applies once (its `stock_writes` row) and remembers, per
//! product, the level and the write it replaced. An undo puts back the
//! difference, so units sold since stay sold, and only while the write is
//! still the product's latest (a later write has replaced it otherwise).
//! An undo that finds no applied write leaves a fence: the write, arriving
//! late, then applies nothing.
//!
//! Lock order: the `stock_writes` row, then inventory rows in product-id
//! order, as checkout takes them.
use std::collections::HashMap;

use common::ApiError;
use common::db::{delete_keys, push_in_list, retry_transient};
use sqlx::{MySql, QueryBuilder, Transaction};
use tracing::instrument;

use super::Store;

/// Rows per statement of a large (import) write.
const CHUNK: usize = 1000;

/// One product's level in a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub product_id: i64,
    pub vendor_id: i64,
    pub available: i64,
}

/// What applying a write came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Applied now, or by an earlier delivery of the same write.
    Done,
    /// Undone (or fenced) before it could apply: nothing changed.
    Fenced,
}

impl Store {
    /// Applies `levels` (sorted here by product) as write `write_id`, once.
    #[instrument(name = "order.apply_stock_write", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn apply_stock_write(&self, write_id: &str, levels: &[Level]) -> Result<Applied, ApiError> {
        let mut levels = levels.to_vec();
        levels.sort_by_key(|l| l.product_id);
        Ok(retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            let first = sqlx::query("INSERT IGNORE INTO stock_writes (write_id) VALUES (?)")
                .bind(write_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if !first {
                let undone: bool = sqlx::query_scalar("SELECT undone FROM stock_writes WHERE write_id = ?")
                    .bind(write_id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.rollback().await?;
                return Ok(if undone { Applied::Fenced } else { Applied::Done });
            }
            for chunk in levels.chunks(CHUNK) {
                Self::apply_chunk(&mut tx, write_id, chunk).await?;
            }
            tx.commit().await?;
            Ok(Applied::Done)
        })
        .await?)
    }

    /// Records what each product had, then sets the new levels.
    async fn apply_chunk(tx: &mut Transaction<'_, MySql>, write_id: &str, chunk: &[Level]) -> Result<(), sqlx::Error> {
        let mut current = QueryBuilder::<MySql>::new(
            "SELECT product_id, CAST(available AS SIGNED), last_write FROM inventory WHERE product_id IN ",
        );
        push_in_list(&mut current, chunk.iter().map(|l| l.product_id));
        current.push(" ORDER BY product_id FOR UPDATE");
        let before: HashMap<i64, (i64, Option<String>)> = current
            .build_query_as::<(i64, i64, Option<String>)>()
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(|(product, available, write)| (product, (available, write)))
            .collect();
        let mut record = QueryBuilder::<MySql>::new(
            "INSERT INTO stock_write_levels (write_id, product_id, available, previous_available, previous_write) ",
        );
        record.push_values(chunk, |mut row, level| {
            let previous = before.get(&level.product_id);
            row.push_bind(write_id)
                .push_bind(level.product_id)
                .push_bind(level.available)
                .push_bind(previous.map_or(0, |(available, _)| *available))
                .push_bind(previous.and_then(|(_, write)| write.clone()));
        });
        record.build().execute(&mut **tx).await?;
        let mut set =
            QueryBuilder::<MySql>::new("INSERT INTO inventory (product_id, vendor_id, available, last_write) ");
        set.push_values(chunk, |mut row, level| {
            row.push_bind(level.product_id).push_bind(level.vendor_id).push_bind(level.available).push_bind(write_id);
        });
        set.push(
            " ON DUPLICATE KEY UPDATE vendor_id = VALUES(vendor_id), available = VALUES(available), \
             last_write = VALUES(last_write)",
        );
        set.build().execute(&mut **tx).await?;
        Ok(())
    }

    /// Takes back write `write_id`: each product it still set goes back by
    /// what it changed (never below zero); a write not applied is fenced.
    #[instrument(name = "order.undo_stock_write", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn undo_stock_write(&self, write_id: &str) -> Result<(), ApiError> {
        Ok(retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            let fenced = sqlx::query("INSERT IGNORE INTO stock_writes (write_id, undone) VALUES (?, TRUE)")
                .bind(write_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if !fenced {
                let undone: bool = sqlx::query_scalar("SELECT undone FROM stock_writes WHERE write_id = ? FOR UPDATE")
                    .bind(write_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if !undone {
                    Self::take_back(&mut tx, write_id).await?;
                }
            }
            tx.commit().await
        })
        .await?)
    }

    async fn take_back(tx: &mut Transaction<'_, MySql>, write_id: &str) -> Result<(), sqlx::Error> {
        let products: Vec<i64> = sqlx::query_scalar(
            "SELECT i.product_id FROM stock_write_levels l JOIN inventory i ON i.product_id = l.product_id \
             WHERE l.write_id = ? AND i.last_write = l.write_id ORDER BY i.product_id FOR UPDATE",
        )
        .bind(write_id)
        .fetch_all(&mut **tx)
        .await?;
        for chunk in products.chunks(CHUNK) {
            let mut undo = QueryBuilder::<MySql>::new(
                "UPDATE inventory i JOIN stock_write_levels l ON l.product_id = i.product_id AND l.write_id = ",
            );
            undo.push_bind(write_id);
            undo.push(
                " SET i.available = GREATEST(0, CAST(i.available AS SIGNED) + l.previous_available - l.available), \
                 i.last_write = l.previous_write WHERE i.last_write = l.write_id AND i.product_id IN ",
            );
            push_in_list(&mut undo, chunk.iter().copied());
            undo.build().execute(&mut **tx).await?;
        }
        sqlx::query("UPDATE stock_writes SET undone = TRUE WHERE write_id = ?")
            .bind(write_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Forgets writes older than a week, a bounded slice at a time: catalog
    /// has published or undone them long before.
    #[instrument(name = "order.purge_stock_writes", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn purge_stock_writes(&self) -> Result<(), ApiError> {
        let old: Vec<String> = sqlx::query_scalar(
            "SELECT write_id FROM stock_writes WHERE created_at < NOW(6) - INTERVAL 7 DAY ORDER BY created_at LIMIT 500",
        )
        .fetch_all(&self.pool)
        .await?;
        let deletes =
            ["DELETE FROM stock_write_levels WHERE write_id IN ", "DELETE FROM stock_writes WHERE write_id IN "];
        Ok(delete_keys(&self.pool, &deletes, &old).await?)
    }
}
