//! `checkout-spread`: many customers buying random products. Setup: up to 200
//! random seeded products get a stock of 1,000,000 (PATCH as their vendor),
//! `--customers` customers register and log in and are dealt out to
//! `--clients` workers, so no two workers ever share a cart. Then each worker
//! loops over its own customers until `--duration`: 1–3 random cart adds, then
//! a checkout. The report's requests and latencies are the checkout POSTs;
//! the cart adds are reported beside them, and their errors count too.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::checks;
use crate::client::Api;
use crate::customers::{self, Customer};
use crate::error::{self, BenchError, Result};
use crate::rng::Rng;
use crate::scenarios::excerpt;
use crate::seed::{self, Catalog};
use crate::stats::{self, Recorder, Report};

pub const NAME: &str = "checkout-spread";
/// Products the scenario buys from (all of them when fewer were seeded).
pub const PRODUCTS_USED: usize = 200;
/// Their stock, set before the run: no checkout should ever run short.
pub const STOCK: u64 = 1_000_000;
/// Stock edits in flight during the setup.
const RESTOCK_CONCURRENCY: usize = 16;
/// Hard cap on rounds (cart adds and a checkout) per worker, whatever the duration.
const MAX_ROUNDS_PER_WORKER: u64 = 1_000_000;

/// What a customer's cart holds (product → units); `None` once unknown
/// (an answer was lost, or the server may have changed it behind an error).
type Cart = Option<BTreeMap<i64, u64>>;

/// The figures of the scenario beyond the common ones (which are the checkout POSTs').
#[derive(Debug, Serialize)]
struct Figures {
    customers: usize,
    products: usize,
    /// Checkout POSTs answered 201.
    orders: u64,
    orders_per_s: f64,
    cart_adds: u64,
    cart_add_p50_ms: f64,
    cart_add_p99_ms: f64,
    cart_non_2xx: BTreeMap<u16, u64>,
}

/// What one worker measured.
struct Tally {
    checkout: Recorder,
    cart: Recorder,
    orders: u64,
}

impl Tally {
    fn new() -> Self {
        Self { checkout: Recorder::with_capacity(4096), cart: Recorder::with_capacity(8192), orders: 0 }
    }

    fn merge(&mut self, other: Tally) {
        self.checkout.merge(other.checkout);
        self.cart.merge(other.cart);
        self.orders += other.orders;
    }
}

/// Sets up and runs the scenario with `workers` workers and `customers` customers.
/// A setup step that fails stops the run (an error); the run itself is reported.
pub async fn run(api: &Api, catalog: &Catalog, workers: usize, customers: usize, duration: Duration) -> Result<Report> {
    let tag = &catalog.tag;
    let Setup { products, groups } = prepare(api, catalog, NAME, "c", workers, customers).await?;
    let workers = groups.len();
    let products_used = products.len();

    let started = Instant::now();
    let deadline = started + duration;
    let mut running = JoinSet::new();
    for (i, group) in groups.into_iter().enumerate() {
        running.spawn(worker(api.clone(), Arc::clone(&products), group, deadline, i as u64));
    }
    let mut tally = Tally::new();
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok(figures) => tally.merge(figures),
            // A worker that died lost its figures: count it as an error so the run fails.
            Err(e) => tally.checkout.transport_error(|| format!("worker task failed: {e}")),
        }
    }
    let elapsed = started.elapsed();

    let mut report = Report::new(NAME, tag, workers, duration.as_secs(), elapsed, tally.checkout);
    let cart = Report::new(NAME, tag, workers, duration.as_secs(), elapsed, tally.cart);
    let orders_per_s = (tally.orders as f64 / elapsed.as_secs_f64().max(1e-9) * 10.0).round() / 10.0;
    let notes = vec![
        format!(
            "orders (201) {} = {orders_per_s:.1} orders/s (requests, req/s and latencies above: the checkout POSTs)",
            tally.orders
        ),
        format!(
            "cart adds {}: p50 {:.3} ms  p99 {:.3} ms; non-2xx: {}",
            cart.requests,
            cart.p50_ms,
            cart.p99_ms,
            stats::statuses(&cart.non_2xx)
        ),
    ];
    let figures = Figures {
        customers,
        products: products_used,
        orders: tally.orders,
        orders_per_s,
        cart_adds: cart.requests,
        cart_add_p50_ms: cart.p50_ms,
        cart_add_p99_ms: cart.p99_ms,
        cart_non_2xx: cart.non_2xx.clone(),
    };
    report.absorb_errors(cart);
    report.attach(&figures, notes);
    Ok(report)
}

/// Sets the stock of up to [`PRODUCTS_USED`] random seeded products to
/// [`STOCK`], each as the vendor who owns it; their ids. `scenario` names
/// the caller in errors (`pay` restocks the same way).
/// What a customer-driven scenario starts from: the restocked products and
/// the customers dealt to workers (one group per worker).
pub struct Setup {
    pub products: Arc<Vec<i64>>,
    pub groups: Vec<Vec<Customer>>,
}

/// Restocks the products, registers `customers` customers (`kind` tells
/// scenarios' customers apart) and deals them to at most `workers` workers.
pub async fn prepare(
    api: &Api,
    catalog: &Catalog,
    scenario: &str,
    kind: &str,
    workers: usize,
    customers: usize,
) -> Result<Setup> {
    println!("{scenario} setup: stock {STOCK} on up to {PRODUCTS_USED} products, {customers} customers");
    let phase = Instant::now();
    let products = restock(api, catalog, scenario).await?;
    let restock_secs = phase.elapsed().as_secs_f64();
    let phase = Instant::now();
    let groups = customers::deal(customers::register(api, &catalog.tag, kind, customers).await?, workers);
    println!(
        "{scenario} setup: {} products restocked in {restock_secs:.2} s, {customers} customers registered and \
         logged in in {:.2} s, {} workers",
        products.len(),
        phase.elapsed().as_secs_f64(),
        groups.len(),
    );
    if groups.len() < workers {
        println!("{scenario}: only {} workers: each needs a customer of its own", groups.len());
    }
    Ok(Setup { products: Arc::new(products), groups })
}

pub async fn restock(api: &Api, catalog: &Catalog, scenario: &str) -> Result<Vec<i64>> {
    let picked = Rng::from_clock(u64::MAX).sample(catalog.product_ids.len(), PRODUCTS_USED);
    let jobs: Vec<(i64, usize)> =
        picked.into_iter().filter_map(|i| Some((*catalog.product_ids.get(i)?, catalog.owner(i)))).collect();
    if jobs.is_empty() {
        return Err(BenchError::new(format!("{scenario}: no seeded products to buy")));
    }
    let body = json!({"stock": STOCK});
    seed::bounded(jobs.len(), RESTOCK_CONCURRENCY, |k| {
        let (api, vendors, body, job) = (api.clone(), Arc::clone(&catalog.vendors), body.clone(), jobs.get(k).copied());
        async move {
            let (id, owner) = job.ok_or_else(|| BenchError::new("restock: job out of range"))?;
            let vendor = vendors.get(owner).ok_or_else(|| BenchError::new("no vendors seeded"))?;
            let path = format!("/products/{id}/");
            let call = format!("PATCH {path} as {}", vendor.email);
            let product = vendor.call(&api, Method::PATCH, &path, &body).await?.expect(200, &call)?;
            if product.get("stock").and_then(Value::as_u64) != Some(STOCK) {
                return Err(BenchError::new(format!("{call}: the stock should now be {STOCK}: {product}")));
            }
            Ok(id)
        }
    })
    .await
}

/// One worker: its customers in turn, each adding 1–3 random products to its
/// cart and checking out, until the deadline.
async fn worker(
    api: Api,
    products: Arc<Vec<i64>>,
    mut customers: Vec<Customer>,
    deadline: Instant,
    stream: u64,
) -> Tally {
    let mut rng = Rng::from_clock(stream);
    let mut tally = Tally::new();
    let mut carts: Vec<Cart> = vec![Some(BTreeMap::new()); customers.len()];
    let (cart_url, order_url) = (api.url("/carts/items/"), api.url("/orders/create/"));
    let mut round: u64 = 0;
    while round < MAX_ROUNDS_PER_WORKER && Instant::now() < deadline {
        let slot = (round % customers.len().max(1) as u64) as usize;
        round += 1;
        let (Some(customer), Some(cart)) = (customers.get_mut(slot), carts.get_mut(slot)) else {
            break;
        };
        for _ in 0..rng.between(1, 3) {
            let Some(&product) = rng.pick(&products) else { break };
            let quantity = rng.between(1, 3);
            add_to_cart(&api, &cart_url, customer, cart, (product, quantity), &mut tally).await;
        }
        // Every add failed: an empty cart's checkout is a 400, not a figure worth taking.
        if cart.as_ref().is_some_and(BTreeMap::is_empty) {
            continue;
        }
        place_order(&api, &order_url, customer, cart, &mut tally).await;
    }
    tally
}

/// POST /carts/items/, timed and checked: 201 for a product not yet in the
/// cart, 200 for one merged into its line, which then holds the sum.
async fn add_to_cart(
    api: &Api,
    url: &str,
    customer: &mut Customer,
    cart: &mut Cart,
    (product, quantity): (i64, u64),
    tally: &mut Tally,
) {
    let body = json!({"product": product, "quantity": quantity});
    let started = Instant::now();
    let (status, answer) = match api.send(Method::POST, url, &customer.token, &body).await {
        Ok(reply) => reply,
        Err(e) => {
            tally.cart.transport_error(|| format!("POST {url} {body}: {}", error::chain(&e)));
            *cart = None;
            return;
        }
    };
    tally
        .cart
        .response(status, started.elapsed(), || format!("POST {url} {body} answered {status}: {}", excerpt(&answer)));
    match status {
        200 | 201 => {
            let held = cart.as_ref().map(|c| c.get(&product).copied().unwrap_or(0));
            let check = match add_status(held) {
                Some(wanted) if wanted != status => Err(format!(
                    "answered {status}, not {wanted}: the cart held {} units of product {product}",
                    held.unwrap_or(0)
                )),
                _ => checks::check_cart_line(&answer, product, held.map(|n| n + quantity)),
            };
            match (check, cart.as_mut()) {
                (Err(mismatch), _) => {
                    tally.cart.mismatch(|| format!("POST {url} {body}: {mismatch}"));
                    *cart = None;
                }
                (Ok(()), Some(lines)) => *lines.entry(product).or_default() += quantity,
                (Ok(()), None) => {}
            }
        }
        401 => relogin(api, customer, &mut tally.cart).await,
        // A 5xx may or may not have added the units.
        500.. => *cart = None,
        // Other 4xx: refused, the cart is as it was.
        _ => {}
    }
}

/// The status an add must answer when the cart held `held` units of the
/// product: 201 for a new line, 200 when merged into one; `None` when unknown.
fn add_status(held: Option<u64>) -> Option<u16> {
    held.map(|units| if units == 0 { 201 } else { 200 })
}

/// POST /orders/create/, timed; a 201 is checked against the cart it emptied.
async fn place_order(api: &Api, url: &str, customer: &mut Customer, cart: &mut Cart, tally: &mut Tally) {
    let started = Instant::now();
    let (status, answer) = match api.send(Method::POST, url, &customer.token, &json!({})).await {
        Ok(reply) => reply,
        Err(e) => {
            tally.checkout.transport_error(|| format!("POST {url} as {}: {}", customer.email, error::chain(&e)));
            *cart = None;
            return;
        }
    };
    tally
        .checkout
        .response(status, started.elapsed(), || format!("POST {url} answered {status}: {}", excerpt(&answer)));
    match status {
        201 => {
            tally.orders += 1;
            match checks::check_order(&answer, cart.as_ref()) {
                // The whole cart was ordered, and the ordered lines left it.
                Ok(_) => *cart = Some(BTreeMap::new()),
                Err(mismatch) => {
                    tally.checkout.mismatch(|| format!("POST {url} as {}: {mismatch}", customer.email));
                    *cart = None;
                }
            }
        }
        401 => relogin(api, customer, &mut tally.checkout).await,
        // The fleet caps unpaid orders per customer, and this scenario pays
        // for none: a run against a capped fleet measures refusals.
        409 if at_pending_cap(&answer) => tally.checkout.mismatch(|| {
            format!(
                "POST {url} as {}: 409 too_many_pending_orders: the fleet caps unpaid orders per customer; run it \
                 with MAX_PENDING_ORDERS=0 for checkout throughput (bench/README.md)",
                customer.email
            )
        }),
        // Not enough stock: nothing was ordered, the cart is as it was.
        409 => {}
        // 400 prunes unavailable lines; a 5xx may or may not have ordered.
        _ => *cart = None,
    }
}

/// Whether a checkout was refused for the customer's unpaid orders.
fn at_pending_cap(answer: &[u8]) -> bool {
    serde_json::from_slice::<Value>(answer)
        .is_ok_and(|body| body.get("code").and_then(Value::as_str) == Some("too_many_pending_orders"))
}

/// After a 401 (the access token expired during a long run): log in again.
/// A login that fails counts as a mismatch (the account was valid).
pub async fn relogin(api: &Api, customer: &mut Customer, recorder: &mut Recorder) {
    if let Err(e) = customer.relogin(api).await {
        recorder.mismatch(|| format!("log-in again of {} after a 401 failed: {e}", customer.email));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_lines_are_201_merged_ones_200() {
        assert_eq!(add_status(Some(0)), Some(201));
        assert_eq!(add_status(Some(2)), Some(200));
        assert_eq!(add_status(None), None);
    }

    #[test]
    fn the_pending_cap_is_told_apart_from_short_stock() {
        assert!(at_pending_cap(
            br#"{"detail": "You have too many unpaid orders (50).", "code": "too_many_pending_orders"}"#
        ));
        assert!(!at_pending_cap(br#"{"detail": "Not enough stock", "code": "insufficient_stock", "products": [1]}"#));
        assert!(!at_pending_cap(b"not json"));
    }

    #[test]
    fn tallies_merge() {
        let mut a = Tally::new();
        a.orders = 2;
        a.cart.response(201, Duration::from_millis(1), String::new);
        let mut b = Tally::new();
        b.orders = 3;
        b.checkout.transport_error(|| "reset".to_owned());
        a.merge(b);
        let report = Report::new(NAME, "t", 2, 1, Duration::from_secs(1), a.checkout);
        assert_eq!((a.orders, report.transport_errors), (5, 1));
        assert_eq!(Report::new(NAME, "t", 2, 1, Duration::from_secs(1), a.cart).requests, 1);
    }
}
