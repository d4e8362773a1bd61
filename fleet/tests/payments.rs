//! End to end over real HTTP: payment initiation, the sandbox provider's
//! signed webhooks reaching the gateway, replays, mismatches, storms, and
//! refunds both ways between orders and payments.
mod support;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::cases;
use serde_json::{Value, json};
use support::{Api, Ctx, User, race};

const CURRENT: &str = "whsec_test_current";
const PREVIOUS: &str = "whsec_test_previous";

fn main() -> ExitCode {
    support::run_suite(
        "payments",
        cases![Ctx;
            initiating_makes_one_open_payment,
            concurrent_initiations_share_one_payment,
            initiation_errors,
            the_sandbox_pays_the_order,
            a_failed_payment_leaves_the_order_payable,
            webhook_signatures_are_checked,
            malformed_signature_headers_are_cheap_400s,
            webhook_replays_mismatches_and_stale_events_have_no_effect,
            a_webhook_storm_applies_once,
            refunding_a_paid_order_refunds_its_payment,
            a_provider_refund_cancels_the_paid_order,
            payments_are_seen_by_owner_and_admin,
            analytics_follow_orders_and_payments,
        ],
        |config| config.payment.webhook_secrets = vec![CURRENT.to_owned(), PREVIOUS.to_owned()],
    )
}

/// A customer with a pending order of `units` of a fresh product (price 12.34).
async fn pending_order(api: &Api) -> (User, Value, i64) {
    let customer = api.user("customer").await;
    let (vendor, _) = api.approved_vendor().await;
    let product = api.product(&vendor, json!({"price": "12.34", "stock": 10})).await;
    let id = product["id"].as_i64().expect("id");
    api.post("/carts/items/", Some(&customer.access), json!({"product": id, "quantity": 2})).await.expect(201);
    let order = api.post("/orders/create/", Some(&customer.access), json!({})).await.expect(201);
    (customer, order, id)
}

async fn initiate(api: &Api, customer: &User, order: &Value) -> support::Reply {
    api.post("/payments/initiate/", Some(&customer.access), json!({"order_id": order["id"]})).await
}

/// Polls `path` until `field` equals `want` (events take a moment).
async fn eventually(api: &Api, path: &str, token: &str, field: &str, want: &str) -> Value {
    let mut body = Value::Null;
    for _ in 0..100 {
        body = api.get(path, Some(token)).await.expect(200);
        if body[field] == want {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path}: {field} never became {want}: {body}");
}

/// Posts a provider event signed with `secret` (`age` seconds old).
async fn webhook(ctx: &Ctx, event: &Value, secret: &str, age: i64) -> support::Reply {
    let body = event.to_string();
    let signature = payment::signature::sign(secret, chrono::Utc::now().timestamp() - age, body.as_bytes());
    let request = ctx
        .http
        .post(format!("{}/payments/webhook/", ctx.base))
        .header("content-type", "application/json")
        .header("payment-signature", signature)
        .body(body);
    Api::reply(request.send().await.expect("sent")).await
}

fn event(kind: &str, payment: &Value, amount_minor: i64) -> Value {
    json!({
        "id": format!("evt_{}", uuid::Uuid::new_v4().simple()),
        "type": kind,
        "created": chrono::Utc::now().timestamp(),
        "data": {"object": {"id": payment["provider_payment_id"], "amount": amount_minor, "currency": "usd",
                            "metadata": {"order_id": payment["order"].to_string()}}},
    })
}

async fn initiating_makes_one_open_payment(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (customer, order, _) = pending_order(&api).await;
    let first = initiate(&api, &customer, &order).await.expect(201);
    let mut keys: Vec<_> = first.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "amount",
            "client_secret",
            "created_at",
            "currency",
            "id",
            "order",
            "provider",
            "provider_payment_id",
            "status",
            "updated_at"
        ]
    );
    assert_eq!((first["amount"].clone(), first["currency"].clone()), (json!("24.68"), json!("USD")));
    assert_eq!((first["status"].clone(), first["provider"].clone()), (json!("pending"), json!("sandbox")));
    assert!(first["provider_payment_id"].as_str().expect("pi").starts_with("pi_"));
    assert!(first["client_secret"].as_str().is_some_and(|s| !s.is_empty()));
    let again = initiate(&api, &customer, &order).await.expect(200);
    assert_eq!(again["id"], first["id"]);
    let detail =
        eventually(&api, &format!("/orders/{}/", order["id"]), &customer.access, "payment_status", "pending").await;
    assert_eq!(detail["status"], "pending");
}

async fn concurrent_initiations_share_one_payment(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (customer, order, _) = pending_order(&api).await;
    let replies = race(10, |_| initiate(&api, &customer, &order)).await;
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    assert!(replies.iter().all(|r| r.status == 201 || r.status == 200));
    assert!(replies.iter().all(|r| r.body["id"] == replies[0].body["id"]));
}

async fn initiation_errors(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let (customer, order, _) = pending_order(&api).await;
    let stranger = api.user("customer").await;
    let (vendor, _) = api.approved_vendor().await;
    api.post("/payments/initiate/", None, json!({"order_id": order["id"]})).await.expect(401);
    api.post("/payments/initiate/", Some(&vendor.access), json!({"order_id": order["id"]})).await.expect(403);
    api.post("/payments/initiate/", Some(&admin.access), json!({"order_id": order["id"]})).await.expect(403);
    assert_eq!(initiate(&api, &stranger, &order).await.expect(404), json!({"detail": "Not found."}));
    api.post("/payments/initiate/", Some(&customer.access), json!({})).await.expect(400);
    api.post(&format!("/orders/{}/refund/", order["id"]), Some(&admin.access), json!({})).await.expect(200);
    assert_eq!(initiate(&api, &customer, &order).await.expect(409)["code"], "order_not_payable");
}

async fn the_sandbox_pays_the_order(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (customer, order, _) = pending_order(&api).await;
    let payment = initiate(&api, &customer, &order).await.expect(201);
    let complete = format!("/payments/{}/sandbox/complete/", payment["id"]);
    api.post(&complete, Some(&customer.access), json!({"outcome": "succeeded"})).await.expect(202);
    let paid = eventually(&api, &format!("/orders/{}/", order["id"]), &customer.access, "status", "paid").await;
    assert_eq!(paid["payment_status"], "succeeded");
    let payment = api.get(&format!("/payments/{}/", payment["id"]), Some(&customer.access)).await.expect(200);
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(initiate(&api, &customer, &order).await.expect(409)["code"], "order_not_payable");
    api.post(&complete, Some(&customer.access), json!({"outcome": "maybe"})).await.expect(400);
}

async fn a_failed_payment_leaves_the_order_payable(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (customer, order, _) = pending_order(&api).await;
    let first = initiate(&api, &customer, &order).await.expect(201);
    let complete = format!("/payments/{}/sandbox/complete/", first["id"]);
    api.post(&complete, Some(&customer.access), json!({"outcome": "failed"})).await.expect(202);
    let path = format!("/payments/{}/", first["id"]);
    eventually(&api, &path, &customer.access, "status", "failed").await;
    let order_path = format!("/orders/{}/", order["id"]);
    let detail = eventually(&api, &order_path, &customer.access, "payment_status", "failed").await;
    assert_eq!(detail["status"], "pending");
    let second = initiate(&api, &customer, &order).await.expect(201);
    assert_ne!(second["id"], first["id"], "a new payment after a failure");
    eventually(&api, &order_path, &customer.access, "payment_status", "pending").await;
}

async fn webhook_signatures_are_checked(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (customer, order, _) = pending_order(&api).await;
    let payment = initiate(&api, &customer, &order).await.expect(201);
    let succeeded = event("payment_intent.succeeded", &payment, 2468);
    let invalid = json!({"detail": "Invalid signature."});
    assert_eq!(webhook(&ctx, &succeeded, "whsec_wrong", 0).await.expect(400), invalid);
    assert_eq!(webhook(&ctx, &succeeded, CURRENT, 301).await.expect(400), invalid, "older than 300 s");
    let unsigned = ctx.http.post(format!("{}/payments/webhook/", ctx.base)).json(&succeeded);
    assert_eq!(Api::reply(unsigned.send().await.expect("sent")).await.expect(400), invalid);
    // A body changed after signing.
    let body = succeeded.to_string();
    let signature = payment::signature::sign(CURRENT, chrono::Utc::now().timestamp(), body.as_bytes());
    let tampered = body.replace("2468", "1");
    let request = ctx
        .http
        .post(format!("{}/payments/webhook/", ctx.base))
        .header("content-type", "application/json")
        .header("payment-signature", signature)
        .body(tampered);
    assert_eq!(Api::reply(request.send().await.expect("sent")).await.expect(400), invalid);
    let path = format!("/payments/{}/", payment["id"]);
    assert_eq!(api.get(&path, Some(&customer.access)).await.expect(200)["status"], "pending", "no effect");
    // A webhook is not throttled like logins: many bad ones in a row stay 400.
    for _ in 0..12 {
        webhook(&ctx, &succeeded, "whsec_wrong", 0).await.expect(400);
    }
    // During a rotation the previous secret still works.
    webhook(&ctx, &succeeded, PREVIOUS, 0).await.expect(200);
    eventually(&api, &format!("/orders/{}/", order["id"]), &customer.access, "status", "paid").await;
}

/// The measured attack: a 1 MB body under a header of thousands of empty
/// `v1` entries (once one full HMAC each). Refused as malformed before any
/// hashing, as are too many well-formed signatures and odd timestamps.
async fn malformed_signature_headers_are_cheap_400s(ctx: Arc<Ctx>) {
    let invalid = json!({"detail": "Invalid signature."});
    let body = format!(r#"{{"id":"evt_flood","pad":"{}"}}"#, "x".repeat(1_000_000));
    let now = chrono::Utc::now().timestamp();
    let a_mac = "ab".repeat(32);
    let headers = [
        format!("t={now}{}", ",v1=".repeat(2_000)),
        format!("t={now}{}", format!(",v1={a_mac}").repeat(5)),
        format!("t={now},v1=abc"),
        format!("t=-9223372036854775808,v1={a_mac}"),
        format!("t=9223372036854775807,v1={a_mac}"),
    ];
    for header in headers {
        let request = ctx
            .http
            .post(format!("{}/payments/webhook/", ctx.base))
            .header("content-type", "application/json")
            .header("payment-signature", header.as_str())
            .body(body.clone());
        let reply = Api::reply(request.send().await.expect("sent")).await;
        assert_eq!(reply.expect(400), invalid, "{}", &header[..header.len().min(80)]);
    }
}

async fn webhook_replays_mismatches_and_stale_events_have_no_effect(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (customer, order, _) = pending_order(&api).await;
    let payment = initiate(&api, &customer, &order).await.expect(201);
    let path = format!("/payments/{}/", payment["id"]);
    // Out of order: a refund before the success it would follow is ignored.
    let early_refund = event("charge.refunded", &payment, 2468);
    assert_eq!(webhook(&ctx, &early_refund, CURRENT, 0).await.expect(200)["outcome"], "ignored");
    let wrong_amount = event("payment_intent.succeeded", &payment, 2467);
    webhook(&ctx, &wrong_amount, CURRENT, 0).await.expect(400);
    let mut wrong_currency = event("payment_intent.succeeded", &payment, 2468);
    wrong_currency["data"]["object"]["currency"] = json!("eur");
    webhook(&ctx, &wrong_currency, CURRENT, 0).await.expect(400);
    assert_eq!(api.get(&path, Some(&customer.access)).await.expect(200)["status"], "pending");

    let succeeded = event("payment_intent.succeeded", &payment, 2468);
    assert_eq!(webhook(&ctx, &succeeded, CURRENT, 0).await.expect(200)["outcome"], "applied");
    assert_eq!(webhook(&ctx, &succeeded, CURRENT, 0).await.expect(200)["outcome"], "duplicate");
    // Out of order: a failure after the success never moves it back.
    let failed = event("payment_intent.payment_failed", &payment, 2468);
    assert_eq!(webhook(&ctx, &failed, CURRENT, 0).await.expect(200)["outcome"], "ignored");
    assert_eq!(api.get(&path, Some(&customer.access)).await.expect(200)["status"], "succeeded");
    // An unknown payment is acknowledged and ignored.
    let stranger = json!({"provider_payment_id": "pi_unknown", "order": 1});
    let unknown = event("payment_intent.succeeded", &stranger, 100);
    assert_eq!(webhook(&ctx, &unknown, CURRENT, 0).await.expect(200)["outcome"], "ignored");
}

async fn a_webhook_storm_applies_once(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (customer, order, product) = pending_order(&api).await;
    let payment = initiate(&api, &customer, &order).await.expect(201);
    let succeeded = event("payment_intent.succeeded", &payment, 2468);
    let replies = race(200, |_| webhook(&ctx, &succeeded, CURRENT, 0)).await;
    assert!(replies.iter().all(|r| r.status == 200), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(replies.iter().filter(|r| r.body["outcome"] == "applied").count(), 1);
    let paid = eventually(&api, &format!("/orders/{}/", order["id"]), &customer.access, "status", "paid").await;
    assert_eq!(paid["payment_status"], "succeeded");
    let stock = api.get(&format!("/products/{product}/"), None).await.expect(200)["stock"].clone();
    assert_eq!(stock, 8);
}

async fn refunding_a_paid_order_refunds_its_payment(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let (customer, order, product) = pending_order(&api).await;
    let payment = initiate(&api, &customer, &order).await.expect(201);
    webhook(&ctx, &event("payment_intent.succeeded", &payment, 2468), CURRENT, 0).await.expect(200);
    let order_path = format!("/orders/{}/", order["id"]);
    eventually(&api, &order_path, &customer.access, "status", "paid").await;
    let refunded =
        api.post(&format!("/orders/{}/refund/", order["id"]), Some(&admin.access), json!({})).await.expect(200);
    assert_eq!(refunded["status"], "cancelled");
    eventually(&api, &format!("/payments/{}/", payment["id"]), &customer.access, "status", "refunded").await;
    eventually(&api, &order_path, &customer.access, "payment_status", "refunded").await;
    assert_eq!(api.get(&format!("/products/{product}/"), None).await.expect(200)["stock"], 10);
}

async fn a_provider_refund_cancels_the_paid_order(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (customer, order, product) = pending_order(&api).await;
    let payment = initiate(&api, &customer, &order).await.expect(201);
    webhook(&ctx, &event("payment_intent.succeeded", &payment, 2468), CURRENT, 0).await.expect(200);
    let order_path = format!("/orders/{}/", order["id"]);
    eventually(&api, &order_path, &customer.access, "status", "paid").await;
    let refund = event("charge.refunded", &payment, 2468);
    let replies = race(5, |_| webhook(&ctx, &refund, CURRENT, 0)).await;
    assert!(replies.iter().all(|r| r.status == 200));
    let cancelled = eventually(&api, &order_path, &customer.access, "status", "cancelled").await;
    assert_eq!(cancelled["payment_status"], "refunded");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(api.get(&format!("/products/{product}/"), None).await.expect(200)["stock"], 10, "restored once");
}

async fn payments_are_seen_by_owner_and_admin(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let (customer, order, _) = pending_order(&api).await;
    let stranger = api.user("customer").await;
    let (vendor, _) = api.approved_vendor().await;
    let payment = initiate(&api, &customer, &order).await.expect(201);
    let path = format!("/payments/{}/", payment["id"]);
    api.get(&path, Some(&customer.access)).await.expect(200);
    api.get(&path, Some(&admin.access)).await.expect(200);
    api.get(&path, Some(&stranger.access)).await.expect(404);
    api.get(&path, Some(&vendor.access)).await.expect(403);
    api.get(&path, None).await.expect(401);
    api.get("/payments/999999999/", Some(&admin.access)).await.expect(404);
    let complete = format!("/payments/{}/sandbox/complete/", payment["id"]);
    for token in [&admin.access, &vendor.access] {
        api.post(&complete, Some(token), json!({"outcome": "succeeded"})).await.expect(403);
    }
    api.post(&complete, Some(&stranger.access), json!({"outcome": "succeeded"})).await.expect(404);
}

/// A fresh vendor's figures as analytics derives them from the events:
/// its paid order counts, its cancelled one does not.
async fn analytics_follow_orders_and_payments(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let customer = api.user("customer").await;
    let (vendor, profile) = api.approved_vendor().await;
    let product = api.product(&vendor, json!({"price": "5.25", "stock": 20})).await;
    let mut orders = Vec::new();
    for units in [2, 3] {
        api.post("/carts/items/", Some(&customer.access), json!({"product": product["id"], "quantity": units}))
            .await
            .expect(201);
        orders.push(api.post("/orders/create/", Some(&customer.access), json!({})).await.expect(201));
    }
    let payment = initiate(&api, &customer, &orders[0]).await.expect(201);
    webhook(&ctx, &event("payment_intent.succeeded", &payment, 1050), CURRENT, 0).await.expect(200);
    api.post(&format!("/orders/{}/refund/", orders[1]["id"]), Some(&admin.access), json!({})).await.expect(200);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let want = json!({"vendor": profile["id"], "vendor_name": profile["shop_name"], "orders": 1, "units_sold": 2, "revenue": "10.50"});
    let mut row = Value::Null;
    for _ in 0..100 {
        let path = format!("/analytics/vendors/?from={today}&to={today}&limit=100");
        let mut page = api.get(&path, Some(&admin.access)).await.expect(200);
        loop {
            if let Some(found) =
                page["results"].as_array().expect("results").iter().find(|v| v["vendor"] == profile["id"])
            {
                row = found.clone();
                break;
            }
            let Some(next) = page["next"].as_str().map(str::to_owned) else { break };
            page = api.get(next.strip_prefix(&ctx.base).expect("origin"), Some(&admin.access)).await.expect(200);
        }
        if row == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(row, want);
    let summary = api.get("/analytics/summary/", Some(&admin.access)).await.expect(200);
    let mut keys: Vec<_> = summary.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "average_order_value",
            "cancelled_orders",
            "currency",
            "paid_orders",
            "pending_orders",
            "refunded_amount",
            "total_orders",
            "total_revenue"
        ]
    );
    assert!(summary["paid_orders"].as_i64().expect("paid") >= 1);
    api.get("/analytics/summary/", Some(&customer.access)).await.expect(403);
    api.get("/analytics/vendors/", Some(&vendor.access)).await.expect(403);
    api.get("/analytics/summary/", None).await.expect(401);
    assert!(api.get("/analytics/summary/?from=2026-13-01", Some(&admin.access)).await.expect(400)["from"].is_array());
    let future = api.get("/analytics/summary/?from=2999-01-01", Some(&admin.access)).await.expect(200);
    assert_eq!((future["total_orders"].clone(), future["average_order_value"].clone()), (json!(0), json!("0.00")));
}
