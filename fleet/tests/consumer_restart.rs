//! Payment events are not lost while their consumer is down: a fleet whose
//! order service does not consume them takes checkouts and payments (the
//! webhooks are applied at the payment service, the orders stay pending);
//! it stops; a fleet on the same schemas and streams starts with the
//! consumer running, and every order reaches `paid` — once.
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::{cases, testkit};
use fleet::{Fleet, FleetConfig};
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Horse-92";

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let (status, body) = self.send(reqwest::Method::POST, path, token, body).await;
        assert!((200..300).contains(&status), "POST {path}: {status} {body}");
        body
    }

    async fn patch(&self, path: &str, token: &str, body: Value) -> Value {
        let (status, body) = self.send(reqwest::Method::PATCH, path, Some(token), body).await;
        assert!((200..300).contains(&status), "PATCH {path}: {status} {body}");
        body
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, path, Some(token), Value::Null).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn login(&self, email: &str) -> String {
        let tokens = self.post("/users/login/", None, json!({"email": email, "password": PASSWORD})).await;
        tokens["access"].as_str().expect("access").to_owned()
    }

    async fn user(&self, email: &str, role: &str) -> String {
        self.post(
            "/users/register/",
            None,
            json!({"email": email, "password": PASSWORD, "password_confirm": PASSWORD, "role": role}),
        )
        .await;
        self.login(email).await
    }
}

/// The fleets' settings, and the admin they create.
struct Setup {
    config: FleetConfig,
    admin_email: String,
}

fn main() -> ExitCode {
    let start = || async {
        let telemetry = common::telemetry::init_with_filter("restart", "warn,sqlx=error").ok();
        let mut config = FleetConfig::for_tests("restart").map_err(|e| e.to_string())?;
        let admin_email =
            format!("admin-{}@example.com", config.infra.schema_prefix.trim_end_matches('_').replace('_', "-"));
        config.identity.admin = identity::Admin::new(&admin_email, PASSWORD);
        let infra = config.infra.clone();
        Ok((Setup { config, admin_email }, (infra, telemetry)))
    };
    let finish = |started: Option<(common::config::Infra, Option<common::telemetry::Telemetry>)>, _| async move {
        if let Some((infra, _telemetry)) = started {
            let _ = fleet::drop_schemas(&infra).await;
        }
    };
    let pace = testkit::Pace { parallel: 1, case_timeout: Duration::from_secs(120) };
    testkit::suite(
        cases![Setup; payment_events_published_while_their_consumer_is_down_apply_once_it_runs],
        pace,
        start,
        finish,
    )
}

async fn payment_events_published_while_their_consumer_is_down_apply_once_it_runs(setup: Arc<Setup>) {
    let (config, admin_email) = (setup.config.clone(), setup.admin_email.as_str());
    let mut down = config.clone();
    down.order.consume_payment_events = false;
    let mut first = Fleet::start(down).await.expect("first fleet");
    let api = Client { http: reqwest::Client::new(), base: first.base_url() };
    let admin = api.login(admin_email).await;
    let vendor = api.user("seller@example.com", "vendor").await;
    let profile = api.post("/vendors/create/", Some(&vendor), json!({"shop_name": "Restart Shop"})).await;
    api.patch(&format!("/vendors/{}/verify/", profile["id"]), &admin, json!({})).await;
    let product = api.post("/products/", Some(&vendor), json!({"name": "Lamp", "price": "7.00", "stock": 50})).await;
    let mut paid = Vec::new();
    for i in 0..5 {
        let customer = api.user(&format!("buyer{i}@example.com"), "customer").await;
        api.post("/carts/items/", Some(&customer), json!({"product": product["id"], "quantity": 1})).await;
        let order = api.post("/orders/create/", Some(&customer), json!({})).await;
        let payment = api.post("/payments/initiate/", Some(&customer), json!({"order_id": order["id"]})).await;
        api.post(
            &format!("/payments/{}/sandbox/complete/", payment["id"]),
            Some(&customer),
            json!({"outcome": "succeeded"}),
        )
        .await;
        paid.push((customer, order["id"].clone(), payment["id"].clone()));
    }
    // The webhooks land at the payment service; with no consumer, the
    // orders cannot move.
    for (customer, _, payment) in &paid {
        let mut status = Value::Null;
        for _ in 0..100 {
            status = api.get(&format!("/payments/{payment}/"), customer).await["status"].clone();
            if status == "succeeded" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, "succeeded");
    }
    for (customer, order, _) in &paid {
        assert_eq!(api.get(&format!("/orders/{order}/"), customer).await["status"], "pending");
    }
    first.stop().await;

    let second = Fleet::start(config).await.expect("second fleet");
    let api = Client { http: reqwest::Client::new(), base: second.base_url() };
    let mut all_paid = true;
    for (i, (_, order, _)) in paid.iter().enumerate() {
        let token = api.login(&format!("buyer{i}@example.com")).await;
        let mut body = Value::Null;
        for _ in 0..100 {
            body = api.get(&format!("/orders/{order}/"), &token).await;
            if body["status"] == "paid" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        all_paid &= body["status"] == "paid" && body["payment_status"] == "succeeded";
    }
    let stock = api.get(&format!("/products/{}/", product["id"]), &admin).await["stock"].clone();
    // Refund one paid order: its payment is refunded through the events.
    api.post(&format!("/orders/{}/refund/", paid[0].1), Some(&admin), json!({})).await;
    let analytics_agrees = analytics_matches_orders(&api, &admin).await;
    let mut second = second;
    second.stop().await;
    assert!(all_paid, "every order reached paid once its consumer ran");
    assert_eq!(stock, 45, "five units sold, none twice");
    assert!(analytics_agrees, "analytics equals a recomputation from the orders API");
}

/// The summary recomputed from `/orders/` (this fleet's every order), and
/// whether `/analytics/summary/` reaches the same figures once the events
/// have caught up.
async fn analytics_matches_orders(api: &Client, admin: &str) -> bool {
    let cents = |v: &Value| -> i64 {
        let text = v.as_str().unwrap_or("0");
        let (units, fraction) = text.split_once('.').unwrap_or((text, "0"));
        units.parse::<i64>().unwrap_or(0) * 100 + format!("{fraction:0<2}")[..2].parse::<i64>().unwrap_or(0)
    };
    let money = |c: i64| format!("{}.{:02}", c / 100, c % 100);
    let mut summary = Value::Null;
    for _ in 0..100 {
        let orders = api.get("/orders/?limit=100", admin).await;
        let all = orders["results"].as_array().cloned().unwrap_or_default();
        let with = |status: &str| all.iter().filter(|o| o["status"] == status).collect::<Vec<_>>();
        let revenue: i64 = with("paid").iter().map(|o| cents(&o["total_price"])).sum();
        let refunded: i64 = with("cancelled")
            .iter()
            .filter(|o| o["payment_status"] == "refunded")
            .map(|o| cents(&o["total_price"]))
            .sum();
        let paid = with("paid").len() as i64;
        let average = if paid == 0 { 0 } else { (revenue * 2 + paid) / (paid * 2) };
        let expected = json!({
            "total_orders": orders["count"], "paid_orders": paid, "cancelled_orders": with("cancelled").len(),
            "pending_orders": with("pending").len(), "total_revenue": money(revenue), "refunded_amount": money(refunded),
            "average_order_value": money(average), "currency": "USD",
        });
        summary = api.get("/analytics/summary/", admin).await;
        if summary == expected && refunded > 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("analytics never matched the orders: {summary}");
    false
}
