//! Fault tests on the marketplace as separate processes (`fleet::cluster`:
//! two replicas each of catalog, cart and order), with a Redis of the
//! test's own (never the machine's shared one). Under a steady checkout
//! (every fourth order paid in the sandbox) and listing load: one order replica, then one catalog replica, killed with
//! `SIGKILL` and started again, then the other catalog replica frozen
//! (`SIGSTOP`) for a few seconds, then a rolling restart (`SIGTERM`, drain,
//! start) of a cart, an order and a catalog replica, which must cost no
//! call at all; Redis killed for a few seconds; the gateway
//! killed in the middle of checkouts that clients then retry with the same
//! `Idempotency-Key`; every order replica frozen, then killed, in the
//! middle of a product write with stock (it must change nothing at all).
//! Afterwards the books must balance: every successful
//! checkout is one order the API lists, stock moved by exactly the units
//! sold, no 500 was ever answered (503/504 while a downstream is gone are
//! allowed and counted), every event was delivered (paid orders turn
//! `paid`, analytics counts them) despite the kills and once Redis came
//! back, and the restarted replicas take traffic again.
//!
//! Needs the service binaries: `cargo build --workspace --bins` (make test
//! does it). Traffic goes to 127.0.0.1 only, bounded in time.
use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::config::Infra;
use common::{cases, testkit};
use fleet::cluster::{Cluster, ClusterConfig};
use fleet::local_redis::LocalRedis;
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Horse-92";
const PRODUCTS: usize = 8;
const INITIAL_STOCK: i64 = 10_000;
const CUSTOMERS: usize = 8;

fn main() -> ExitCode {
    let start = || async {
        let telemetry = common::telemetry::init_with_filter("chaos", "warn,sqlx=error").ok();
        let prefix = common::testkit::unique_prefix("chaos");
        let redis_dir = std::env::temp_dir().join(format!("marketplace-chaos-redis-{prefix}"));
        let redis = LocalRedis::durable(redis_dir).map_err(|e| format!("a Redis of the test's own: {e}"))?;
        let mut infra = Infra::from_env().map_err(|e| e.to_string())?;
        infra.schema_prefix = prefix.clone();
        infra.redis_url = redis.url();
        let admin_email = format!("admin-{}@example.com", prefix.trim_end_matches('_').replace('_', "-"));
        let mut config = ClusterConfig::for_tests(infra.clone()).map_err(|e| e.to_string())?;
        for (name, value) in [
            ("ADMIN_EMAIL", admin_email.as_str()),
            ("ADMIN_PASSWORD", PASSWORD),
            ("DOWNSTREAM_TIMEOUT_MS", "3000"),
            ("STOCK_WRITE_RECOVERY_SECS", "1"),
            ("REGISTER_RATE_LIMIT", "0"),
            ("LOGIN_FAILURE_LIMIT", "0"),
            // Eight customers place well over a thousand orders, most left
            // unpaid: no cap on pending orders per customer.
            ("MAX_PENDING_ORDERS", "0"),
            ("RUST_LOG", "warn,sqlx=error"),
        ] {
            config.env.insert(name.to_owned(), value.to_owned());
        }
        let log_dir = config.log_dir.clone();
        let started = Instant::now();
        let cluster = match Cluster::start(config).await {
            Ok(cluster) => cluster,
            Err(error) => {
                let _ = fleet::drop_schemas(&infra).await;
                return Err(format!("the cluster did not start: {error}"));
            }
        };
        println!("cluster up in {:.1} s; logs in {}", started.elapsed().as_secs_f64(), log_dir.display());
        let world = Arc::new(World {
            api: Api { http: reqwest::Client::new(), base: cluster.gateway_url.clone() },
            cluster: tokio::sync::Mutex::new(cluster),
            redis: Mutex::new(redis),
            admin_email,
        });
        Ok((Shared(world.clone()), Teardown { world, infra, log_dir, _telemetry: telemetry }))
    };
    let pace = testkit::Pace { parallel: 1, case_timeout: Duration::from_secs(900) };
    testkit::suite(cases![Shared; the_books_balance_through_kills_freezes_and_outages], pace, start, tear_down)
}

/// The world the one case runs in.
struct Shared(Arc<World>);

/// What the clean-up takes down.
struct Teardown {
    world: Arc<World>,
    infra: Infra,
    log_dir: std::path::PathBuf,
    _telemetry: Option<common::telemetry::Telemetry>,
}

async fn the_books_balance_through_kills_freezes_and_outages(shared: Arc<Shared>) {
    let world = &shared.0;
    let started = Instant::now();
    let shop = world.shop().await;
    replicas_killed_and_frozen_under_load(world, &shop).await;
    redis_killed_for_a_few_seconds(world, &shop).await;
    gateway_killed_mid_checkout(world, &shop).await;
    order_stalled_or_gone_mid_product_write(world, &shop).await;
    println!("chaos: all scenarios passed in {:.0} s", started.elapsed().as_secs_f64());
}

async fn tear_down(teardown: Option<Teardown>, passed: bool) {
    let Some(Teardown { world, infra, log_dir, _telemetry }) = teardown else { return };
    world.cluster.lock().await.stop().await;
    {
        // Redis up for the clean-up (a failing scenario may have killed it);
        // it goes, with its file, when `world` does.
        let mut redis = world.redis.lock().unwrap_or_else(|p| p.into_inner());
        if !redis.is_running() {
            let _ = redis.start();
        }
    }
    if let Err(error) = fleet::drop_schemas(&infra).await {
        eprintln!("could not drop the test schemas: {error}");
    }
    if passed {
        let _ = std::fs::remove_dir_all(&log_dir);
    } else {
        eprintln!("chaos: FAILED (process logs kept in {})", log_dir.display());
    }
}

struct World {
    api: Api,
    cluster: tokio::sync::Mutex<Cluster>,
    redis: Mutex<LocalRedis>,
    admin_email: String,
}

#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// Status and JSON body; a connection that fails (the gateway is gone)
    /// reads as status 0.
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).timeout(Duration::from_secs(15));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.json::<Value>().await.unwrap_or(Value::Null);
                (status, body)
            }
            Err(_) => (0, Value::Null),
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.send(Method::GET, path, token, None, None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.send(Method::POST, path, token, Some(body), None).await
    }

    async fn expect(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>, status: u16) -> Value {
        let (got, body) = self.send(method, path, token, body, None).await;
        assert_eq!(got, status, "{path}: {body}");
        body
    }

    async fn login(&self, email: &str) -> String {
        let body = json!({"email": email, "password": PASSWORD});
        let tokens = self.expect(Method::POST, "/users/login/", None, Some(body), 200).await;
        tokens["access"].as_str().expect("access").to_owned()
    }

    async fn user(&self, role: &str) -> String {
        let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
        let body = json!({"email": email, "password": PASSWORD, "password_confirm": PASSWORD, "role": role});
        self.expect(Method::POST, "/users/register/", None, Some(body), 201).await;
        self.login(&email).await
    }
}

/// What the scenarios share: an approved vendor's products, customers,
/// and the admin.
struct Shop {
    products: Vec<i64>,
    customers: Vec<String>,
    admin: String,
    vendor: String,
}

impl World {
    async fn shop(&self) -> Shop {
        let api = &self.api;
        let admin = api.login(&self.admin_email).await;
        let vendor = api.user("vendor").await;
        let profile = api
            .expect(Method::POST, "/vendors/create/", Some(&vendor), Some(json!({"shop_name": "Chaos Shop"})), 201)
            .await;
        let verify = format!("/vendors/{}/verify/", profile["id"]);
        api.expect(Method::PATCH, &verify, Some(&admin), Some(json!({})), 200).await;
        let mut products = Vec::new();
        for i in 0..PRODUCTS {
            let body = json!({"name": format!("Chaos item {i}"), "price": "3.50", "stock": INITIAL_STOCK});
            let product = api.expect(Method::POST, "/products/", Some(&vendor), Some(body), 201).await;
            products.push(product["id"].as_i64().expect("id"));
        }
        let customers = futures::future::join_all((0..CUSTOMERS).map(|_| api.user("customer"))).await;
        Shop { products, customers, admin, vendor }
    }
}

/// Responses by status, and every order a checkout answered with.
#[derive(Default)]
struct Tally {
    statuses: Mutex<BTreeMap<u16, u64>>,
    orders: Mutex<BTreeSet<i64>>,
    /// Orders whose sandbox payment was completed: each must end `paid`.
    paid: Mutex<BTreeMap<i64, String>>,
}

impl Tally {
    fn record(&self, status: u16) {
        *self.statuses.lock().unwrap_or_else(|p| p.into_inner()).entry(status).or_default() += 1;
    }

    fn count(&self, status: u16) -> u64 {
        self.statuses.lock().unwrap_or_else(|p| p.into_inner()).get(&status).copied().unwrap_or(0)
    }

    /// Answers that were server errors, or no answer at all.
    fn failed(&self) -> u64 {
        let statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        statuses.iter().filter(|(status, _)| **status == 0 || **status >= 500).map(|(_, n)| n).sum()
    }

    fn total(&self) -> u64 {
        self.statuses.lock().unwrap_or_else(|p| p.into_inner()).values().sum()
    }

    fn orders(&self) -> BTreeSet<i64> {
        self.orders.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// No 500 (nor any 5xx but 503/504), and nothing the gateway could not answer.
    fn assert_no_server_errors(&self, scenario: &str) {
        let statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner()).clone();
        println!("{scenario}: responses by status {statuses:?}");
        for (status, count) in statuses {
            assert!(
                status != 0 && (status < 500 || status == 503 || status == 504),
                "{scenario}: {count} responses with status {status}"
            );
        }
    }
}

/// Adds one unit to the cart and checks out with one `Idempotency-Key`,
/// retrying with the same key while the answer is a 5xx, the in-flight
/// 409, or no answer at all, as a careful client does.
async fn buy_once(api: &Api, customer: &str, product: i64, pay_for_it: bool, tally: &Tally) {
    let (status, _) = api.post("/carts/items/", Some(customer), json!({"product": product, "quantity": 1})).await;
    tally.record(status);
    if !(200..300).contains(&status) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        return;
    }
    let order = checkout(api, customer, &uuid::Uuid::new_v4().to_string(), tally).await;
    if let Some(order) = order.filter(|_| pay_for_it) {
        pay(api, customer, order, tally).await;
    }
}

/// Initiates the order's payment and completes it in the sandbox, each
/// step repeated while the answer is "try again" (both are idempotent: one
/// open payment per order, and a payment succeeds once).
async fn pay(api: &Api, customer: &str, order: i64, tally: &Tally) {
    let payment = loop {
        let (status, body) = api.post("/payments/initiate/", Some(customer), json!({"order_id": order})).await;
        tally.record(status);
        match status {
            200 | 201 => break body["id"].as_i64().expect("payment id"),
            0 | 503 | 504 => tokio::time::sleep(Duration::from_millis(200)).await,
            _ => panic!("payment initiate answered {status}: {body}"),
        }
    };
    loop {
        let path = format!("/payments/{payment}/sandbox/complete/");
        let (status, body) = api.post(&path, Some(customer), json!({"outcome": "succeeded"})).await;
        tally.record(status);
        match status {
            202 => break,
            0 | 503 | 504 => tokio::time::sleep(Duration::from_millis(200)).await,
            _ => panic!("sandbox complete answered {status}: {body}"),
        }
    }
    tally.paid.lock().unwrap_or_else(|p| p.into_inner()).insert(order, customer.to_owned());
}

/// Waits until every order paid for is `paid` and analytics counts every
/// listed order and every paid one: the events of the scenario (OrderPlaced,
/// PaymentSucceeded) all arrived, whichever replica died holding them
/// (a dead consumer's pending entries are re-claimed after 30 s idle).
async fn assert_events_delivered(api: &Api, shop: &Shop, listed: usize, paid: &BTreeMap<i64, String>, scenario: &str) {
    let started = Instant::now();
    let mut unpaid: Vec<(i64, String)> = Vec::new();
    for (order, customer) in paid {
        loop {
            let (_, body) = api.get(&format!("/orders/{order}/"), Some(customer)).await;
            let status = body["status"].as_str().unwrap_or_default().to_owned();
            if status == "paid" {
                break;
            }
            if started.elapsed() > Duration::from_secs(90) {
                unpaid.push((*order, status));
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    assert!(unpaid.is_empty(), "{scenario}: orders paid for but not paid: {unpaid:?}");
    loop {
        let (_, summary) = api.get("/analytics/summary/", Some(&shop.admin)).await;
        let (orders, paid_orders) = (summary["total_orders"].as_i64(), summary["paid_orders"].as_i64());
        if orders == Some(listed as i64) && paid_orders >= Some(paid.len() as i64) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "{scenario}: analytics saw {summary} of {listed} orders");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "{scenario}: {} payments completed, all orders paid and all {listed} orders in analytics {:.1} s after the load",
        paid.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Checks out until an answer other than "try again"; returns the order id.
async fn checkout(api: &Api, customer: &str, key: &str, tally: &Tally) -> Option<i64> {
    for _ in 0..100 {
        let (status, body) =
            api.send(Method::POST, "/orders/create/", Some(customer), Some(json!({})), Some(key)).await;
        tally.record(status);
        match status {
            201 => {
                let id = body["id"].as_i64().expect("order id");
                tally.orders.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
                return Some(id);
            }
            0 | 409 | 503 | 504 if status != 409 || body["code"] == "idempotency_key_in_flight" => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            _ => panic!("checkout answered {status}: {body}"),
        }
    }
    panic!("checkout never completed");
}

/// Public listings and details, as shoppers browse.
async fn browse(api: &Api, products: &[i64], round: usize, tally: &Tally) {
    let orderings = ["-created_at", "price", "-price", "name"];
    let (status, _) = api.get(&format!("/products/?ordering={}", orderings[round % orderings.len()]), None).await;
    tally.record(status);
    let (status, _) = api.get(&format!("/products/{}/", products[round % products.len()]), None).await;
    tally.record(status);
}

/// Runs checkout and listing load until `stop`.
fn load(api: &Api, shop: &Shop, stop: &Arc<AtomicBool>, tally: &Arc<Tally>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (n, customer) in shop.customers.iter().enumerate() {
        let (api, customer, products, stop, tally) =
            (api.clone(), customer.clone(), shop.products.clone(), stop.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let mut round = n;
            while !stop.load(Ordering::Relaxed) {
                // Every fourth order is paid for as well.
                buy_once(&api, &customer, products[round % products.len()], round % 4 == 0, &tally).await;
                round += 1;
            }
        }));
    }
    for n in 0..2 {
        let (api, products, stop, tally) = (api.clone(), shop.products.clone(), stop.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let mut round = n;
            while !stop.load(Ordering::Relaxed) {
                browse(&api, &products, round, &tally).await;
                round += 1;
            }
        }));
    }
    tasks
}

/// gRPC calls a process answered, health checks aside (from its /metrics).
async fn calls_served(metrics_addr: &str) -> u64 {
    let Ok(response) = reqwest::get(format!("http://{metrics_addr}/metrics")).await else { return 0 };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("grpc_requests_total{") && !l.contains("grpc.health"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Kills `name`, lets the load run without it, starts it again, and waits
/// until it serves calls again (it is back in every client's rotation).
async fn kill_and_restart(world: &World, name: &str) {
    world.cluster.lock().await.kill(name).await.expect("kill");
    println!("killed {name} (SIGKILL)");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let restarted = Instant::now();
    world.cluster.lock().await.restart(name).await.expect("restart");
    wait_until_serving(world, name, restarted).await;
}

/// Waits until the (re)started `name` answers calls: it is back in its
/// callers' rotation.
async fn wait_until_serving(world: &World, name: &str, restarted: Instant) {
    let metrics = world.cluster.lock().await.process(name).expect("process").metrics_addr.clone();
    loop {
        let served = calls_served(&metrics).await;
        if served > 0 {
            println!(
                "{name} restarted; serving again {:.1} s after its restart ({served} calls so far)",
                restarted.elapsed().as_secs_f64()
            );
            return;
        }
        assert!(restarted.elapsed() < Duration::from_secs(30), "{name} never took traffic after its restart");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One step of a rolling restart under the load: `SIGTERM` (health says
/// NOT_SERVING, the replica serves on for its grace, then drains: its
/// listener closes and its connections get GOAWAY), a second down, started
/// again, back in rotation. That must cost no call at all: a request that
/// crossed the drain is refused unprocessed and goes to the other replica.
async fn restart_gracefully(world: &World, name: &str, tally: &Tally) {
    let failed_before = tally.failed();
    world.cluster.lock().await.terminate(name).await.expect("terminate");
    println!("stopped {name} gracefully (SIGTERM)");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restarted = Instant::now();
    world.cluster.lock().await.restart(name).await.expect("restart");
    wait_until_serving(world, name, restarted).await;
    let failed = tally.failed() - failed_before;
    println!("{name}: {failed} failed calls during its graceful restart");
    assert_eq!(failed, 0, "the graceful restart of {name} cost calls (5xx or no answer)");
}

/// Every order of every customer, as the API lists them: (id, units by product).
async fn listed_orders(api: &Api, shop: &Shop) -> BTreeMap<i64, Vec<(i64, i64)>> {
    let mut orders = BTreeMap::new();
    for customer in &shop.customers {
        let mut offset = 0;
        loop {
            let page = api
                .expect(Method::GET, &format!("/orders/?limit=100&offset={offset}"), Some(customer), None, 200)
                .await;
            let results = page["results"].as_array().cloned().unwrap_or_default();
            for order in &results {
                let items = order["items"].as_array().cloned().unwrap_or_default();
                let lines =
                    items.iter().map(|i| (i["product"].as_i64().unwrap_or(0), i["quantity"].as_i64().unwrap_or(0)));
                orders.insert(order["id"].as_i64().expect("id"), lines.collect());
            }
            offset += results.len();
            if results.is_empty() || page["next"].is_null() {
                break;
            }
        }
    }
    orders
}

/// initial − current stock of every product, summed, against the units of
/// every listed order.
async fn assert_stock_conserved(api: &Api, shop: &Shop, orders: &BTreeMap<i64, Vec<(i64, i64)>>, scenario: &str) {
    let mut moved = 0;
    for product in &shop.products {
        let detail = api.expect(Method::GET, &format!("/products/{product}/"), None, None, 200).await;
        moved += INITIAL_STOCK - detail["stock"].as_i64().expect("stock");
    }
    let sold: i64 = orders.values().flatten().map(|(_, units)| units).sum();
    println!("{scenario}: stock moved {moved} units, orders hold {sold} units");
    assert_eq!(moved, sold, "{scenario}: stock is conserved");
}

async fn replicas_killed_and_frozen_under_load(world: &World, shop: &Shop) {
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks = load(&world.api, shop, &stop, &tally);
    tokio::time::sleep(Duration::from_secs(3)).await;
    kill_and_restart(world, "order-1").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    kill_and_restart(world, "catalog-1").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A frozen replica (SIGSTOP) accepts connections and never answers.
    world.cluster.lock().await.freeze("catalog-2").await.expect("freeze");
    println!("froze catalog-2 (SIGSTOP)");
    tokio::time::sleep(Duration::from_secs(4)).await;
    world.cluster.lock().await.thaw("catalog-2").await.expect("thaw");
    println!("thawed catalog-2 (SIGCONT)");
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A rolling restart: a cart replica (whose AddItem is a write that is
    // never blindly retried), an order replica and a catalog replica.
    for name in ["cart-1", "order-1", "catalog-1"] {
        restart_gracefully(world, name, &tally).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("load task");
    }
    let scenario = "replicas killed";
    println!(
        "{scenario}: {} requests in {:.1} s, {} successful checkouts, {} answered 503, {} answered 504",
        tally.total(),
        started.elapsed().as_secs_f64(),
        tally.orders().len(),
        tally.count(503),
        tally.count(504)
    );
    tally.assert_no_server_errors(scenario);
    let listed = listed_orders(&world.api, shop).await;
    let answered = tally.orders();
    println!("{scenario}: {} orders listed by the API, {} checkouts answered 201", listed.len(), answered.len());
    assert_eq!(listed.keys().copied().collect::<BTreeSet<_>>(), answered, "{scenario}: no order lost or doubled");
    assert!(answered.len() >= 20, "{scenario}: the load placed orders ({})", answered.len());
    assert_stock_conserved(&world.api, shop, &listed, scenario).await;
    let paid = tally.paid.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_events_delivered(&world.api, shop, listed.len(), &paid, scenario).await;
}

async fn redis_killed_for_a_few_seconds(world: &World, shop: &Shop) {
    let scenario = "redis killed";
    let api = &world.api;
    let tally = Tally::default();
    world.redis.lock().unwrap_or_else(|p| p.into_inner()).kill();
    println!("{scenario}: Redis killed (SIGKILL)");
    let outage = Instant::now();
    // Listings answer from MariaDB; checkouts and a payment still land.
    let mut round = 0;
    while outage.elapsed() < Duration::from_secs(2) {
        browse(api, &shop.products, round, &tally).await;
        round += 1;
    }
    let customer = &shop.customers[0];
    let (status, _) =
        api.post("/carts/items/", Some(customer), json!({"product": shop.products[0], "quantity": 2})).await;
    assert!(status == 200 || status == 201, "{scenario}: cart add without Redis: {status}");
    let order = checkout(api, customer, &uuid::Uuid::new_v4().to_string(), &tally).await.expect("order");
    let (status, payment) = api.post("/payments/initiate/", Some(customer), json!({"order_id": order})).await;
    assert_eq!(status, 201, "{scenario}: payment initiate without Redis: {payment}");
    let complete = format!("/payments/{}/sandbox/complete/", payment["id"]);
    let (status, body) = api.post(&complete, Some(customer), json!({"outcome": "succeeded"})).await;
    assert_eq!(status, 202, "{scenario}: sandbox complete without Redis: {body}");
    let listings = tally.count(200);
    println!("{scenario}: {listings} requests answered 200 during the {:.1} s outage", outage.elapsed().as_secs_f64());
    tally.assert_no_server_errors(scenario);

    world.redis.lock().unwrap_or_else(|p| p.into_inner()).start().expect("Redis starts again");
    println!("{scenario}: Redis back after {:.1} s", outage.elapsed().as_secs_f64());
    // The events written meanwhile are relayed and consumed: the order
    // turns paid (PaymentSucceeded → order) and analytics counts every
    // order the API lists (OrderPlaced → analytics).
    let listed = listed_orders(api, shop).await;
    let back = Instant::now();
    loop {
        let (_, detail) = api.get(&format!("/orders/{order}/"), Some(customer)).await;
        let (_, summary) = api.get("/analytics/summary/", Some(&shop.admin)).await;
        let counted = summary["total_orders"].as_i64().unwrap_or(-1);
        if detail["status"] == "paid" && counted == listed.len() as i64 {
            println!(
                "{scenario}: every event delivered {:.1} s after Redis came back (order paid; analytics counts {counted} orders)",
                back.elapsed().as_secs_f64()
            );
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "{scenario}: events lost: order {} , analytics counts {counted} of {}",
            detail["status"],
            listed.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_stock_conserved(api, shop, &listed, scenario).await;
}

async fn gateway_killed_mid_checkout(world: &World, shop: &Shop) {
    let scenario = "gateway killed";
    let api = &world.api;
    let tally = Arc::new(Tally::default());
    let before = listed_orders(api, shop).await;
    for (n, customer) in shop.customers.iter().enumerate() {
        let (status, _) = api
            .post("/carts/items/", Some(customer), json!({"product": shop.products[n % PRODUCTS], "quantity": 1}))
            .await;
        assert!((200..300).contains(&status), "{scenario}: cart add");
    }
    let keys: Vec<String> = shop.customers.iter().map(|_| uuid::Uuid::new_v4().to_string()).collect();
    // Every customer checks out at once; the gateway dies under them.
    let first_tries: Vec<_> = shop
        .customers
        .iter()
        .zip(&keys)
        .map(|(customer, key)| {
            let (api, customer, key) = (api.clone(), customer.clone(), key.clone());
            tokio::spawn(async move {
                api.send(Method::POST, "/orders/create/", Some(&customer), Some(json!({})), Some(&key)).await.0
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    world.cluster.lock().await.kill("gateway").await.expect("kill gateway");
    let mut cut = 0;
    for attempt in first_tries {
        let status = attempt.await.expect("first try");
        if status == 0 {
            cut += 1;
        }
    }
    println!("{scenario}: gateway killed mid-checkout; {cut} of {} first tries got no answer", keys.len());
    world.cluster.lock().await.restart("gateway").await.expect("restart gateway");
    // Each client retries with its key: exactly one order each.
    for (customer, key) in shop.customers.iter().zip(&keys) {
        checkout(api, customer, key, &tally).await.expect("order");
    }
    tally.assert_no_server_errors(scenario);
    let after = listed_orders(api, shop).await;
    let new: BTreeSet<i64> = after.keys().filter(|id| !before.contains_key(id)).copied().collect();
    println!("{scenario}: {} new orders for {} customers", new.len(), keys.len());
    assert_eq!(new, tally.orders(), "{scenario}: exactly one order per key");
    assert_eq!(new.len(), keys.len(), "{scenario}: one order per customer");
    assert_stock_conserved(api, shop, &after, scenario).await;
}

/// A product write (new name and stock) while every order replica is
/// frozen, then while every one is dead: it fails with 503/504, and once
/// order is back the product reads exactly as before — fields and stock —
/// whatever order did with the stock before it stopped answering.
async fn order_stalled_or_gone_mid_product_write(world: &World, shop: &Shop) {
    let api = &world.api;
    let path = format!("/products/{}/", shop.products[0]);
    let before = api.expect(Method::GET, &path, None, None, 200).await;
    let orders = ["order-1", "order-2"];
    for fault in ["frozen", "killed"] {
        let scenario = format!("order {fault} mid product write");
        for name in orders {
            let mut cluster = world.cluster.lock().await;
            match fault {
                "frozen" => cluster.freeze(name).await.expect("freeze"),
                _ => cluster.kill(name).await.expect("kill"),
            }
        }
        let change = json!({"name": "Half written", "stock": 1});
        let (status, body) = api.send(Method::PATCH, &path, Some(&shop.vendor), Some(change), None).await;
        assert!(matches!(status, 503 | 504), "{scenario}: answered {status} {body}");
        let back = Instant::now();
        for name in orders {
            let mut cluster = world.cluster.lock().await;
            match fault {
                "frozen" => cluster.thaw(name).await.expect("thaw"),
                _ => cluster.restart(name).await.expect("restart"),
            }
        }
        // The product reads again once order answers (its stock is order's);
        // the recovery pass (every second here) settles what was left.
        let after = loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            match api.send(Method::GET, &path, None, None, None).await {
                (200, product) if back.elapsed() > Duration::from_secs(3) => break product,
                (status, _) => assert!(back.elapsed() < Duration::from_secs(30), "{scenario}: reads {status}"),
            }
        };
        assert_eq!((&after["name"], &after["stock"]), (&before["name"], &before["stock"]), "{scenario}");
        println!("{scenario}: answered {status}; the product reads as before ({} in stock)", after["stock"]);
    }
}
