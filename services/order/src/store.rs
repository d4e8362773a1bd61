//! All of the order service's SQL (inventory so far).
use common::ApiError;
use sqlx::{MySql, MySqlPool, QueryBuilder};

#[derive(Clone)]
pub struct Store {
    pool: MySqlPool,
}

impl Store {
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }

    /// Sets a product's stock (one statement: an upsert is atomic).
    pub async fn set_stock(&self, product_id: i64, vendor_id: i64, available: u32) -> Result<(), ApiError> {
        sqlx::query(
            "INSERT INTO inventory (product_id, vendor_id, available) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE vendor_id = VALUES(vendor_id), available = VALUES(available)",
        )
        .bind(product_id)
        .bind(vendor_id)
        .bind(available)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Available units of the products that have an inventory row.
    pub async fn stock(&self, product_ids: &[i64]) -> Result<Vec<(i64, i64)>, ApiError> {
        if product_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT product_id, CAST(available AS SIGNED) FROM inventory WHERE product_id IN (",
        );
        let mut list = query.separated(", ");
        for id in product_ids {
            list.push_bind(*id);
        }
        query.push(")");
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }
}
