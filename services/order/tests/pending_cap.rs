//! The cap on a customer's unpaid orders, on a real schema: concurrent
//! checkouts of one customer never pass it, a replay of an order already
//! placed is still that order at the cap, and only unexpired pending
//! orders count.
use std::sync::Arc;

use common::config::Infra;
use order::domain::{self, OrderDraft, Snapshot};
use order::store::{Checkout, Placed, Store};
use rust_decimal::Decimal;
use sqlx::MySqlPool;

const CUSTOMER: i64 = 7;
const PRODUCT: i64 = 1;
const STOCK: i64 = 1000;

struct Schema {
    infra: Infra,
    pool: MySqlPool,
    store: Store,
}

impl Schema {
    async fn new() -> Self {
        let mut infra = Infra::from_env().expect("infra");
        infra.schema_prefix = common::testkit::unique_prefix("pendingcap");
        let pool = infra.mysql_pool(order::SCHEMA, 16, &order::MIGRATOR).await.expect("schema");
        sqlx::query("INSERT INTO inventory (product_id, vendor_id, available) VALUES (?, 10, ?)")
            .bind(PRODUCT)
            .bind(STOCK)
            .execute(&pool)
            .await
            .expect("stock");
        let store = Store::new(pool.clone(), Arc::new(tokio::sync::Notify::new()));
        Self { infra, pool, store }
    }

    /// One unit of the product, for `CUSTOMER`, under `key`, with `cap`.
    async fn place(&self, key: Option<&str>, cap: u32) -> Placed {
        let terms = Checkout { currency: "USD", reservation: chrono::Duration::minutes(30), key, max_pending: cap };
        self.store.place_order(CUSTOMER, &draft(), terms).await.expect("placed or refused")
    }

    async fn pending(&self) -> i64 {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders WHERE user_id = ? AND status = 'pending'")
            .bind(CUSTOMER)
            .fetch_one(&self.pool)
            .await
            .expect("count");
        n
    }

    async fn stock(&self) -> i64 {
        let levels = self.store.stock(&[PRODUCT]).await.expect("stock");
        levels.first().map_or(0, |(_, available)| *available)
    }

    async fn set(&self, sql: &'static str, order: i64) {
        sqlx::query(sql).bind(order).execute(&self.pool).await.expect("update");
    }

    async fn drop(self) {
        self.pool.close().await;
        common::testkit::drop_test_data(&self.infra, &[order::SCHEMA]).await.expect("clean-up");
    }
}

fn draft() -> OrderDraft {
    let snapshot = Snapshot {
        product_id: PRODUCT,
        name: "Mug".into(),
        sku: "MUG".into(),
        vendor_id: 10,
        vendor_name: "Shop".into(),
        price: Decimal::new(500, 2),
        buyable: true,
    };
    domain::draft_order(&[(PRODUCT, 1)], &[snapshot]).expect("draft")
}

fn created(placed: &Placed) -> Option<i64> {
    match placed {
        Placed::Created(order) => Some(order.order.id),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checkouts_of_one_customer_never_pass_the_cap() {
    let schema = Schema::new().await;
    let keys: Vec<String> = (0..24).map(|i| format!("key-{i}")).collect();
    let placed = futures::future::join_all(keys.iter().map(|key| schema.place(Some(key), 5))).await;
    let orders = placed.iter().filter_map(created).count();
    let refused = placed.iter().filter(|p| matches!(p, Placed::TooManyPending)).count();
    assert_eq!((orders, refused), (5, 19), "exactly the cap's worth of checkouts succeed");
    assert_eq!(schema.pending().await, 5);
    assert_eq!(schema.stock().await, STOCK - 5, "a refused checkout takes no stock");
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replay_at_the_cap_is_the_first_order() {
    let schema = Schema::new().await;
    let first = created(&schema.place(Some("first"), 2).await).expect("first order");
    // One more, under one key sent eight times at once: one order, and every
    // other answer is that order, never the cap's refusal.
    let racing = futures::future::join_all((0..8).map(|_| schema.place(Some("second"), 2))).await;
    let ids: Vec<i64> = racing
        .iter()
        .map(|p| match p {
            Placed::Created(order) => order.order.id,
            Placed::Replayed(id) => *id,
            _ => panic!("a replay of the key became a refusal"),
        })
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]) && ids[0] != first, "{ids:?}");
    assert_eq!(racing.iter().filter_map(created).count(), 1);
    // At the cap: the first key is still its order, a new key is refused.
    assert!(matches!(schema.place(Some("first"), 2).await, Placed::Replayed(id) if id == first));
    assert!(matches!(schema.place(Some("third"), 2).await, Placed::TooManyPending));
    assert!(matches!(schema.place(None, 2).await, Placed::TooManyPending));
    assert_eq!(schema.pending().await, 2);
    schema.drop().await;
}

#[tokio::test]
async fn only_unexpired_pending_orders_count() {
    let schema = Schema::new().await;
    let paid = created(&schema.place(None, 1).await).expect("order");
    assert!(matches!(schema.place(None, 1).await, Placed::TooManyPending));
    schema.set("UPDATE orders SET status = 'paid' WHERE id = ?", paid).await;
    let cancelled = created(&schema.place(None, 1).await).expect("a paid order does not count");
    schema.set("UPDATE orders SET status = 'cancelled' WHERE id = ?", cancelled).await;
    let expired = created(&schema.place(None, 1).await).expect("a cancelled order does not count");
    // Its reservation ran out; the reaper has not cancelled it yet.
    schema.set("UPDATE orders SET expires_at = CURRENT_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE id = ?", expired).await;
    assert!(created(&schema.place(None, 1).await).is_some(), "an expired order does not count");
    schema.drop().await;
}

#[tokio::test]
async fn a_cap_of_zero_is_no_cap() {
    let schema = Schema::new().await;
    for _ in 0..12 {
        assert!(created(&schema.place(None, 0).await).is_some());
    }
    assert_eq!(schema.pending().await, 12);
    schema.drop().await;
}
