//! Bulk import: up to ten thousand product creates in one transaction.
//!
//! Every line is checked against the database before anything is written —
//! categories exist, SKUs are neither repeated in the file nor taken by the
//! vendor (compared by the column's collation, through a temporary table, so
//! "ABC" and "abc" collide here exactly as the unique key would) — and the
//! errors of all lines come back together. Imports take turns; a concurrent
//! single write that takes a slug or SKU between the check and the insert
//! makes the unique key refuse, and the whole import is checked again, so
//! the loser reports the line.
use std::collections::HashMap;

use common::ApiError;
use common::FieldErrors;
use common::db::{ER_NO_REFERENCED_ROW, error_number, is_transient, push_in_list};
use common::error::UniqueKey;
use common::slug;
use sqlx::{Connection, MySql, MySqlConnection, QueryBuilder, Transaction};
use tracing::instrument;

use super::stock_writes::{self, WrittenStock};
use super::{SLUG_ATTEMPTS, Store, Unique};
use crate::domain::ProductChange;
use crate::domain::refusals::{duplicate_sku, missing};

/// Rows per multi-row statement (9 placeholders each, far below the
/// protocol's 65,535).
const CHUNK: usize = 500;
/// How long an import waits for the one before it.
const IMPORT_LOCK_WAIT_SECS: i64 = 10;
/// Bases per read of numbered slugs (one `LIKE` range each).
const NUMBERED_CHUNK: usize = 100;

/// A validated line of an import.
pub struct ImportRow {
    pub line: u32,
    pub change: ProductChange,
}

/// What an import came to.
pub enum Imported {
    /// Written: the new ids in line order.
    Written(Vec<i64>),
    /// Nothing written: the errors of the lines the database refused.
    Refused(Vec<(u32, FieldErrors)>),
}

impl Store {
    /// Checks every row, then — when none failed and a `write` id is given —
    /// inserts them all in one transaction, unseen until that stock write is
    /// published, and records their stock under it. No `write` checks only
    /// (other lines are known to be invalid already).
    ///
    /// Imports run one at a time per catalog (a MariaDB named lock): two
    /// large files share many slug bases, and racing each other they would
    /// lose their slugs to one another attempt after attempt. A single create
    /// racing an import still meets the unique key and checks again.
    #[instrument(name = "catalog.import_products", skip_all, fields(db.system = "mysql", otel.kind = "client", rows = rows.len()))]
    pub async fn import_products(
        &self,
        vendor_id: i64,
        rows: &[ImportRow],
        write: Option<&str>,
    ) -> Result<Imported, ApiError> {
        let mut conn = self.pool.acquire().await?;
        let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(CONCAT(DATABASE(), '.product_import'), ?)")
            .bind(IMPORT_LOCK_WAIT_SECS)
            .fetch_one(&mut *conn)
            .await?;
        if locked != Some(1) {
            return Err(ApiError::unavailable("Other imports are running; try again shortly."));
        }
        let outcome = attempts(&mut conn, vendor_id, rows, write).await;
        let released = sqlx::query("DO RELEASE_LOCK(CONCAT(DATABASE(), '.product_import'))").execute(&mut *conn).await;
        if released.is_err() {
            // The lock goes with the session: never hand this one back.
            conn.close_on_drop();
        }
        outcome
    }
}

/// The import's transaction, tried again after a transient failure or a
/// slug, SKU or category lost to a concurrent single write.
async fn attempts(
    conn: &mut MySqlConnection,
    vendor_id: i64,
    rows: &[ImportRow],
    write: Option<&str>,
) -> Result<Imported, ApiError> {
    let mut transient = 0;
    let mut lost = 0;
    loop {
        match attempt(conn, vendor_id, rows, write).await {
            Ok(imported) => return Ok(imported),
            Err(e) if is_transient(&e) && transient < SLUG_ATTEMPTS => transient += 1,
            Err(e)
                if (matches!(Unique::broken_by(&e), Some(Unique::ProductSlug | Unique::VendorSku))
                    || error_number(&e) == Some(ER_NO_REFERENCED_ROW))
                    && lost < SLUG_ATTEMPTS =>
            {
                lost += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn attempt(
    conn: &mut MySqlConnection,
    vendor_id: i64,
    rows: &[ImportRow],
    write: Option<&str>,
) -> Result<Imported, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let refused = check(&mut tx, vendor_id, rows).await?;
    let Some(write_id) = write.filter(|_| refused.is_empty()) else {
        return Ok(Imported::Refused(refused));
    };
    let ids = insert(&mut tx, vendor_id, rows, write_id).await?;
    let levels: Vec<WrittenStock> = ids
        .iter()
        .zip(rows)
        .map(|(id, row)| WrittenStock { product_id: *id, vendor_id, available: row.change.stock.unwrap_or(0) })
        .collect();
    stock_writes::record(&mut tx, write_id, &levels).await?;
    tx.commit().await?;
    Ok(Imported::Written(ids))
}

/// The lines whose category does not exist or whose SKU is repeated in the
/// file or already the vendor's.
async fn check(
    tx: &mut Transaction<'_, MySql>,
    vendor_id: i64,
    rows: &[ImportRow],
) -> Result<Vec<(u32, FieldErrors)>, sqlx::Error> {
    let mut refused: HashMap<u32, FieldErrors> = HashMap::new();
    let mut categories: Vec<i64> = rows.iter().filter_map(|r| r.change.category.flatten()).collect();
    categories.sort_unstable();
    categories.dedup();
    let mut existing = Vec::with_capacity(categories.len());
    for chunk in categories.chunks(CHUNK) {
        let mut query = QueryBuilder::<MySql>::new("SELECT id FROM categories WHERE id IN ");
        push_in_list(&mut query, chunk.iter().copied());
        existing.extend(query.build_query_scalar::<i64>().fetch_all(&mut **tx).await?);
    }
    existing.sort_unstable();
    for row in rows {
        if let Some(id) = row.change.category.flatten()
            && existing.binary_search(&id).is_err()
        {
            add(&mut refused, row.line, missing("category", id));
        }
    }
    for (line, first) in sku_clashes(tx, vendor_id, rows).await? {
        match first {
            Some(first) => {
                add(&mut refused, line, common::ApiError::field("sku", format!("This sku is already on line {first}.")))
            }
            None => add(&mut refused, line, duplicate_sku()),
        }
    }
    let mut refused: Vec<_> = refused.into_iter().collect();
    refused.sort_unstable_by_key(|(line, _)| *line);
    Ok(refused)
}

fn add(refused: &mut HashMap<u32, FieldErrors>, line: u32, error: ApiError) {
    let errors = refused.entry(line).or_default();
    for (field, messages) in error.fields.iter() {
        for message in messages {
            errors.add(field, message.clone());
        }
    }
}

/// Lines whose SKU clashes: `(line, Some(first line))` for a repeat inside
/// the file, `(line, None)` for one the vendor already has.
async fn sku_clashes(
    tx: &mut Transaction<'_, MySql>,
    vendor_id: i64,
    rows: &[ImportRow],
) -> Result<Vec<(u32, Option<u32>)>, sqlx::Error> {
    let skus: Vec<(u32, &str)> =
        rows.iter().filter_map(|r| r.change.sku.as_deref().filter(|s| !s.is_empty()).map(|s| (r.line, s))).collect();
    if skus.is_empty() {
        return Ok(Vec::new());
    }
    // A temporary table neither commits nor is seen by other connections;
    // it is dropped first in case an earlier import on this connection
    // failed before dropping its own.
    sqlx::query("DROP TEMPORARY TABLE IF EXISTS import_skus").execute(&mut **tx).await?;
    sqlx::query(
        "CREATE TEMPORARY TABLE import_skus (line INT UNSIGNED NOT NULL PRIMARY KEY, sku VARCHAR(64) NOT NULL) \
         CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    )
    .execute(&mut **tx)
    .await?;
    for chunk in skus.chunks(CHUNK) {
        let mut insert = QueryBuilder::<MySql>::new("INSERT INTO import_skus (line, sku) ");
        insert.push_values(chunk, |mut row, (line, sku)| {
            row.push_bind(*line).push_bind(*sku);
        });
        insert.build().execute(&mut **tx).await?;
    }
    let repeated: Vec<(u32, u32)> = sqlx::query_as(
        "SELECT line, first FROM (SELECT line, ROW_NUMBER() OVER (PARTITION BY sku ORDER BY line) AS n, \
         MIN(line) OVER (PARTITION BY sku) AS first FROM import_skus) t WHERE n > 1",
    )
    .fetch_all(&mut **tx)
    .await?;
    let taken: Vec<u32> =
        sqlx::query_scalar("SELECT i.line FROM import_skus i JOIN products p ON p.vendor_id = ? AND p.sku_key = i.sku")
            .bind(vendor_id)
            .fetch_all(&mut **tx)
            .await?;
    sqlx::query("DROP TEMPORARY TABLE import_skus").execute(&mut **tx).await?;
    Ok(repeated
        .into_iter()
        .map(|(line, first)| (line, Some(first)))
        .chain(taken.into_iter().map(|l| (l, None)))
        .collect())
}

/// Slugs for the rows, in row order: each name's base, numbered past every
/// slug of that base already taken and past the file's earlier lines.
async fn free_slugs(tx: &mut Transaction<'_, MySql>, rows: &[ImportRow]) -> Result<Vec<String>, sqlx::Error> {
    let bases: Vec<String> =
        rows.iter().map(|r| slug::candidate(&slug::slugify(r.change.name.as_deref().unwrap_or_default()), 1)).collect();
    let mut wanted: HashMap<&str, usize> = HashMap::new();
    for base in &bases {
        *wanted.entry(base.as_str()).or_default() += 1;
    }
    let distinct: Vec<&str> = wanted.keys().copied().collect();
    let mut roots_taken = Vec::new();
    for chunk in distinct.chunks(CHUNK) {
        let mut query = QueryBuilder::<MySql>::new("SELECT slug FROM products WHERE slug IN ");
        push_in_list(&mut query, chunk.iter().copied());
        roots_taken.extend(query.build_query_scalar::<String>().fetch_all(&mut **tx).await?);
    }
    // Only a base already taken, or wanted twice, needs its numbered slugs:
    // read for many bases at once (a union of index ranges), each slug then
    // filed under the base it numbers.
    let numbered: Vec<&str> = wanted
        .iter()
        .filter(|(base, count)| **count > 1 || roots_taken.iter().any(|t| t == *base))
        .map(|(b, _)| *b)
        .collect();
    let mut taken: HashMap<&str, Vec<String>> = HashMap::new();
    for chunk in numbered.chunks(NUMBERED_CHUNK) {
        let mut query = QueryBuilder::<MySql>::new("SELECT slug FROM products WHERE slug IN ");
        push_in_list(&mut query, chunk.iter().copied());
        for base in chunk {
            query.push(" OR slug LIKE ").push_bind(slug::numbered_pattern(base));
        }
        for found in query.build_query_scalar::<String>().fetch_all(&mut **tx).await? {
            let root = match found.rsplit_once('-') {
                Some((root, n)) if n.parse::<u32>().is_ok() && wanted.contains_key(root) => root,
                _ => found.as_str(),
            };
            // "shop-2" numbers "shop" and may be a base of its own too.
            if let Some(base) = chunk.iter().find(|b| **b == root) {
                taken.entry(base).or_default().push(found.clone());
            }
            if root != found
                && let Some(base) = chunk.iter().find(|b| **b == found)
            {
                taken.entry(base).or_default().push(found.clone());
            }
        }
    }
    let mut runs: HashMap<&str, std::vec::IntoIter<String>> = HashMap::new();
    for (base, count) in &wanted {
        let taken = taken.get(base).map(Vec::as_slice).unwrap_or_default();
        runs.insert(base, slug::free_run(base, taken, *count).into_iter());
    }
    Ok(bases.iter().map(|base| runs.get_mut(base.as_str()).and_then(Iterator::next).unwrap_or_default()).collect())
}

/// Inserts the rows and reads their ids back by slug (unique), so the ids
/// do not depend on how InnoDB hands out auto-increments to a batch.
async fn insert(
    tx: &mut Transaction<'_, MySql>,
    vendor_id: i64,
    rows: &[ImportRow],
    write_id: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    let slugs = free_slugs(tx, rows).await?;
    let lines: Vec<(&ImportRow, &String)> = rows.iter().zip(&slugs).collect();
    for chunk in lines.chunks(CHUNK) {
        let mut insert = QueryBuilder::<MySql>::new(
            "INSERT INTO products (vendor_id, category_id, name, slug, description, sku, price, is_active, \
             pending_write) ",
        );
        insert.push_values(chunk, |mut row, (product, slug)| {
            let change = &product.change;
            row.push_bind(vendor_id)
                .push_bind(change.category.flatten())
                .push_bind(change.name.clone().unwrap_or_default())
                .push_bind((*slug).clone())
                .push_bind(change.description.clone().unwrap_or_default())
                .push_bind(change.sku.clone().unwrap_or_default())
                .push_bind(change.price.unwrap_or_default())
                .push_bind(change.is_active.unwrap_or(true))
                .push_bind(write_id);
        });
        insert.build().execute(&mut **tx).await?;
    }
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(rows.len());
    for chunk in slugs.chunks(CHUNK) {
        let mut query = QueryBuilder::<MySql>::new("SELECT slug, id FROM products WHERE slug IN ");
        push_in_list(&mut query, chunk.iter().map(|slug| slug.as_str()));
        ids.extend(query.build_query_as::<(String, i64)>().fetch_all(&mut **tx).await?);
    }
    slugs
        .iter()
        .map(|slug| ids.get(slug).copied().ok_or_else(|| sqlx::Error::Protocol("an imported row vanished".into())))
        .collect()
}
