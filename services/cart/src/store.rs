//! All of cart's SQL. A line is unique per (customer, product); merging
//! into it is one conditional UPDATE, so the stock check and the new total
//! are one step.
use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use common::ApiError;
use common::db::{push_in_list, retry_transient};
use common::error::UniqueKey;
use sqlx::{FromRow, MySql, MySqlPool, QueryBuilder, Transaction};
use tracing::instrument;

/// Cart's unique keys that a write may break on purpose (migrations name
/// them).
///
/// `Line`: one line per (customer, product).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    Line,
}

impl UniqueKey for Unique {
    const NAMES: &'static [(&'static str, Self)] = &[("cart_items_user_product", Unique::Line)];
}

#[derive(Debug, Clone, FromRow)]
pub struct LineRow {
    pub id: i64,
    pub user_id: i64,
    pub product_id: i64,
    pub quantity: i64,
    pub added_at: DateTime<Utc>,
}

/// What adding did to the cart: the line as it now reads.
pub enum Added {
    Created(LineRow),
    Merged(LineRow),
    /// The merged total would exceed what `fits` allowed: nothing changed.
    TooMany {
        wanted: i64,
    },
}

macro_rules! select_lines {
    ($rest:literal) => {
        concat!(
            "SELECT id, user_id, product_id, CAST(quantity AS SIGNED) AS quantity, added_at FROM cart_items ",
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

    #[instrument(name = "cart.lines", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn lines(&self, user_id: i64) -> Result<Vec<LineRow>, ApiError> {
        Ok(sqlx::query_as(select_lines!("WHERE user_id = ? ORDER BY added_at, id"))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?)
    }

    #[instrument(name = "cart.line", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn line(&self, user_id: i64, id: i64) -> Result<Option<LineRow>, ApiError> {
        Ok(sqlx::query_as(select_lines!("WHERE id = ? AND user_id = ?"))
            .bind(id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Adds `quantity` units, merging into an existing line (which keeps
    /// its `added_at`), as long as the line's total stays within `limit`.
    /// Each step is one autocommit statement that checks and writes at
    /// once: a new line is one INSERT (the common case); a merge is one
    /// conditional UPDATE, then a read of the line it made. A step that a
    /// concurrent change overtook (the line appeared, or went) starts
    /// again.
    #[instrument(name = "cart.add", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn add(&self, user_id: i64, product_id: i64, quantity: i64, limit: i64) -> Result<Added, ApiError> {
        loop {
            if let Some(created) = self.insert_line(user_id, product_id, quantity, limit).await? {
                return Ok(created);
            }
            let merged = retry_transient(|| async {
                sqlx::query(
                    "UPDATE cart_items SET quantity = quantity + ? \
                     WHERE user_id = ? AND product_id = ? AND quantity + ? <= ?",
                )
                .bind(quantity)
                .bind(user_id)
                .bind(product_id)
                .bind(quantity)
                .bind(limit)
                .execute(&self.pool)
                .await
            })
            .await?
            .rows_affected()
                == 1;
            let line: Option<LineRow> = sqlx::query_as(select_lines!("WHERE user_id = ? AND product_id = ?"))
                .bind(user_id)
                .bind(product_id)
                .fetch_optional(&self.pool)
                .await?;
            match line {
                Some(line) if merged => return Ok(Added::Merged(line)),
                Some(line) if line.quantity + quantity > limit => {
                    return Ok(Added::TooMany { wanted: line.quantity + quantity });
                }
                // Removed, or changed so that it fits, meanwhile: again.
                _ => continue,
            }
        }
    }

    /// A new line of `quantity` units; `None` when the product already
    /// has a line in this cart.
    async fn insert_line(
        &self,
        user_id: i64,
        product_id: i64,
        quantity: i64,
        limit: i64,
    ) -> Result<Option<Added>, ApiError> {
        if quantity > limit {
            return Ok(Some(Added::TooMany { wanted: quantity }));
        }
        // Microseconds, as the column keeps them.
        let added_at = Utc::now().trunc_subsecs(6);
        let inserted = retry_transient(|| async {
            sqlx::query("INSERT INTO cart_items (user_id, product_id, quantity, added_at) VALUES (?, ?, ?, ?)")
                .bind(user_id)
                .bind(product_id)
                .bind(quantity)
                .bind(added_at)
                .execute(&self.pool)
                .await
        })
        .await;
        match inserted {
            Ok(done) => {
                let id = done.last_insert_id() as i64;
                Ok(Some(Added::Created(LineRow { id, user_id, product_id, quantity, added_at })))
            }
            Err(e) if Unique::broken_by(&e) == Some(Unique::Line) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    #[instrument(name = "cart.set_quantity", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn set_quantity(&self, user_id: i64, id: i64, quantity: i64) -> Result<bool, ApiError> {
        let done = sqlx::query("UPDATE cart_items SET quantity = ? WHERE id = ? AND user_id = ?")
            .bind(quantity)
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        // Setting the same quantity changes no row but the line exists.
        Ok(done.rows_affected() == 1 || self.line(user_id, id).await?.is_some())
    }

    #[instrument(name = "cart.remove", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn remove(&self, user_id: i64, id: i64) -> Result<bool, ApiError> {
        let done = sqlx::query("DELETE FROM cart_items WHERE id = ? AND user_id = ?")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the lines of these products (they can no longer be bought).
    #[instrument(name = "cart.drop_products", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn drop_products(&self, user_id: i64, product_ids: &[i64]) -> Result<(), ApiError> {
        for product_id in product_ids {
            sqlx::query("DELETE FROM cart_items WHERE user_id = ? AND product_id = ?")
                .bind(user_id)
                .bind(product_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Takes ordered units out: each line loses `quantity` (0: all of it)
    /// and disappears when nothing is left, in one transaction. With an
    /// order id this happens once per order, whoever asks.
    #[instrument(name = "cart.take_out", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn take_out(&self, user_id: i64, order_id: Option<i64>, lines: &[(i64, i64)]) -> Result<(), ApiError> {
        retry_transient(|| async {
            let mut tx = self.pool.begin().await?;
            Self::take_out_in(&mut tx, user_id, order_id, lines).await?;
            tx.commit().await
        })
        .await?;
        Ok(())
    }

    /// `take_out` inside the caller's transaction (the event consumer's).
    #[instrument(name = "cart.take_out_in", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn take_out_in(
        tx: &mut Transaction<'_, MySql>,
        user_id: i64,
        order_id: Option<i64>,
        lines: &[(i64, i64)],
    ) -> Result<(), sqlx::Error> {
        if let Some(order_id) = order_id {
            let first = sqlx::query("INSERT IGNORE INTO cart_removals (order_id, user_id) VALUES (?, ?)")
                .bind(order_id)
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
            if first.rows_affected() == 0 {
                return Ok(());
            }
        }
        // A product named twice gives up the units of both (0: all of it).
        let mut taken: BTreeMap<i64, i64> = BTreeMap::new();
        for (product_id, quantity) in lines {
            let units = if *quantity > 0 { *quantity } else { i64::MAX };
            let total = taken.entry(*product_id).or_default();
            *total = total.saturating_add(units);
        }
        if taken.is_empty() {
            return Ok(());
        }
        // One statement for every line, then one for the lines left empty:
        // each locks its rows in (user, product) index order, so two
        // removals from one cart lock rows alike.
        let mut update =
            QueryBuilder::<MySql>::new("UPDATE cart_items SET quantity = quantity - LEAST(quantity, CASE product_id");
        for (product_id, units) in &taken {
            update.push(" WHEN ").push_bind(*product_id).push(" THEN ").push_bind(*units);
        }
        update.push(" END) WHERE user_id = ").push_bind(user_id).push(" AND product_id IN ");
        push_in_list(&mut update, taken.keys().copied());
        update.build().execute(&mut **tx).await?;
        let mut delete = QueryBuilder::<MySql>::new("DELETE FROM cart_items WHERE user_id = ");
        delete.push_bind(user_id).push(" AND quantity = 0 AND product_id IN ");
        push_in_list(&mut delete, taken.keys().copied());
        delete.build().execute(&mut **tx).await?;
        Ok(())
    }
}
