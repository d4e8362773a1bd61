//! Product writes' stock on a real schema: a write applies once however
//! often it is delivered, an undo takes back only what the write changed
//! (units sold since stay sold) and only while no later write replaced it,
//! and an undo that comes first fences the write off for good — also when
//! many deliveries of both race.
use std::sync::Arc;

use common::config::Infra;
use order::store::{Applied, Level, Store};

const PRODUCT: i64 = 5;
const VENDOR: i64 = 9;

struct Schema {
    infra: Infra,
    pool: sqlx::MySqlPool,
    store: Store,
}

impl Schema {
    async fn new() -> Self {
        let mut infra = Infra::from_env().expect("infra");
        infra.schema_prefix = common::testkit::unique_prefix("stockwrites");
        let pool = infra.mysql_pool(order::SCHEMA, 16, &order::MIGRATOR).await.expect("schema");
        let store = Store::new(pool.clone(), Arc::new(tokio::sync::Notify::new()));
        Self { infra, pool, store }
    }

    async fn apply(&self, write: &str, available: i64) -> Applied {
        let level = Level { product_id: PRODUCT, vendor_id: VENDOR, available };
        self.store.apply_stock_write(write, &[level]).await.expect("applied")
    }

    async fn undo(&self, write: &str) {
        self.store.undo_stock_write(write).await.expect("undone");
    }

    /// What a checkout does to the level.
    async fn sell(&self, units: i64) {
        sqlx::query("UPDATE inventory SET available = available - ? WHERE product_id = ?")
            .bind(units)
            .bind(PRODUCT)
            .execute(&self.pool)
            .await
            .expect("sold");
    }

    async fn stock(&self) -> i64 {
        let levels = self.store.stock(&[PRODUCT]).await.expect("stock");
        levels.first().map_or(0, |(_, available)| *available)
    }

    async fn drop(self) {
        self.pool.close().await;
        common::testkit::drop_test_data(&self.infra, &[order::SCHEMA]).await.expect("clean-up");
    }
}

fn write_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn an_undo_takes_back_what_its_write_changed_and_keeps_what_was_sold() {
    let schema = Schema::new().await;
    let (first, second) = (write_id(), write_id());
    assert_eq!(schema.apply(&first, 10).await, Applied::Done);
    assert_eq!(schema.apply(&first, 10).await, Applied::Done, "a second delivery changes nothing");
    schema.sell(2).await;
    assert_eq!(schema.apply(&second, 20).await, Applied::Done);
    schema.sell(3).await;
    // The first write was replaced by the second: taking it back does nothing.
    schema.undo(&first).await;
    assert_eq!(schema.stock().await, 17);
    // The second raised 8 to 20; 3 sold since stay sold.
    schema.undo(&second).await;
    assert_eq!(schema.stock().await, 5);
    schema.undo(&second).await;
    assert_eq!(schema.stock().await, 5, "an undo applies once");
    schema.drop().await;
}

#[tokio::test]
async fn an_undo_never_takes_stock_below_zero() {
    let schema = Schema::new().await;
    let (first, second) = (write_id(), write_id());
    schema.apply(&first, 2).await;
    schema.apply(&second, 4).await;
    schema.sell(4).await;
    schema.undo(&second).await;
    assert_eq!(schema.stock().await, 0);
    schema.drop().await;
}

#[tokio::test]
async fn a_write_undone_before_it_arrives_never_applies() {
    let schema = Schema::new().await;
    let (set, late) = (write_id(), write_id());
    schema.apply(&set, 6).await;
    schema.undo(&late).await;
    assert_eq!(schema.apply(&late, 50).await, Applied::Fenced);
    assert_eq!(schema.stock().await, 6);
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_deliveries_of_a_write_and_its_undo_leave_the_level_it_replaced() {
    let schema = Arc::new(Schema::new().await);
    schema.apply(&write_id(), 30).await;
    for round in 0..10 {
        let write = write_id();
        let racers = (0..8).map(|n| {
            let (schema, write) = (schema.clone(), write.clone());
            tokio::spawn(async move {
                if n % 2 == 0 {
                    schema.apply(&write, 1000 + n).await;
                } else {
                    schema.undo(&write).await;
                }
            })
        });
        for racer in futures::future::join_all(racers).await {
            racer.expect("racer");
        }
        assert_eq!(schema.stock().await, 30, "round {round}: the write is gone, whichever came first");
    }
    match Arc::try_unwrap(schema) {
        Ok(schema) => schema.drop().await,
        Err(_) => panic!("schema still shared"),
    }
}
