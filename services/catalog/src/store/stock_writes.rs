//! Product writes that carry stock, as catalog records them (see
//! `crate::stock_writes` for the whole operation): a write is `open` while
//! order applies its levels, then `published` together with the product
//! change it belongs to, or `abandoned` (its created products deleted)
//! and, once order has taken its stock back, `undone`. Every move is
//! `UPDATE … WHERE state = ?`, so a publish and an abandon of one write
//! never both happen.
use common::ApiError;
use common::db::{delete_keys, retry_transient};
use proto::catalog::v1::StockWriteState;
use sqlx::{MySql, QueryBuilder, Transaction};
use tracing::instrument;

use super::{Store, changes};
use crate::domain::ProductChange;

/// Rows per statement of an import's write.
const CHUNK: usize = 1000;

/// One product's stock in a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenStock {
    pub product_id: i64,
    pub vendor_id: i64,
    pub available: i64,
}

/// A write as order reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockWrite {
    pub state: StockWriteState,
    pub levels: Vec<WrittenStock>,
}

fn state_name(state: StockWriteState) -> &'static str {
    match state {
        StockWriteState::Open => "open",
        StockWriteState::Published => "published",
        StockWriteState::Abandoned => "abandoned",
        StockWriteState::Undone => "undone",
        StockWriteState::Unspecified => "unspecified",
    }
}

fn state_of(name: &str) -> StockWriteState {
    [StockWriteState::Open, StockWriteState::Published, StockWriteState::Abandoned, StockWriteState::Undone]
        .into_iter()
        .find(|state| state_name(*state) == name)
        .unwrap_or(StockWriteState::Unspecified)
}

/// Records write `write_id` as open with these levels, inside `tx`.
pub(super) async fn record(
    tx: &mut Transaction<'_, MySql>,
    write_id: &str,
    levels: &[WrittenStock],
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO stock_writes (write_id, state) VALUES (?, ?)")
        .bind(write_id)
        .bind(state_name(StockWriteState::Open))
        .execute(&mut **tx)
        .await?;
    for chunk in levels.chunks(CHUNK) {
        let mut insert =
            QueryBuilder::<MySql>::new("INSERT INTO stock_write_levels (write_id, product_id, vendor_id, available) ");
        insert.push_values(chunk, |mut row, level| {
            row.push_bind(write_id).push_bind(level.product_id).push_bind(level.vendor_id).push_bind(level.available);
        });
        insert.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Moves the write `from` → `to` inside `tx`; false when it was not in `from`.
async fn move_write(
    tx: &mut Transaction<'_, MySql>,
    write_id: &str,
    from: StockWriteState,
    to: StockWriteState,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE stock_writes SET state = ? WHERE write_id = ? AND state = ?")
        .bind(state_name(to))
        .bind(write_id)
        .bind(state_name(from))
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A write that is no longer open when its owner comes to publish it: the
/// recovery abandoned it meanwhile (the owner took too long).
fn write_closed() -> ApiError {
    ApiError::unavailable("The product write took too long and was undone; try again.")
}

impl Store {
    /// Records the stock of a change to a live product as an open write.
    #[instrument(name = "catalog.open_stock_write", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn open_stock_write(&self, write_id: &str, level: WrittenStock) -> Result<(), ApiError> {
        Ok(retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            record(&mut tx, write_id, &[level]).await?;
            tx.commit().await
        })
        .await?)
    }

    /// Publishes the products an open write created (`ids`): they become
    /// visible, and the write settled, in one transaction.
    #[instrument(name = "catalog.publish_created", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn publish_created(&self, write_id: &str, ids: &[i64]) -> Result<(), ApiError> {
        let published = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            if !move_write(&mut tx, write_id, StockWriteState::Open, StockWriteState::Published).await? {
                return Ok(false);
            }
            sqlx::query("UPDATE products SET pending_write = NULL WHERE pending_write = ?")
                .bind(write_id)
                .execute(&mut *tx)
                .await?;
            changes::stamp_products(&mut tx, ids).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await?;
        if published { Ok(()) } else { Err(write_closed()) }
    }

    /// Publishes an open write with the change to product `id` it belongs
    /// to, in one transaction; the change's own errors (a SKU taken
    /// meanwhile) leave the write open for the caller to abandon.
    #[instrument(name = "catalog.publish_update", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn publish_update(&self, write_id: &str, id: i64, change: &ProductChange) -> Result<(), ApiError> {
        let published = retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            if !move_write(&mut tx, write_id, StockWriteState::Open, StockWriteState::Published).await? {
                return Ok(Some(false));
            }
            if !Self::update_in(&mut tx, id, change).await? {
                return Ok(None);
            }
            tx.commit().await?;
            Ok(Some(true))
        })
        .await
        .map_err(|e| Self::product_write_error(e, change))?;
        match published {
            Some(true) => Ok(()),
            Some(false) => Err(write_closed()),
            None => Err(ApiError::not_found()),
        }
    }

    /// Abandons an open write: the products it created are deleted (never
    /// seen). False when it was not open (published, or abandoned already).
    #[instrument(name = "catalog.abandon_stock_write", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn abandon_stock_write(&self, write_id: &str) -> Result<bool, ApiError> {
        Ok(retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            if !move_write(&mut tx, write_id, StockWriteState::Open, StockWriteState::Abandoned).await? {
                return Ok(false);
            }
            sqlx::query("UPDATE products SET deleted_at = CURRENT_TIMESTAMP(6) WHERE pending_write = ?")
                .bind(write_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await?)
    }

    /// Order has taken an abandoned write's stock back.
    #[instrument(name = "catalog.stock_write_undone", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn stock_write_undone(&self, write_id: &str) -> Result<(), ApiError> {
        let mut tx = self.pool.begin().await?;
        move_write(&mut tx, write_id, StockWriteState::Abandoned, StockWriteState::Undone).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A write with its levels, for order.
    #[instrument(name = "catalog.stock_write", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn stock_write(&self, write_id: &str) -> Result<Option<StockWrite>, ApiError> {
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM stock_writes WHERE write_id = ?")
            .bind(write_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(state) = state else { return Ok(None) };
        let levels: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT product_id, vendor_id, available FROM stock_write_levels WHERE write_id = ? ORDER BY product_id",
        )
        .bind(write_id)
        .fetch_all(&self.pool)
        .await?;
        let levels = levels
            .into_iter()
            .map(|(product_id, vendor_id, available)| WrittenStock { product_id, vendor_id, available })
            .collect();
        Ok(Some(StockWrite { state: state_of(&state), levels }))
    }

    /// Writes the recovery must settle: open ones older than `stale_secs`
    /// (their owner died or hung) and abandoned ones order has not yet
    /// taken back, oldest first.
    #[instrument(name = "catalog.unsettled_stock_writes", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn unsettled_stock_writes(&self, stale_secs: u64, limit: i64) -> Result<Vec<String>, ApiError> {
        Ok(sqlx::query_scalar(
            "SELECT write_id FROM stock_writes WHERE (state = 'open' AND created_at < NOW(6) - INTERVAL ? SECOND) \
             OR state = 'abandoned' ORDER BY created_at LIMIT ?",
        )
        .bind(stale_secs)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Forgets settled writes older than a week, a bounded slice at a time.
    #[instrument(name = "catalog.purge_stock_writes", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn purge_stock_writes(&self) -> Result<(), ApiError> {
        let old: Vec<String> = sqlx::query_scalar(
            "SELECT write_id FROM stock_writes WHERE state IN ('published', 'undone') \
             AND created_at < NOW(6) - INTERVAL 7 DAY ORDER BY created_at LIMIT 500",
        )
        .fetch_all(&self.pool)
        .await?;
        let deletes =
            ["DELETE FROM stock_write_levels WHERE write_id IN ", "DELETE FROM stock_writes WHERE write_id IN "];
        Ok(delete_keys(&self.pool, &deletes, &old).await?)
    }
}
