//! `checkout-hot`: many buyers, one product, not enough units. Setup: the
//! first seeded vendor creates a fresh product with 100 units; 200 customers
//! register, log in and put 1 unit each in their cart. Then all 200 check out
//! at once, at most 64 in flight (a semaphore), timed from the first request
//! to the last answer. The verdict: no unit oversold and the stock conserved
//! (`100 - final stock = orders`); either, or any 5xx, fails the run.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::checks;
use crate::client::{Api, id_of};
use crate::customers::{self, Customer};
use crate::error::{self, BenchError, Result};
use crate::scenarios::excerpt;
use crate::seed::{self, Catalog};
use crate::stats::{self, Recorder, Report};

pub const NAME: &str = "checkout-hot";
/// Checkouts in flight during the burst.
pub const IN_FLIGHT: usize = 64;
/// Buyers, one unit each.
const CUSTOMERS: usize = 200;
/// Units of the hot product.
const STOCK: u64 = 100;
/// Cart adds in flight during the setup.
const ADD_CONCURRENCY: usize = 16;

/// What the final stock says about the burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Verdict {
    /// Units sold beyond the stock: orders above it, or a stock below zero.
    oversold: u64,
    /// Every order took exactly its unit: `initial - final = orders`.
    stock_conserved: bool,
}

impl Verdict {
    fn new(initial: u64, orders: u64, final_stock: i64) -> Self {
        let below_zero = final_stock.checked_neg().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        let sold = i128::from(initial) - i128::from(final_stock);
        Self { oversold: orders.saturating_sub(initial).max(below_zero), stock_conserved: sold == i128::from(orders) }
    }

    /// Failed checks (counted as errors of the scenario): 0, 1 or 2.
    fn failures(self) -> u64 {
        u64::from(self.oversold > 0) + u64::from(!self.stock_conserved)
    }
}

/// The figures of the scenario beyond the common ones (which are the checkout POSTs').
#[derive(Debug, Serialize)]
struct Figures {
    product: i64,
    customers: usize,
    initial_stock: u64,
    /// Checkouts answered 201.
    orders: u64,
    orders_per_s: f64,
    /// Checkouts answered 409 `insufficient_stock`.
    insufficient_stock: u64,
    /// Checkouts answered anything else, by status.
    other_statuses: BTreeMap<u16, u64>,
    final_stock: i64,
    oversold: u64,
    stock_conserved: bool,
}

/// The answers of the burst.
struct Tally {
    recorder: Recorder,
    orders: u64,
    insufficient_stock: u64,
    other_statuses: BTreeMap<u16, u64>,
}

impl Tally {
    /// Counts one answer; a 201 must be an order of exactly one unit of
    /// `product`, a 409 must say `insufficient_stock`.
    fn answer(&mut self, product: i64, status: u16, body: &[u8], elapsed: Duration) {
        self.recorder
            .response(status, elapsed, || format!("POST /orders/create/ answered {status}: {}", excerpt(body)));
        let mismatch = match status {
            201 => {
                self.orders += 1;
                checks::check_order(body, Some(&BTreeMap::from([(product, 1)]))).err()
            }
            409 if conflict_code(body).as_deref() == Some("insufficient_stock") => {
                self.insufficient_stock += 1;
                None
            }
            409 => {
                *self.other_statuses.entry(status).or_default() += 1;
                Some(format!("409 without \"code\": \"insufficient_stock\": {}", excerpt(body)))
            }
            _ => {
                *self.other_statuses.entry(status).or_default() += 1;
                None
            }
        };
        if let Some(mismatch) = mismatch {
            self.recorder.mismatch(|| format!("POST /orders/create/: {mismatch}"));
        }
    }
}

fn conflict_code(body: &[u8]) -> Option<String> {
    let body: Value = serde_json::from_slice(body).ok()?;
    body.get("code").and_then(Value::as_str).map(str::to_owned)
}

/// Sets up and runs the burst. A setup step that fails stops the run (an
/// error); the burst itself is reported, its verdict counted as errors.
pub async fn run(api: &Api, catalog: &Catalog) -> Result<Report> {
    let tag = &catalog.tag;
    println!("{NAME} setup: a product with {STOCK} units, {CUSTOMERS} customers with 1 unit each in their cart");
    let phase = Instant::now();
    let product = create_product(api, catalog).await?;
    let customers = customers::register(api, tag, "h", CUSTOMERS).await?;
    fill_carts(api, product, &customers).await?;
    println!("{NAME} setup: product {product} and {CUSTOMERS} carts ready in {:.2} s", phase.elapsed().as_secs_f64());

    let (tally, wall) = burst(api, product, customers).await;
    let final_stock = stock_of(api, product).await?;
    let verdict = Verdict::new(STOCK, tally.orders, final_stock);

    let Tally { recorder, orders, insufficient_stock, other_statuses } = tally;
    let mut report = Report::new(NAME, tag, IN_FLIGHT, 0, wall, recorder);
    let orders_per_s = (orders as f64 / wall.as_secs_f64().max(1e-9) * 10.0).round() / 10.0;
    let mut notes = vec![
        format!(
            "orders (201) {orders}, insufficient_stock (409) {insufficient_stock}, other statuses: {}",
            stats::statuses(&other_statuses)
        ),
        format!("burst: {CUSTOMERS} checkouts in {:.3} s = {orders_per_s:.1} orders/s", wall.as_secs_f64()),
        format!(
            "stock {STOCK} -> {final_stock}; oversold units {}; stock conserved: {}",
            verdict.oversold,
            if verdict.stock_conserved { "yes" } else { "no" }
        ),
    ];
    if final_stock > 0 && insufficient_stock > 0 {
        notes.push(format!(
            "warning: {final_stock} units left although {insufficient_stock} buyers were refused for insufficient stock"
        ));
    }
    let figures = Figures {
        product,
        customers: CUSTOMERS,
        initial_stock: STOCK,
        orders,
        orders_per_s,
        insufficient_stock,
        other_statuses,
        final_stock,
        oversold: verdict.oversold,
        stock_conserved: verdict.stock_conserved,
    };
    report.errors += verdict.failures();
    let passed = report.errors == 0;
    notes.push(format!("verdict: {}", if passed { "pass" } else { "FAIL (oversold, stock not conserved, or errors)" }));
    report.attach(&figures, notes);
    Ok(report)
}

/// The first seeded vendor creates the hot product; its id.
async fn create_product(api: &Api, catalog: &Catalog) -> Result<i64> {
    let vendor = catalog.vendors.first().ok_or_else(|| BenchError::new("no vendors seeded"))?;
    let tag = &catalog.tag;
    let body = json!({
        "name": format!("Hot item {tag}"),
        "description": "One product, many buyers: the bench's checkout-hot.",
        "price": "25.00",
        "stock": STOCK,
        "sku": format!("{tag}-hot"),
    });
    let call = format!("POST /products/ as {} (the hot product)", vendor.email);
    let created = vendor.call(api, Method::POST, "/products/", &body).await?.expect(201, &call)?;
    if created.get("stock").and_then(Value::as_u64) != Some(STOCK) {
        return Err(BenchError::new(format!("{call}: the stock should be {STOCK}: {created}")));
    }
    id_of(&created, &call)
}

/// Each customer puts one unit of `product` in its (empty) cart.
async fn fill_carts(api: &Api, product: i64, customers: &[Customer]) -> Result<()> {
    let body = json!({"product": product, "quantity": 1});
    seed::bounded(customers.len(), ADD_CONCURRENCY, |i| {
        let (api, body, customer) = (api.clone(), body.clone(), customers.get(i).cloned());
        async move {
            let customer = customer.ok_or_else(|| BenchError::new("cart fill: customer out of range"))?;
            let call = format!("POST /carts/items/ as {}", customer.email);
            let line =
                api.call(Method::POST, "/carts/items/", Some(&customer.token), &body).await?.expect(201, &call)?;
            if line.get("product").and_then(Value::as_i64) != Some(product)
                || line.get("quantity").and_then(Value::as_u64) != Some(1)
            {
                return Err(BenchError::new(format!("{call}: not a line of 1 unit of product {product}: {line}")));
            }
            Ok(())
        }
    })
    .await
    .map(|_| ())
}

/// Every customer checks out, [`IN_FLIGHT`] at a time; the answers and the wall time.
async fn burst(api: &Api, product: i64, customers: Vec<Customer>) -> (Tally, Duration) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let url = api.url("/orders/create/");
    let mut tally = Tally {
        recorder: Recorder::with_capacity(customers.len()),
        orders: 0,
        insufficient_stock: 0,
        other_statuses: BTreeMap::new(),
    };
    let started = Instant::now();
    let mut running = JoinSet::new();
    for customer in customers {
        let (api, permits, url) = (api.clone(), Arc::clone(&permits), url.clone());
        running.spawn(async move {
            // The semaphore is never closed, so this always holds a permit.
            let _permit = permits.acquire_owned().await;
            let sent = Instant::now();
            let answer = api.send(Method::POST, &url, &customer.token, &json!({})).await;
            (customer.email, answer, sent.elapsed())
        });
    }
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok((_, Ok((status, body)), elapsed)) => tally.answer(product, status, &body, elapsed),
            Ok((email, Err(e), _)) => {
                tally.recorder.transport_error(|| format!("POST {url} as {email}: {}", error::chain(&e)));
            }
            Err(e) => tally.recorder.transport_error(|| format!("checkout task failed: {e}")),
        }
    }
    (tally, started.elapsed())
}

/// GET /products/{id}/ → its exact `stock` (a detail read is never cached).
async fn stock_of(api: &Api, product: i64) -> Result<i64> {
    let url = api.url(&format!("/products/{product}/"));
    let (status, body) =
        api.get(&url).await.map_err(|e| BenchError::new(format!("GET {url}: {}", error::chain(&e))))?;
    let stock = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("stock").and_then(Value::as_i64));
    match (status, stock) {
        (200, Some(stock)) => Ok(stock),
        _ => Err(BenchError::new(format!("GET {url} answered {status}, no integer \"stock\": {}", excerpt(&body)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        // Exactly the stock sold, none left: the good outcome.
        assert_eq!(Verdict::new(100, 100, 0), Verdict { oversold: 0, stock_conserved: true });
        // Fewer sold (e.g. buyers with other errors), still conserved.
        assert_eq!(Verdict::new(100, 97, 3), Verdict { oversold: 0, stock_conserved: true });
        // More orders than units, the stock clamped at zero: oversold and not conserved.
        assert_eq!(Verdict::new(100, 103, 0), Verdict { oversold: 3, stock_conserved: false });
        // Stock below zero: oversold even though the books balance.
        assert_eq!(Verdict::new(100, 102, -2), Verdict { oversold: 2, stock_conserved: true });
        // Units gone without orders (or orders without units): not conserved.
        assert_eq!(Verdict::new(100, 90, 0), Verdict { oversold: 0, stock_conserved: false });
        assert_eq!(Verdict::new(100, 100, 5), Verdict { oversold: 0, stock_conserved: false });
        assert_eq!(Verdict::new(100, 0, i64::MIN).oversold, 0, "no overflow on absurd stock");
        assert_eq!(Verdict::new(100, 100, 0).failures(), 0);
        assert_eq!(Verdict::new(100, 103, 0).failures(), 2);
        assert_eq!(Verdict::new(100, 90, 0).failures(), 1);
    }

    #[test]
    fn answers_are_sorted_and_checked() {
        let mut tally =
            Tally { recorder: Recorder::default(), orders: 0, insufficient_stock: 0, other_statuses: BTreeMap::new() };
        let order = json!({"id": 1, "status": "pending", "total_price": "25.00",
            "items": [{"product": 7, "quantity": 1, "unit_price": "25.00", "line_total": "25.00"}]});
        let ms = Duration::from_millis(1);
        tally.answer(7, 201, order.to_string().as_bytes(), ms);
        tally.answer(7, 409, br#"{"detail": "Not enough stock", "code": "insufficient_stock", "products": [7]}"#, ms);
        tally.answer(7, 409, br#"{"code": "idempotency_key_in_flight"}"#, ms);
        tally.answer(7, 503, br#"{"detail": "down"}"#, ms);
        tally.answer(8, 201, order.to_string().as_bytes(), ms);
        assert_eq!((tally.orders, tally.insufficient_stock), (2, 1));
        assert_eq!(tally.other_statuses, BTreeMap::from([(409, 1), (503, 1)]));
        let report = Report::new(NAME, "t", IN_FLIGHT, 0, Duration::from_secs(1), tally.recorder);
        // The odd 409 and the order of another product are mismatches; the 503 a server error.
        assert_eq!((report.mismatches, report.server_errors, report.errors), (2, 1, 3));
    }
}
