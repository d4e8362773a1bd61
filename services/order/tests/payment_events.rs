//! The order service's handling of payment events on a real schema, in the
//! orders they can arrive in when several order replicas consume one
//! stream: a payment's status on its order only moves forward, and a
//! payment refunded before its success was handled never pays the order.
use common::config::Infra;
use common::events::Handler;
use order::events::PaymentEvents;
use proto::payment::v1::PaymentRecord;
use proto::payment::v1::payment_event::Event;
use sqlx::MySqlPool;

struct Schema {
    infra: Infra,
    pool: MySqlPool,
}

impl Schema {
    async fn new() -> Self {
        let mut infra = Infra::from_env().expect("infra");
        infra.schema_prefix = common::testkit::unique_prefix("orderevents");
        let pool = infra.mysql_pool(order::SCHEMA, 4, &order::MIGRATOR).await.expect("schema");
        Self { infra, pool }
    }

    async fn pending_order(&self) -> i64 {
        let done = sqlx::query(
            "INSERT INTO orders (user_id, status, total_price, currency, expires_at) \
             VALUES (7, 'pending', 10.00, 'USD', CURRENT_TIMESTAMP(6) + INTERVAL 30 MINUTE)",
        )
        .execute(&self.pool)
        .await
        .expect("order");
        done.last_insert_id() as i64
    }

    async fn deliver(&self, case: fn(PaymentRecord) -> Event, order: i64, payment: i64) {
        let record = PaymentRecord {
            payment_id: payment,
            order_id: order,
            amount: "10.00".into(),
            currency: "USD".into(),
            ..Default::default()
        };
        let mut tx = self.pool.begin().await.expect("begin");
        PaymentEvents.handle(&mut tx, case(record)).await.expect("handled");
        tx.commit().await.expect("commit");
    }

    async fn order(&self, id: i64) -> (String, Option<String>) {
        sqlx::query_as("SELECT status, payment_status FROM orders WHERE id = ?")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .expect("order row")
    }

    async fn drop(self) {
        self.pool.close().await;
        common::testkit::drop_test_data(&self.infra, &[order::SCHEMA]).await.expect("clean-up");
    }
}

#[tokio::test]
async fn payment_events_in_any_order_leave_the_order_paid_and_succeeded() {
    let schema = Schema::new().await;
    let in_order = schema.pending_order().await;
    schema.deliver(Event::Created, in_order, 1).await;
    schema.deliver(Event::Succeeded, in_order, 1).await;
    let reversed = schema.pending_order().await;
    schema.deliver(Event::Succeeded, reversed, 2).await;
    schema.deliver(Event::Created, reversed, 2).await;
    for order in [in_order, reversed] {
        assert_eq!(schema.order(order).await, ("paid".to_owned(), Some("succeeded".to_owned())), "order {order}");
    }
    schema.drop().await;
}

#[tokio::test]
async fn a_refund_handled_before_its_success_cancels_the_order_for_good() {
    let schema = Schema::new().await;
    let order = schema.pending_order().await;
    schema.deliver(Event::Refunded, order, 3).await;
    schema.deliver(Event::Succeeded, order, 3).await;
    schema.deliver(Event::Created, order, 3).await;
    assert_eq!(schema.order(order).await, ("cancelled".to_owned(), Some("refunded".to_owned())));
    schema.drop().await;
}

#[tokio::test]
async fn concurrent_events_of_one_payment_settle_on_its_latest_status() {
    let schema = Schema::new().await;
    let orders: Vec<i64> = futures::future::join_all((0..12).map(|_| schema.pending_order())).await;
    let deliveries = orders.iter().enumerate().flat_map(|(n, order)| {
        let payment = 100 + n as i64;
        [schema.deliver(Event::Created, *order, payment), schema.deliver(Event::Succeeded, *order, payment)]
    });
    futures::future::join_all(deliveries).await;
    for order in orders {
        assert_eq!(schema.order(order).await, ("paid".to_owned(), Some("succeeded".to_owned())), "order {order}");
    }
    schema.drop().await;
}
