//! `pay`: the asynchronous payment path end to end. Setup as for
//! `checkout-spread` (up to 200 seeded products restocked, `--customers`
//! customers dealt out to `--clients` workers). Then each worker loops over
//! its customers until `--duration`: 1 random product into the cart, a
//! checkout, a payment initiated and completed through the sandbox provider,
//! and `GET /orders/{id}/` every 20 ms until the order is `paid` (10 s at
//! most). The headline is the async payment latency: sandbox/complete sent →
//! `paid` first seen. Every status other than the expected one is an error.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::checkout;
use crate::checks;
use crate::client::Api;
use crate::customers::Customer;
use crate::error::{self, Result};
use crate::rng::Rng;
use crate::scenarios::excerpt;
use crate::seed::Catalog;
use crate::stats::{self, Recorder, Report};

pub const NAME: &str = "pay";
/// Time between the starts of two polls of an order.
const POLL_EVERY: Duration = Duration::from_millis(20);
/// An order not seen `paid` this long after sandbox/complete was sent is an error.
const PAID_WITHIN: Duration = Duration::from_secs(10);
/// Hard cap on rounds (one paid order each) per worker, whatever the duration.
const MAX_ROUNDS_PER_WORKER: u64 = 1_000_000;
/// Error samples of a worker's own (not paid in time, unexpected statuses).
const MAX_SAMPLES: usize = 10;

/// The requests of one round, for the error labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    CartAdd,
    Create,
    Initiate,
    Complete,
    Poll,
}

impl Step {
    fn label(self) -> &'static str {
        match self {
            Step::CartAdd => "POST /carts/items/",
            Step::Create => "POST /orders/create/",
            Step::Initiate => "POST /payments/initiate/",
            Step::Complete => "POST /payments/{id}/sandbox/complete/",
            Step::Poll => "GET /orders/{id}/",
        }
    }
}

/// How an answer's status is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Expected,
    /// 401: the access token expired; log in again (not an error).
    Relogin,
    /// 5xx: an error, counted by the recorder.
    ServerError,
    /// Any other status: an error of this scenario.
    Unexpected,
}

fn judge(status: u16, expected: &[u16]) -> Outcome {
    match status {
        _ if expected.contains(&status) => Outcome::Expected,
        401 => Outcome::Relogin,
        500.. => Outcome::ServerError,
        _ => Outcome::Unexpected,
    }
}

/// What a poll of the order said.
#[derive(Debug, PartialEq, Eq)]
enum Polled {
    Pending,
    Paid,
}

/// Checks a 200 of GET /orders/{id}/ while waiting for the payment: the same
/// order, still `pending` or now `paid` with a `succeeded` payment.
fn poll_state(body: &[u8], order: i64) -> std::result::Result<Polled, String> {
    let body: Value = serde_json::from_slice(body).map_err(|e| format!("order {order}: not an order: {e}"))?;
    if body.get("id").and_then(Value::as_i64) != Some(order) {
        return Err(format!("GET of order {order} answered another id: {}", field(&body, "id")));
    }
    match body.get("status").and_then(Value::as_str) {
        Some("pending") => Ok(Polled::Pending),
        Some("paid") if body.get("payment_status").and_then(Value::as_str) == Some("succeeded") => Ok(Polled::Paid),
        Some("paid") => Err(format!(
            "order {order} is paid but its payment_status is {}, not \"succeeded\"",
            field(&body, "payment_status")
        )),
        _ => Err(format!("order {order} is {} while waiting for it to be paid", field(&body, "status"))),
    }
}

/// Checks a 201 of POST /payments/initiate/: a `pending` sandbox payment of
/// `order` for its total. Returns the payment's id.
fn check_payment(body: &[u8], order: i64, total_cents: i64) -> std::result::Result<i64, String> {
    let body: Value = serde_json::from_slice(body).map_err(|e| format!("order {order}: not a payment: {e}"))?;
    let id = body.get("id").and_then(Value::as_i64).ok_or_else(|| format!("order {order}: payment without an id"))?;
    if body.get("order").and_then(Value::as_i64) != Some(order) {
        return Err(format!("payment {id}: of order {}, not {order}", field(&body, "order")));
    }
    if body.get("status").and_then(Value::as_str) != Some("pending") {
        return Err(format!("payment {id}: a new payment is {}, not \"pending\"", field(&body, "status")));
    }
    if body.get("amount").and_then(Value::as_str).and_then(checks::cents) != Some(total_cents) {
        return Err(format!(
            "payment {id}: amount {} is not the order's total {}",
            field(&body, "amount"),
            money(total_cents)
        ));
    }
    if body.get("provider").and_then(Value::as_str) != Some("sandbox") {
        return Err(format!("payment {id}: provider {}: this scenario needs the sandbox", field(&body, "provider")));
    }
    Ok(id)
}

/// The `total_price` of an order (already checked by [`checks::check_order`]), in cents.
fn order_total(body: &[u8]) -> std::result::Result<i64, String> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|order| order.get("total_price")?.as_str().and_then(checks::cents))
        .ok_or_else(|| "order without a valid total_price".to_owned())
}

/// A field of an answer for a message (`missing` when absent).
fn field(body: &Value, name: &str) -> String {
    body.get(name).map_or_else(|| "missing".to_owned(), Value::to_string)
}

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The figures of the scenario beyond the common ones (which are the paid
/// orders and their async payment latency).
#[derive(Debug, Serialize)]
struct Figures {
    customers: usize,
    products: usize,
    /// Checkouts answered 201.
    orders: u64,
    orders_paid: u64,
    paid_per_s: f64,
    async_p50_ms: f64,
    async_p95_ms: f64,
    async_p99_ms: f64,
    async_max_ms: f64,
    total_p50_ms: f64,
    total_p99_ms: f64,
    /// Every HTTP request of the rounds (cart adds, checkouts, payments, polls).
    calls: u64,
    polls: u64,
    not_paid_in_time: u64,
    /// `"<request> <status>"` → count, for statuses neither expected, 401 nor 5xx.
    unexpected_statuses: BTreeMap<String, u64>,
}

/// What one worker measured.
struct Tally {
    /// One 200 per paid order: sandbox/complete sent → `paid` seen.
    async_latency: Recorder,
    /// One 200 per paid order: checkout sent → `paid` seen.
    total: Recorder,
    /// Every HTTP request (statuses, 5xx, transport errors, mismatches).
    calls: Recorder,
    orders: u64,
    polls: u64,
    not_paid_in_time: u64,
    unexpected: BTreeMap<String, u64>,
    samples: Vec<String>,
}

impl Tally {
    fn new() -> Self {
        Self {
            async_latency: Recorder::with_capacity(1024),
            total: Recorder::with_capacity(1024),
            calls: Recorder::with_capacity(16_384),
            orders: 0,
            polls: 0,
            not_paid_in_time: 0,
            unexpected: BTreeMap::new(),
            samples: Vec::new(),
        }
    }

    fn sample(&mut self, describe: impl FnOnce() -> String) {
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(describe());
        }
    }

    fn unexpected_status(&mut self, step: Step, status: u16, body: &[u8]) {
        *self.unexpected.entry(format!("{} {status}", step.label())).or_default() += 1;
        self.sample(|| format!("{} answered {status}: {}", step.label(), excerpt(body)));
    }

    fn merge(&mut self, other: Tally) {
        self.async_latency.merge(other.async_latency);
        self.total.merge(other.total);
        self.calls.merge(other.calls);
        self.orders += other.orders;
        self.polls += other.polls;
        self.not_paid_in_time += other.not_paid_in_time;
        for (key, n) in other.unexpected {
            *self.unexpected.entry(key).or_default() += n;
        }
        let room = MAX_SAMPLES.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
    }
}

/// Sets up and runs the scenario with `workers` workers and `customers` customers.
/// A setup step that fails stops the run (an error); the run itself is reported.
pub async fn run(api: &Api, catalog: &Catalog, workers: usize, customers: usize, duration: Duration) -> Result<Report> {
    let tag = &catalog.tag;
    let checkout::Setup { products, groups } = checkout::prepare(api, catalog, NAME, "p", workers, customers).await?;
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
            Err(e) => tally.calls.transport_error(|| format!("worker task failed: {e}")),
        }
    }
    let elapsed = started.elapsed();
    Ok(report(tally, tag, workers, duration, elapsed, (customers, products_used)))
}

/// The report of a finished run: the common figures are the paid orders and
/// their async payment latency; the requests' errors, the orders not paid in
/// time and the unexpected statuses are its errors.
fn report(
    tally: Tally,
    tag: &str,
    workers: usize,
    duration: Duration,
    elapsed: Duration,
    (customers, products): (usize, usize),
) -> Report {
    let Tally { async_latency, total, calls, orders, polls, not_paid_in_time, unexpected, samples } = tally;
    let mut report = Report::new(NAME, tag, workers, duration.as_secs(), elapsed, async_latency);
    let total = Report::new(NAME, tag, workers, duration.as_secs(), elapsed, total);
    let calls = Report::new(NAME, tag, workers, duration.as_secs(), elapsed, calls);
    let unexpected_count = unexpected.values().sum::<u64>();
    let notes = vec![
        format!(
            "orders paid {} of {orders} placed = {:.1} paid orders/s (requests, req/s and latencies above: the paid \
             orders and their async payment latency, sandbox/complete sent -> paid seen, polled every {} ms)",
            report.requests,
            report.rps,
            POLL_EVERY.as_millis()
        ),
        format!("checkout -> paid: p50 {:.3} ms  p99 {:.3} ms", total.p50_ms, total.p99_ms),
        format!("HTTP requests {} ({polls} polls), non-2xx: {}", calls.requests, stats::statuses(&calls.non_2xx)),
        format!("not paid within {} s: {not_paid_in_time}", PAID_WITHIN.as_secs()),
        format!(
            "unexpected statuses: {}",
            if unexpected.is_empty() {
                "none".to_owned()
            } else {
                unexpected.iter().map(|(k, n)| format!("{k} x{n}")).collect::<Vec<_>>().join(", ")
            }
        ),
    ];
    let figures = Figures {
        customers,
        products,
        orders,
        orders_paid: report.requests,
        paid_per_s: report.rps,
        async_p50_ms: report.p50_ms,
        async_p95_ms: report.p95_ms,
        async_p99_ms: report.p99_ms,
        async_max_ms: report.max_ms,
        total_p50_ms: total.p50_ms,
        total_p99_ms: total.p99_ms,
        calls: calls.requests,
        polls,
        not_paid_in_time,
        unexpected_statuses: unexpected,
    };
    report.non_2xx = calls.non_2xx.clone();
    report.absorb_errors(calls);
    report.errors += not_paid_in_time + unexpected_count;
    let room = MAX_SAMPLES.saturating_sub(report.samples.len());
    report.samples.extend(samples.into_iter().take(room));
    report.attach(&figures, notes);
    report
}

/// The fixed URLs of a round.
struct Urls {
    cart: String,
    create: String,
    initiate: String,
}

/// One worker: its customers in turn, each paying for one order of one
/// random product, until the deadline (a round under way finishes).
async fn worker(
    api: Api,
    products: Arc<Vec<i64>>,
    mut customers: Vec<Customer>,
    deadline: Instant,
    stream: u64,
) -> Tally {
    let mut rng = Rng::from_clock(stream);
    let mut tally = Tally::new();
    // Whether each customer's cart is known to be empty (false after a lost answer).
    let mut empty = vec![true; customers.len()];
    let urls = Urls {
        cart: api.url("/carts/items/"),
        create: api.url("/orders/create/"),
        initiate: api.url("/payments/initiate/"),
    };
    let mut round: u64 = 0;
    while round < MAX_ROUNDS_PER_WORKER && Instant::now() < deadline {
        let slot = (round % customers.len().max(1) as u64) as usize;
        round += 1;
        let (Some(customer), Some(empty), Some(&product)) =
            (customers.get_mut(slot), empty.get_mut(slot), rng.pick(&products))
        else {
            break;
        };
        pay_one(&api, &urls, customer, empty, product, &mut tally).await;
    }
    tally
}

/// One round: 1 unit of `product` into the cart, checkout, initiate, sandbox
/// complete, then polls until `paid`. Stops at the first failed step (counted).
async fn pay_one(api: &Api, urls: &Urls, customer: &mut Customer, empty: &mut bool, product: i64, tally: &mut Tally) {
    let known = *empty;
    *empty = false;
    let body = json!({"product": product, "quantity": 1});
    let expected: &[u16] = if known { &[201] } else { &[200, 201] };
    let Some(answer) = call(api, tally, customer, Step::CartAdd, &urls.cart, Some(&body), expected).await else {
        return;
    };
    if let Err(mismatch) = checks::check_cart_line(&answer, product, known.then_some(1)) {
        tally.calls.mismatch(|| format!("POST {} {body}: {mismatch}", urls.cart));
        return;
    }

    let checkout_sent = Instant::now();
    let Some(answer) = call(api, tally, customer, Step::Create, &urls.create, Some(&json!({})), &[201]).await else {
        return;
    };
    tally.orders += 1;
    let cart = known.then(|| BTreeMap::from([(product, 1)]));
    let (order, total) =
        match checks::check_order(&answer, cart.as_ref()).and_then(|id| Ok((id, order_total(&answer)?))) {
            Ok(order) => order,
            Err(mismatch) => {
                tally.calls.mismatch(|| format!("POST {} as {}: {mismatch}", urls.create, customer.email));
                return;
            }
        };
    // The order took the whole cart.
    *empty = true;

    let body = json!({"order_id": order});
    let Some(answer) = call(api, tally, customer, Step::Initiate, &urls.initiate, Some(&body), &[201]).await else {
        return;
    };
    let payment = match check_payment(&answer, order, total) {
        Ok(payment) => payment,
        Err(mismatch) => {
            tally.calls.mismatch(|| format!("POST {} {body}: {mismatch}", urls.initiate));
            return;
        }
    };

    let url = api.url(&format!("/payments/{payment}/sandbox/complete/"));
    let body = json!({"outcome": "succeeded"});
    let complete_sent = Instant::now();
    if call(api, tally, customer, Step::Complete, &url, Some(&body), &[202]).await.is_none() {
        return;
    }

    let url = api.url(&format!("/orders/{order}/"));
    let give_up = complete_sent + PAID_WITHIN;
    loop {
        let polled = Instant::now();
        tally.polls += 1;
        let Some(answer) = call(api, tally, customer, Step::Poll, &url, None, &[200]).await else {
            return;
        };
        match poll_state(&answer, order) {
            Ok(Polled::Paid) => {
                let seen = Instant::now();
                tally.async_latency.response(200, seen - complete_sent, String::new);
                tally.total.response(200, seen - checkout_sent, String::new);
                return;
            }
            Ok(Polled::Pending) => {}
            Err(mismatch) => {
                tally.calls.mismatch(|| format!("GET {url}: {mismatch}"));
                return;
            }
        }
        let next = polled + POLL_EVERY;
        if next >= give_up {
            tally.not_paid_in_time += 1;
            tally.sample(|| {
                format!("order {order} (payment {payment}) not paid in time: still pending after {:?}", PAID_WITHIN)
            });
            return;
        }
        tokio::time::sleep_until(next.into()).await;
    }
}

/// One timed request of a round as `customer` (a GET when `body` is `None`),
/// recorded in `tally.calls`; the body when the status is one of `expected`.
/// A 401 logs the customer in again; any other status is counted as unexpected.
async fn call(
    api: &Api,
    tally: &mut Tally,
    customer: &mut Customer,
    step: Step,
    url: &str,
    body: Option<&Value>,
    expected: &[u16],
) -> Option<Vec<u8>> {
    let started = Instant::now();
    let sent = match body {
        Some(body) => api.send(Method::POST, url, &customer.token, body).await,
        None => api.get_as(url, &customer.token).await,
    };
    let (status, answer) = match sent {
        Ok(reply) => reply,
        Err(e) => {
            tally
                .calls
                .transport_error(|| format!("{} ({url}) as {}: {}", step.label(), customer.email, error::chain(&e)));
            return None;
        }
    };
    tally.calls.response(status, started.elapsed(), || {
        format!("{} ({url}) answered {status}: {}", step.label(), excerpt(&answer))
    });
    match judge(status, expected) {
        Outcome::Expected => return Some(answer),
        Outcome::Relogin => checkout::relogin(api, customer, &mut tally.calls).await,
        Outcome::ServerError => {}
        Outcome::Unexpected => tally.unexpected_status(step, status, &answer),
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_judged() {
        assert_eq!(judge(201, &[201]), Outcome::Expected);
        assert_eq!(judge(200, &[200, 201]), Outcome::Expected);
        assert_eq!(judge(200, &[201]), Outcome::Unexpected, "initiate must create a new payment");
        assert_eq!(judge(409, &[201]), Outcome::Unexpected);
        assert_eq!(judge(404, &[202]), Outcome::Unexpected);
        assert_eq!(judge(401, &[200]), Outcome::Relogin);
        assert_eq!(judge(503, &[200]), Outcome::ServerError);
        assert_eq!(judge(500, &[202]), Outcome::ServerError);
    }

    #[test]
    fn polls_see_pending_paid_or_a_mismatch() {
        let poll = |v: Value| poll_state(v.to_string().as_bytes(), 7);
        assert_eq!(poll(json!({"id": 7, "status": "pending", "payment_status": "pending"})), Ok(Polled::Pending));
        assert_eq!(poll(json!({"id": 7, "status": "pending", "payment_status": null})), Ok(Polled::Pending));
        assert_eq!(poll(json!({"id": 7, "status": "paid", "payment_status": "succeeded"})), Ok(Polled::Paid));
        assert!(poll(json!({"id": 7, "status": "paid", "payment_status": "pending"})).is_err());
        assert!(poll(json!({"id": 7, "status": "cancelled", "payment_status": "succeeded"})).is_err());
        assert!(poll(json!({"id": 8, "status": "paid", "payment_status": "succeeded"})).is_err());
        assert!(poll(json!({"id": 7})).is_err());
        assert!(poll_state(b"<html>", 7).is_err());
    }

    #[test]
    fn payments_are_checked() {
        let payment = |v: Value| check_payment(v.to_string().as_bytes(), 7, 2468);
        let good = json!({"id": 3, "order": 7, "status": "pending", "amount": "24.68", "provider": "sandbox"});
        assert_eq!(payment(good.clone()), Ok(3));
        for (key, bad) in [
            ("id", json!("3")),
            ("order", json!(8)),
            ("status", json!("succeeded")),
            ("amount", json!("24.69")),
            ("amount", json!(24.68)),
            ("provider", json!("stripe")),
        ] {
            let mut body = good.clone();
            body[key] = bad;
            assert!(payment(body.clone()).is_err(), "{body}");
        }
        assert!(check_payment(b"", 7, 2468).is_err());
    }

    #[test]
    fn order_totals_and_money() {
        assert_eq!(order_total(br#"{"total_price": "24.68"}"#), Ok(2468));
        assert!(order_total(br#"{"total_price": 24.68}"#).is_err());
        assert!(order_total(b"{}").is_err());
        assert_eq!(money(2468), "24.68");
        assert_eq!(money(5), "0.05");
    }

    #[test]
    fn report_counts_every_kind_of_error() {
        let ms = Duration::from_millis;
        let mut a = Tally::new();
        a.orders = 3;
        a.async_latency.response(200, ms(40), String::new);
        a.total.response(200, ms(90), String::new);
        a.calls.response(201, ms(5), String::new);
        a.calls.response(503, ms(5), || "down".to_owned());
        a.not_paid_in_time = 1;
        a.sample(|| "order 1 not paid in time".to_owned());
        let mut b = Tally::new();
        b.orders = 2;
        b.polls = 4;
        b.async_latency.response(200, ms(60), String::new);
        b.total.response(200, ms(110), String::new);
        b.calls.transport_error(|| "reset".to_owned());
        b.calls.response(409, ms(5), String::new);
        b.unexpected_status(Step::Create, 409, b"{}");
        a.merge(b);
        let report = report(a, "t", 2, Duration::from_secs(1), Duration::from_secs(2), (8, 30));
        assert_eq!((report.requests, report.rps, report.p50_ms, report.max_ms), (2, 1.0, 40.0, 60.0));
        assert_eq!(report.non_2xx, BTreeMap::from([(409, 1), (503, 1)]));
        // 5xx + transport error + not paid in time + unexpected 409.
        assert_eq!((report.server_errors, report.transport_errors, report.errors), (1, 1, 4));
        assert_eq!(report.samples.len(), 4);
        let json = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(
            (json["scenario"].as_str(), json["orders"].as_u64(), json["orders_paid"].as_u64()),
            (Some("pay"), Some(5), Some(2))
        );
        assert_eq!((json["total_p50_ms"].as_f64(), json["total_p99_ms"].as_f64()), (Some(90.0), Some(110.0)));
        assert_eq!(
            (json["calls"].as_u64(), json["polls"].as_u64(), json["not_paid_in_time"].as_u64()),
            (Some(4), Some(4), Some(1))
        );
        assert_eq!(json["unexpected_statuses"]["POST /orders/create/ 409"].as_u64(), Some(1));
    }
}
