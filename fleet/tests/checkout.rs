//! End to end over real HTTP: the Cart and Orders routes for every role
//! and documented error, and the races that matter — oversell, opposite
//! carts, one key many times, many refunds at once, a line added while
//! its cart checks out.
mod support;

use std::process::ExitCode;
use std::sync::Arc;

use common::cases;
use serde_json::{Value, json};
use support::{Api, Ctx, User, race};

const NO_PERMISSION: &str = "You do not have permission to perform this action.";

fn main() -> ExitCode {
    support::run_suite(
        "checkout",
        cases![Ctx;
            cart_routes_are_for_customers,
            adding_merges_lines_and_checks_stock,
            unbuyable_products_cannot_be_added,
            cart_reads_prune_unavailable_products,
            lines_are_changed_and_removed_by_their_owner_only,
            concurrent_adds_never_exceed_stock,
            checkout_turns_the_cart_into_one_order,
            checkout_errors,
            an_order_worth_more_than_its_column_holds_is_refused_before_any_write,
            unpaid_orders_are_capped_per_customer_even_under_concurrency,
            checkout_never_oversells_under_contention,
            opposite_order_carts_check_out_concurrently,
            one_key_many_checkouts_make_one_order,
            idempotency_key_rules,
            a_line_added_during_checkout_survives_it,
            orders_are_seen_by_owner_and_admin,
            vendors_see_only_their_own_lines,
            concurrent_refunds_restore_stock_once,
            refund_roles_and_errors,
            the_order_placed_event_clears_the_cart_once_when_the_gateway_could_not,
        ],
        |_| {},
    )
}

/// An approved vendor's product with `stock` units.
async fn product(api: &Api, stock: i64, price: &str) -> (User, i64) {
    let (vendor, _) = api.approved_vendor().await;
    let product = api.product(&vendor, json!({"stock": stock, "price": price})).await;
    (vendor, product["id"].as_i64().expect("id"))
}

async fn add(api: &Api, customer: &User, product: i64, quantity: i64) -> support::Reply {
    api.post("/carts/items/", Some(&customer.access), json!({"product": product, "quantity": quantity})).await
}

async fn stock(api: &Api, product: i64) -> i64 {
    api.get(&format!("/products/{product}/"), None).await.expect(200)["stock"].as_i64().expect("stock")
}

async fn checkout(api: &Api, customer: &User, key: Option<&str>) -> support::Reply {
    match key {
        None => api.post("/orders/create/", Some(&customer.access), json!({})).await,
        Some(key) => {
            let request = api
                .ctx()
                .http
                .post(format!("{}/orders/create/", api.ctx().base))
                .bearer_auth(&customer.access)
                .header("idempotency-key", key)
                .header("x-forwarded-for", &api.ip);
            Api::reply(request.send().await.expect("sent")).await
        }
    }
}

fn lines(body: &Value) -> Vec<Value> {
    body["results"].as_array().expect("results").clone()
}

async fn cart_routes_are_for_customers(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let (vendor, product) = product(&api, 5, "3.00").await;
    for token in [None, Some(vendor.access.as_str()), Some(admin.access.as_str())] {
        let expected = if token.is_some() { 403 } else { 401 };
        assert_eq!(api.get("/carts/items/", token).await.status.as_u16(), expected);
        assert_eq!(api.get("/carts/summary/", token).await.status.as_u16(), expected);
        let body = json!({"product": product});
        assert_eq!(api.post("/carts/items/", token, body).await.status.as_u16(), expected);
        assert_eq!(api.patch("/carts/items/1/", token, json!({"quantity": 1})).await.status.as_u16(), expected);
        assert_eq!(api.delete("/carts/items/1/", token).await.status.as_u16(), expected);
    }
    let reply = api.get("/carts/items/", Some(&vendor.access)).await.expect(403);
    assert_eq!(reply, json!({"detail": NO_PERMISSION}));
}

async fn adding_merges_lines_and_checks_stock(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let customer = api.user("customer").await;
    let (_, product) = product(&api, 5, "2.50").await;
    let first = add(&api, &customer, product, 2).await.expect(201);
    let mut keys: Vec<_> = first.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "added_at",
            "available_stock",
            "id",
            "line_total",
            "product",
            "product_name",
            "quantity",
            "unit_price",
            "vendor",
            "vendor_name"
        ]
    );
    assert_eq!((first["unit_price"].clone(), first["line_total"].clone()), (json!("2.50"), json!("5.00")));
    let merged = add(&api, &customer, product, 3).await.expect(200);
    assert_eq!((merged["id"].clone(), merged["quantity"].clone()), (first["id"].clone(), json!(5)));
    assert_eq!(merged["added_at"], first["added_at"], "merging keeps added_at");
    let too_many = add(&api, &customer, product, 1).await.expect(400);
    assert_eq!(too_many, json!({"quantity": ["Only 5 left in stock."]}));
    let defaulted = api.post("/carts/items/", Some(&customer.access), json!({"product": product})).await.expect(400);
    assert_eq!(defaulted, json!({"quantity": ["Only 5 left in stock."]}), "quantity defaults to 1");
    for bad in [json!({"product": product, "quantity": 0}), json!({"product": product, "quantity": "x"}), json!({})] {
        api.post("/carts/items/", Some(&customer.access), bad).await.expect(400);
    }
    let page = api.get("/carts/items/", Some(&customer.access)).await.expect(200);
    assert_eq!((page["count"].clone(), lines(&page).len()), (json!(1), 1));
}

async fn unbuyable_products_cannot_be_added(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let customer = api.user("customer").await;
    let (vendor, profile) = api.approved_vendor().await;
    let inactive = api.product(&vendor, json!({"is_active": false})).await["id"].as_i64().expect("id");
    let deleted = api.product(&vendor, json!({})).await["id"].as_i64().expect("id");
    api.delete(&format!("/products/{deleted}/"), Some(&vendor.access)).await.expect(204);
    for id in [inactive, deleted, 999_999_999] {
        assert!(add(&api, &customer, id, 1).await.expect(400)["product"].is_array(), "{id}");
    }
    let live = api.product(&vendor, json!({})).await["id"].as_i64().expect("id");
    let verify = format!("/vendors/{}/verify/", profile["id"]);
    api.patch(&verify, Some(&admin.access), json!({"status": "suspended"})).await.expect(200);
    assert!(add(&api, &customer, live, 1).await.expect(400)["product"].is_array());
}

async fn cart_reads_prune_unavailable_products(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let customer = api.user("customer").await;
    let (vendor, _) = api.approved_vendor().await;
    let keep = api.product(&vendor, json!({"price": "4.00", "stock": 9})).await["id"].as_i64().expect("id");
    let hide = api.product(&vendor, json!({"stock": 9})).await["id"].as_i64().expect("id");
    let drop = api.product(&vendor, json!({"stock": 9})).await["id"].as_i64().expect("id");
    for id in [keep, hide, drop] {
        add(&api, &customer, id, 2).await.expect(201);
    }
    api.patch(&format!("/products/{hide}/"), Some(&vendor.access), json!({"is_active": false})).await.expect(200);
    api.delete(&format!("/products/{drop}/"), Some(&vendor.access)).await.expect(204);
    let summary = api.get("/carts/summary/", Some(&customer.access)).await.expect(200);
    assert_eq!(summary, json!({"total_items": 2, "total_lines": 1, "total_price": "8.00", "currency": "USD"}));
    let page = api.get("/carts/items/", Some(&customer.access)).await.expect(200);
    assert_eq!(lines(&page).iter().map(|l| l["product"].as_i64()).collect::<Vec<_>>(), [Some(keep)]);
    // Reactivated, it is not back: the line was deleted, not hidden.
    api.patch(&format!("/products/{hide}/"), Some(&vendor.access), json!({"is_active": true})).await.expect(200);
    assert_eq!(api.get("/carts/items/", Some(&customer.access)).await.expect(200)["count"], 1);
}

async fn lines_are_changed_and_removed_by_their_owner_only(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let owner = api.user("customer").await;
    let other = api.user("customer").await;
    let (_, product) = product(&api, 4, "1.00").await;
    let line = add(&api, &owner, product, 1).await.expect(201);
    let path = format!("/carts/items/{}/", line["id"]);
    assert_eq!(api.patch(&path, Some(&owner.access), json!({"quantity": 4})).await.expect(200)["quantity"], 4);
    assert_eq!(
        api.patch(&path, Some(&owner.access), json!({"quantity": 5})).await.expect(400),
        json!({"quantity": ["Only 4 left in stock."]})
    );
    api.patch(&path, Some(&owner.access), json!({"quantity": 0})).await.expect(400);
    api.patch(&path, Some(&owner.access), json!({})).await.expect(400);
    assert_eq!(
        api.patch(&path, Some(&other.access), json!({"quantity": 1})).await.expect(404),
        json!({"detail": "Not found."})
    );
    api.delete(&path, Some(&other.access)).await.expect(404);
    api.delete(&path, Some(&owner.access)).await.expect(204);
    api.delete(&path, Some(&owner.access)).await.expect(404);
    api.patch("/carts/items/abc/", Some(&owner.access), json!({"quantity": 1})).await.expect(404);
}

async fn concurrent_adds_never_exceed_stock(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let customer = api.user("customer").await;
    let (_, product) = product(&api, 5, "1.00").await;
    let replies = race(12, |_| add(&api, &customer, product, 1)).await;
    let ok = replies.iter().filter(|r| r.status == 201 || r.status == 200).count();
    let refused = replies.iter().filter(|r| r.status == 400).count();
    assert_eq!((ok, refused), (5, 7), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    let page = api.get("/carts/items/", Some(&customer.access)).await.expect(200);
    assert_eq!(lines(&page)[0]["quantity"], 5);
}

async fn checkout_turns_the_cart_into_one_order(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let customer = api.user("customer").await;
    let (_, first) = product(&api, 10, "19.99").await;
    let (_, second) = product(&api, 10, "0.01").await;
    add(&api, &customer, first, 2).await.expect(201);
    add(&api, &customer, second, 3).await.expect(201);
    let order = checkout(&api, &customer, None).await.expect(201);
    let mut keys: Vec<_> = order.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "currency",
            "expires_at",
            "id",
            "items",
            "payment_status",
            "status",
            "total_price",
            "updated_at",
            "user",
            "vendor_orders"
        ]
    );
    assert_eq!((order["status"].clone(), order["total_price"].clone()), (json!("pending"), json!("40.01")));
    assert_eq!((order["user"].as_i64(), order["payment_status"].clone()), (Some(customer.id), Value::Null));
    assert_eq!(order["items"].as_array().expect("items").len(), 2);
    assert_eq!(order["vendor_orders"].as_array().expect("sub-orders").len(), 2, "one sub-order per vendor");
    let created = chrono::DateTime::parse_from_rfc3339(order["created_at"].as_str().expect("created")).expect("time");
    let expires = chrono::DateTime::parse_from_rfc3339(order["expires_at"].as_str().expect("expires")).expect("time");
    assert_eq!((expires - created).num_seconds(), 1800);
    assert_eq!((stock(&api, first).await, stock(&api, second).await), (8, 7));
    assert_eq!(api.get("/carts/items/", Some(&customer.access)).await.expect(200)["count"], 0);
    let detail = api.get(&format!("/orders/{}/", order["id"]), Some(&customer.access)).await.expect(200);
    assert_eq!(detail, order);
}

async fn checkout_errors(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let customer = api.user("customer").await;
    let admin = api.admin().await;
    let (vendor, product_id) = product(&api, 2, "5.00").await;
    assert_eq!(
        checkout(&api, &customer, None).await.expect(400),
        json!({"detail": "Cart is empty.", "code": "cart_empty"})
    );
    api.post("/orders/create/", None, json!({})).await.expect(401);
    api.post("/orders/create/", Some(&vendor.access), json!({})).await.expect(403);
    api.post("/orders/create/", Some(&admin.access), json!({})).await.expect(403);

    add(&api, &customer, product_id, 2).await.expect(201);
    api.patch(&format!("/products/{product_id}/"), Some(&vendor.access), json!({"stock": 1})).await.expect(200);
    let short = checkout(&api, &customer, None).await.expect(409);
    assert_eq!(short["code"], "insufficient_stock");
    assert_eq!(short["products"], json!([product_id]));
    assert!(short["detail"].as_str().expect("detail").ends_with("requested 2, available 1."), "{short}");
    assert_eq!(stock(&api, product_id).await, 1, "nothing was taken");

    let (_, gone) = product(&api, 3, "1.00").await;
    add(&api, &customer, gone, 1).await.expect(201);
    api.delete(&format!("/products/{gone}/"), Some(&admin.access)).await.expect(204);
    let unavailable = checkout(&api, &customer, None).await.expect(400);
    assert_eq!(unavailable["code"], "product_unavailable");
    assert_eq!(unavailable["products"], json!([gone]));
    let listed = api.get("/orders/", Some(&customer.access)).await.expect(200);
    assert_eq!(listed["count"], 0, "nothing was ordered");
    let left = api.get("/carts/items/", Some(&customer.access)).await.expect(200);
    assert_eq!(lines(&left).iter().map(|l| l["product"].as_i64()).collect::<Vec<_>>(), [Some(product_id)], "pruned");
}

async fn an_order_worth_more_than_its_column_holds_is_refused_before_any_write(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let customer = api.user("customer").await;
    // The dearest price a product may have; 101 of them are worth more
    // than an order's DECIMAL(12,2) total can hold.
    let (_, dearest) = product(&api, 200, "99999999.99").await;
    add(&api, &customer, dearest, 101).await.expect(201);
    assert_eq!(
        checkout(&api, &customer, None).await.expect(400),
        json!({
            "detail": "The order total is too large: an order can hold at most 9999999999.99.",
            "code": "order_total_too_large"
        })
    );
    assert_eq!(stock(&api, dearest).await, 200, "nothing was taken");
    assert_eq!(api.get("/orders/", Some(&customer.access)).await.expect(200)["count"], 0, "nothing was ordered");
    assert_eq!(api.get("/carts/items/", Some(&customer.access)).await.expect(200)["count"], 1, "the cart is kept");
}

/// MAX_PENDING_ORDERS at its default, 50: of 60 concurrent PlaceOrders
/// by one customer exactly 50 are placed; then a checkout is the
/// contract's 409, a replay is still its order, and a refund makes room.
async fn unpaid_orders_are_capped_per_customer_even_under_concurrency(ctx: Arc<Ctx>) {
    use proto::order::v1 as order_pb;
    const CAP: usize = 50;
    let api = ctx.api();
    let admin = api.admin().await;
    let customer = api.user("customer").await;
    let (_, product_id) = product(&api, 1000, "1.00").await;
    let channel = common::grpc_client::lazy_channel(&ctx.order_addr.to_string()).expect("channel");
    let place = |key: String| {
        let mut orders = order_pb::order_client::OrderClient::new(channel.clone());
        let lines = vec![order_pb::OrderLine { product: product_id, quantity: 1 }];
        let request = order_pb::PlaceOrderRequest { lines, idempotency_key: Some(key) };
        let request = common::grpc_client::request(request, std::time::Duration::from_secs(20), Some(&customer.access));
        async move { orders.place_order(request).await.map(|r| r.into_inner().id) }
    };
    let keys: Vec<String> = (0..CAP + 10).map(|i| format!("cap-{i}-{}", uuid::Uuid::new_v4())).collect();
    let placed = race(keys.len(), |i| place(keys[i].clone())).await;
    let refused: Vec<_> = placed.iter().filter_map(|p| p.as_ref().err()).collect();
    assert_eq!(placed.len() - refused.len(), CAP, "{refused:?}");
    for status in &refused {
        let error = common::ApiError::from_status(status);
        assert_eq!((error.kind, error.code.as_deref()), (common::ErrorKind::Conflict, Some("too_many_pending_orders")));
    }
    assert_eq!(stock(&api, product_id).await, 1000 - CAP as i64);

    // Another product: cart's OrderPlaced consumer takes the orders above
    // out of the cart, and would take a line of theirs too.
    let (_, other) = product(&api, 10, "2.00").await;
    add(&api, &customer, other, 1).await.expect(201);
    assert_eq!(
        checkout(&api, &customer, None).await.expect(409),
        json!({
            "detail": "You have too many unpaid orders (50). Pay or wait for one to expire.",
            "code": "too_many_pending_orders"
        })
    );
    assert_eq!(api.get("/carts/items/", Some(&customer.access)).await.expect(200)["count"], 1, "the cart is kept");
    let (key, first) = keys.iter().zip(&placed).find_map(|(k, p)| Some((k, *p.as_ref().ok()?))).expect("one placed");
    assert_eq!(place(key.clone()).await.expect("a replay at the cap is its order"), first);

    api.post(&format!("/orders/{first}/refund/"), Some(&admin.access), json!({})).await.expect(200);
    checkout(&api, &customer, None).await.expect(201);
    let listed = api.get("/orders/?status=pending", Some(&customer.access)).await.expect(200);
    assert_eq!(listed["count"], CAP);
}

async fn checkout_never_oversells_under_contention(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (_, product_id) = product(&api, 20, "1.00").await;
    let mut buyers = Vec::new();
    for _ in 0..60 {
        let buyer = api.user("customer").await;
        add(&api, &buyer, product_id, 1).await.expect(201);
        buyers.push(buyer);
    }
    let replies = race(buyers.len(), |i| checkout(&api, &buyers[i], None)).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 20, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 40, "{statuses:?}");
    assert_eq!(stock(&api, product_id).await, 0);
}

async fn opposite_order_carts_check_out_concurrently(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (_, a) = product(&api, 1000, "1.00").await;
    let (_, b) = product(&api, 1000, "2.00").await;
    let mut buyers = Vec::new();
    for i in 0..24 {
        let buyer = api.user("customer").await;
        let (first, second) = if i % 2 == 0 { (a, b) } else { (b, a) };
        add(&api, &buyer, first, 1).await.expect(201);
        add(&api, &buyer, second, 2).await.expect(201);
        buyers.push(buyer);
    }
    for round in 0..2 {
        let replies = race(buyers.len(), |i| checkout(&api, &buyers[i], None)).await;
        assert!(
            replies.iter().all(|r| r.status == 201),
            "round {round}: {:?}",
            replies.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        for buyer in &buyers {
            add(&api, buyer, a, 1).await.expect(201);
            add(&api, buyer, b, 1).await.expect(201);
        }
    }
    // 24 × 3 units of the pair, then 24 × 2.
    assert_eq!(stock(&api, a).await + stock(&api, b).await, 2000 - 24 * 3 - 24 * 2);
}

async fn one_key_many_checkouts_make_one_order(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let customer = api.user("customer").await;
    let (_, product_id) = product(&api, 50, "3.00").await;
    add(&api, &customer, product_id, 2).await.expect(201);
    let key = format!("checkout-{}", uuid::Uuid::new_v4());
    let replies = race(10, |_| checkout(&api, &customer, Some(&key))).await;
    let created: Vec<&support::Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert!(
        replies.iter().all(|r| r.status == 201 || r.status == 409),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(!created.is_empty());
    assert!(created.iter().all(|r| r.body["id"] == created[0].body["id"]), "one order");
    for reply in replies.iter().filter(|r| r.status == 409) {
        assert_eq!(reply.body["code"], "idempotency_key_in_flight");
    }
    let listed = api.get("/orders/", Some(&customer.access)).await.expect(200);
    assert_eq!(listed["count"], 1);
    assert_eq!(stock(&api, product_id).await, 48);
    let replay = checkout(&api, &customer, Some(&key)).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.expect(201)["id"], created[0].body["id"]);
}

async fn idempotency_key_rules(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let customer = api.user("customer").await;
    let admin = api.admin().await;
    let (_, product_id) = product(&api, 5, "3.00").await;
    // An error answer is stored and replayed too.
    let key = format!("k-{}", uuid::Uuid::new_v4());
    assert_eq!(checkout(&api, &customer, Some(&key)).await.expect(400)["code"], "cart_empty");
    add(&api, &customer, product_id, 1).await.expect(201);
    let replay = checkout(&api, &customer, Some(&key)).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.expect(400)["code"], "cart_empty");
    // The same key with another body, or on another path: 422.
    let other_body = api
        .ctx()
        .http
        .post(format!("{}/orders/create/", ctx.base))
        .bearer_auth(&customer.access)
        .header("idempotency-key", &key)
        .json(&json!({"note": "different"}));
    let reused = Api::reply(other_body.send().await.expect("sent")).await.expect(422);
    assert_eq!(reused["code"], "idempotency_key_reused");
    let order = checkout(&api, &customer, Some("fresh-key-1")).await.expect(201);
    let refund = |key: String| {
        let request = ctx
            .http
            .post(format!("{}/orders/{}/refund/", ctx.base, order["id"]))
            .bearer_auth(&admin.access)
            .header("idempotency-key", key);
        async move { Api::reply(request.send().await.expect("sent")).await }
    };
    let first = refund("refund-key".into()).await.expect(200);
    assert_eq!(first["status"], "cancelled");
    let again = refund("refund-key".into()).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.expect(200), first);
    // Keys are per user: the customer's key means nothing for the admin.
    assert_eq!(refund("fresh-key-1".into()).await.expect(409)["code"], "order_not_refundable");
    for bad in [String::new(), "k".repeat(256)] {
        let reply = checkout(&api, &customer, Some(&bad)).await.expect(400);
        assert_eq!(reply["code"], "idempotency_key_invalid");
    }
}

async fn a_line_added_during_checkout_survives_it(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (_, a) = product(&api, 1000, "1.00").await;
    let (_, b) = product(&api, 1000, "1.00").await;
    for _ in 0..6 {
        let customer = api.user("customer").await;
        add(&api, &customer, a, 1).await.expect(201);
        add(&api, &customer, b, 1).await.expect(201);
        let (order, added) = futures::join!(checkout(&api, &customer, None), add(&api, &customer, a, 1));
        let order = order.expect(201);
        assert!(matches!(added.status.as_u16(), 200 | 201), "{}", added.body);
        let ordered_a: i64 = order["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| i["product"] == a)
            .map(|i| i["quantity"].as_i64().expect("quantity"))
            .sum();
        let page = api.get("/carts/items/", Some(&customer.access)).await.expect(200);
        let in_cart: i64 =
            lines(&page).iter().filter(|l| l["product"] == a).map(|l| l["quantity"].as_i64().expect("q")).sum();
        assert_eq!(ordered_a + in_cart, 2, "every unit of A is either ordered or still in the cart");
    }
}

async fn orders_are_seen_by_owner_and_admin(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let owner = api.user("customer").await;
    let other = api.user("customer").await;
    let (vendor, product_id) = product(&api, 10, "1.00").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        add(&api, &owner, product_id, 1).await.expect(201);
        ids.push(checkout(&api, &owner, None).await.expect(201)["id"].as_i64().expect("id"));
    }
    let own = api.get("/orders/?limit=2", Some(&owner.access)).await.expect(200);
    assert_eq!(own["count"], 3);
    assert_eq!(
        lines(&own).iter().map(|o| o["id"].as_i64().expect("id")).collect::<Vec<_>>(),
        [ids[2], ids[1]],
        "newest first"
    );
    assert!(own["next"].is_string());
    assert_eq!(api.get("/orders/", Some(&other.access)).await.expect(200)["count"], 0);
    let path = format!("/orders/{}/", ids[0]);
    assert_eq!(api.get(&path, Some(&other.access)).await.expect(404), json!({"detail": "Not found."}));
    api.get(&path, Some(&vendor.access)).await.expect(403);
    api.get("/orders/", Some(&vendor.access)).await.expect(403);
    api.get(&path, None).await.expect(401);
    api.get(&path, Some(&admin.access)).await.expect(200);
    api.get("/orders/999999999/", Some(&admin.access)).await.expect(404);
    let by_user = api.get(&format!("/orders/?user={}", owner.id), Some(&admin.access)).await.expect(200);
    assert_eq!(by_user["count"], 3);
    api.post(&format!("/orders/{}/refund/", ids[0]), Some(&admin.access), json!({})).await.expect(200);
    let cancelled =
        api.get(&format!("/orders/?user={}&status=cancelled", owner.id), Some(&admin.access)).await.expect(200);
    assert_eq!(cancelled["count"], 1);
    assert!(api.get("/orders/?status=lost", Some(&admin.access)).await.expect(400)["status"].is_array());
}

async fn vendors_see_only_their_own_lines(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let customer = api.user("customer").await;
    let (first_vendor, first) = product(&api, 10, "1.00").await;
    let (second_vendor, second) = product(&api, 10, "2.00").await;
    add(&api, &customer, first, 1).await.expect(201);
    add(&api, &customer, second, 2).await.expect(201);
    let order = checkout(&api, &customer, None).await.expect(201);
    for (vendor, product_id, subtotal) in [(&first_vendor, first, "1.00"), (&second_vendor, second, "4.00")] {
        let page = api.get("/vendors/me/orders/", Some(&vendor.access)).await.expect(200);
        assert_eq!(page["count"], 1);
        let sub = &lines(&page)[0];
        assert_eq!(
            (sub["order"].clone(), sub["subtotal"].clone(), sub["status"].clone()),
            (order["id"].clone(), json!(subtotal), json!("pending"))
        );
        let items = sub["items"].as_array().expect("items");
        assert_eq!(items.iter().map(|i| i["product"].as_i64()).collect::<Vec<_>>(), [Some(product_id)]);
        assert!(sub.get("email").is_none() && sub.get("user").is_none());
    }
    api.get("/vendors/me/orders/", Some(&customer.access)).await.expect(403);
    api.get("/vendors/me/orders/", None).await.expect(401);
    let (pending, _) = api.vendor_with_profile().await;
    assert_eq!(api.get("/vendors/me/orders/", Some(&pending.access)).await.expect(403)["code"], "vendor_not_approved");
    let no_profile = api.user("vendor").await;
    assert_eq!(
        api.get("/vendors/me/orders/", Some(&no_profile.access)).await.expect(403)["code"],
        "vendor_not_approved"
    );
}

async fn concurrent_refunds_restore_stock_once(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let customer = api.user("customer").await;
    let (_, product_id) = product(&api, 10, "1.00").await;
    add(&api, &customer, product_id, 4).await.expect(201);
    let order = checkout(&api, &customer, None).await.expect(201);
    assert_eq!(stock(&api, product_id).await, 6);
    let path = format!("/orders/{}/refund/", order["id"]);
    let replies = race(20, |_| api.post(&path, Some(&admin.access), json!({}))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
    assert_eq!(stock(&api, product_id).await, 10, "restored exactly once");
}

async fn refund_roles_and_errors(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let customer = api.user("customer").await;
    let (vendor, product_id) = product(&api, 10, "1.00").await;
    add(&api, &customer, product_id, 1).await.expect(201);
    let order = checkout(&api, &customer, None).await.expect(201);
    let path = format!("/orders/{}/refund/", order["id"]);
    api.post(&path, None, json!({})).await.expect(401);
    assert_eq!(api.post(&path, Some(&customer.access), json!({})).await.expect(403), json!({"detail": NO_PERMISSION}));
    api.post(&path, Some(&vendor.access), json!({})).await.expect(403);
    api.post("/orders/999999999/refund/", Some(&admin.access), json!({})).await.expect(404);
    let refunded = api.post(&path, Some(&admin.access), json!({})).await.expect(200);
    assert_eq!(refunded["status"], "cancelled");
    assert!(refunded["vendor_orders"].as_array().expect("subs").iter().all(|v| v["status"] == "cancelled"));
    assert_eq!(
        api.post(&path, Some(&admin.access), json!({})).await.expect(409),
        json!({"detail": "Order is already cancelled.", "code": "order_not_refundable"})
    );
}

/// The checkout's last step (cart.RemoveItems) is skipped, as when the
/// gateway dies right after the order commits: the OrderPlaced consumer
/// takes the lines out, and a late RemoveItems for the same order changes
/// nothing.
async fn the_order_placed_event_clears_the_cart_once_when_the_gateway_could_not(ctx: Arc<Ctx>) {
    use proto::cart::v1 as cart_pb;
    use proto::order::v1 as order_pb;
    let api = ctx.api();
    let customer = api.user("customer").await;
    let (_, product_id) = product(&api, 10, "1.00").await;
    add(&api, &customer, product_id, 2).await.expect(201);
    let deadline = std::time::Duration::from_secs(10);
    let channel = |addr: std::net::SocketAddr| common::grpc_client::lazy_channel(&addr.to_string()).expect("channel");
    let mut orders = order_pb::order_client::OrderClient::new(channel(ctx.order_addr));
    let mut cart = cart_pb::cart_client::CartClient::new(channel(ctx.cart_addr));
    let ordered = vec![order_pb::OrderLine { product: product_id, quantity: 2 }];
    let request = common::grpc_client::request(
        order_pb::PlaceOrderRequest { lines: ordered, idempotency_key: None },
        deadline,
        Some(&customer.access),
    );
    let order = orders.place_order(request).await.expect("placed").into_inner();
    let mut count = json!(1);
    for _ in 0..100 {
        count = api.get("/carts/items/", Some(&customer.access)).await.expect(200)["count"].clone();
        if count == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count, 0, "the backstop took the ordered lines out");
    add(&api, &customer, product_id, 1).await.expect(201);
    let late = cart_pb::RemoveItemsRequest {
        lines: vec![cart_pb::StoredLine { product: product_id, quantity: 2 }],
        order_id: Some(order.id),
    };
    cart.remove_items(common::grpc_client::request(late, deadline, Some(&customer.access))).await.expect("removed");
    let page = api.get("/carts/items/", Some(&customer.access)).await.expect(200);
    assert_eq!(lines(&page)[0]["quantity"], 1, "the order's lines left the cart once");
}
