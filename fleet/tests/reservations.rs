//! Unpaid orders hold their stock only for the reservation: with a short
//! `RESERVATION_TTL` the reaper cancels them and releases the stock.
mod support;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::cases;
use serde_json::json;
use support::Ctx;

fn main() -> ExitCode {
    support::run_suite("reserve", cases![Ctx; an_unpaid_order_expires_and_releases_its_stock], |config| {
        config.order.reservation_ttl = Duration::from_secs(2);
        config.order.reaper_interval = Duration::from_millis(200);
    })
}

async fn an_unpaid_order_expires_and_releases_its_stock(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let customer = api.user("customer").await;
    let (vendor, _) = api.approved_vendor().await;
    let product = api.product(&vendor, json!({"stock": 5})).await;
    let path = format!("/products/{}/", product["id"]);
    api.post("/carts/items/", Some(&customer.access), json!({"product": product["id"], "quantity": 3}))
        .await
        .expect(201);
    let order = api.post("/orders/create/", Some(&customer.access), json!({})).await.expect(201);
    assert_eq!(api.get(&path, None).await.expect(200)["stock"], 2);
    let order_path = format!("/orders/{}/", order["id"]);
    let mut status = order["status"].clone();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        status = api.get(&order_path, Some(&customer.access)).await.expect(200)["status"].clone();
        if status == "cancelled" {
            break;
        }
    }
    assert_eq!(status, "cancelled");
    assert_eq!(api.get(&path, None).await.expect(200)["stock"], 5, "released exactly once");
    let refund = format!("/orders/{}/refund/", order["id"]);
    assert_eq!(api.post(&refund, Some(&admin.access), json!({})).await.expect(409)["code"], "order_not_refundable");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(api.get(&path, None).await.expect(200)["stock"], 5, "the reaper does not release twice");
}
