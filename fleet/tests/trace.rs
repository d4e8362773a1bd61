//! One trace across every hop (DESIGN §9): a client's checkout and payment,
//! sent under one client-chosen `traceparent`, leave one trace in which
//! the gateway's request spans, the services' gRPC server spans, their SQL
//! spans, the outbox relay's publish spans, the event consumers' spans and
//! the sandbox provider's webhook all hang together. Spans are exported to
//! an in-process exporter: this binary installs its own subscriber.
mod support;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use common::cases;
use common::telemetry::Telemetry;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use serde_json::json;
use support::Ctx;

/// Every span this process exported.
#[derive(Debug, Clone, Default)]
struct Collected(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collected {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend(batch);
        std::future::ready(Ok(()))
    }
}

static TELEMETRY: OnceLock<(Telemetry, Collected)> = OnceLock::new();

fn main() -> ExitCode {
    let spans = Collected::default();
    // Installed first, so the suite's own `telemetry::init_with_filter`
    // finds a subscriber in place and leaves it.
    match common::telemetry::init_with_exporter("trace", "warn,sqlx=error", spans.clone()) {
        Ok(telemetry) => {
            let _ = TELEMETRY.set((telemetry, spans));
        }
        Err(e) => {
            eprintln!("telemetry: {e}");
            return ExitCode::FAILURE;
        }
    }
    support::run_suite("trace", cases![Ctx; one_checkout_and_payment_is_one_trace], |_| {})
}

/// The spans of `trace_id` exported so far, after exporting every ended one.
async fn spans_of(trace_id: &str) -> Vec<SpanData> {
    let Some((telemetry, collected)) = TELEMETRY.get() else { panic!("telemetry is installed in main") };
    tokio::task::spawn_blocking(|| telemetry.flush()).await.expect("flush");
    let all = collected.0.lock().unwrap_or_else(PoisonError::into_inner);
    all.iter().filter(|s| s.span_context.trace_id().to_string() == trace_id).cloned().collect()
}

/// One trace's spans by id, read like a tree.
struct Trace {
    spans: HashMap<String, SpanData>,
    /// The client's own span, parent of the gateway's first spans.
    root: String,
}

impl Trace {
    fn new(spans: Vec<SpanData>, root: &str) -> Self {
        let spans = spans.into_iter().map(|s| (s.span_context.span_id().to_string(), s)).collect();
        Self { spans, root: root.to_owned() }
    }

    fn parent(&self, span: &SpanData) -> Option<&SpanData> {
        self.spans.get(&span.parent_span_id.to_string())
    }

    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a SpanData> + 'a {
        self.spans.values().filter(move |s| s.name == name)
    }

    /// Spans whose parent is neither in the trace nor the client's span.
    fn orphans(&self) -> Vec<String> {
        self.spans
            .values()
            .filter(|s| s.parent_span_id.to_string() != self.root && self.parent(s).is_none())
            .map(|s| s.name.to_string())
            .collect()
    }

    /// Whether some span `child` has a span `parent` as its parent.
    fn has_link(&self, child: &str, parent: &str) -> bool {
        self.named(child).any(|s| self.parent(s).is_some_and(|p| p.name == parent))
    }

    /// gRPC server spans whose parent is not the client span of the same
    /// call (the caller's attempt, which carried its context).
    fn servers_without_their_client(&self) -> Vec<String> {
        let kind = |s: &SpanData| format!("{:?}", s.span_kind);
        let rpc = |s: &SpanData| s.attributes.iter().any(|kv| kv.key.as_str() == "rpc.system");
        self.spans
            .values()
            .filter(|s| kind(s) == "Server" && rpc(s))
            .filter(|s| !self.parent(s).is_some_and(|p| kind(p) == "Client" && p.name == s.name))
            .map(|s| s.name.to_string())
            .collect()
    }

    /// Whether some span `child` has the client's span as its parent.
    fn starts_at_client(&self, child: &str) -> bool {
        self.named(child).any(|s| s.parent_span_id.to_string() == self.root)
    }

    /// Whether some span `name` has attribute `key` equal to `value`.
    fn has_attribute(&self, name: &str, key: &str, value: &str) -> bool {
        self.named(name).any(|s| s.attributes.iter().any(|kv| kv.key.as_str() == key && kv.value.as_str() == value))
    }

    fn is_sql(span: &SpanData) -> bool {
        span.attributes.iter().any(|kv| kv.key.as_str() == "db.system")
    }

    /// The tree, one span a line (kind, name), children by start time.
    fn render(&self) -> String {
        let mut children: HashMap<String, Vec<&SpanData>> = HashMap::new();
        for span in self.spans.values() {
            let parent = span.parent_span_id.to_string();
            let parent = if self.spans.contains_key(&parent) { parent } else { self.root.clone() };
            children.entry(parent).or_default().push(span);
        }
        for list in children.values_mut() {
            list.sort_by_key(|s| s.start_time);
        }
        let mut out = String::new();
        self.render_under(&self.root, 1, &children, &mut out);
        out
    }

    fn render_under(&self, id: &str, depth: usize, children: &HashMap<String, Vec<&SpanData>>, out: &mut String) {
        for span in children.get(id).into_iter().flatten() {
            let kind =
                if Self::is_sql(span) { "sql".to_owned() } else { format!("{:?}", span.span_kind).to_lowercase() };
            out.push_str(&format!("{}{kind:<9}{}\n", "  ".repeat(depth), span.name));
            self.render_under(&span.span_context.span_id().to_string(), depth + 1, children, out);
        }
    }
}

/// Parent links the trace must show, child first.
const LINKS: &[(&str, &str)] = &[
    // The checkout: gateway -> order -> catalog, with the SQL of each.
    ("marketplace.order.v1.Order/PlaceOrder", "POST /orders/create/"),
    ("marketplace.catalog.v1.Catalog/GetProducts", "marketplace.order.v1.Order/PlaceOrder"),
    ("catalog.products_by_ids", "marketplace.catalog.v1.Catalog/GetProducts"),
    ("order.place_order", "marketplace.order.v1.Order/PlaceOrder"),
    // OrderPlaced: enqueued by that SQL, published, consumed by cart and
    // analytics (payment does not act on it: acknowledged, no span).
    ("order publish OrderPlaced", "order.place_order"),
    ("cart process OrderPlaced", "order publish OrderPlaced"),
    ("analytics process OrderPlaced", "order publish OrderPlaced"),
    ("analytics.record_placed", "analytics process OrderPlaced"),
    // The payment: initiate, then the sandbox's webhook back through the gateway.
    ("marketplace.payment.v1.Payment/InitiatePayment", "POST /payments/initiate/"),
    ("marketplace.order.v1.Order/GetOrder", "marketplace.payment.v1.Payment/InitiatePayment"),
    ("payment.open", "marketplace.payment.v1.Payment/InitiatePayment"),
    ("marketplace.payment.v1.Payment/CompleteSandboxPayment", "POST /payments/{id}/sandbox/complete/"),
    ("sandbox webhook payment_intent.succeeded", "marketplace.payment.v1.Payment/CompleteSandboxPayment"),
    ("POST /payments/webhook/", "sandbox webhook payment_intent.succeeded"),
    ("marketplace.payment.v1.Payment/HandleWebhook", "POST /payments/webhook/"),
    ("payment.apply", "marketplace.payment.v1.Payment/HandleWebhook"),
    // PaymentSucceeded: enqueued by that SQL, published, consumed by order and analytics.
    ("payment publish PaymentSucceeded", "payment.apply"),
    ("order process PaymentSucceeded", "payment publish PaymentSucceeded"),
    ("order.mark_paid_in", "order process PaymentSucceeded"),
    ("analytics process PaymentSucceeded", "payment publish PaymentSucceeded"),
    ("analytics.record_paid", "analytics process PaymentSucceeded"),
];

/// Requests the client sent, whose spans must continue its span.
const CLIENT_REQUESTS: &[&str] = &[
    "POST /users/register/",
    "POST /products/",
    "POST /carts/items/",
    "POST /orders/create/",
    "POST /payments/initiate/",
    "POST /payments/{id}/sandbox/complete/",
];

async fn one_checkout_and_payment_is_one_trace(ctx: Arc<Ctx>) {
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let client_span = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
    let api = ctx.api().traced(&format!("00-{trace_id}-{client_span}-01"));
    let customer = api.user("customer").await;
    let (vendor, _) = api.approved_vendor().await;
    let product = api.product(&vendor, json!({"price": "12.34", "stock": 3})).await;
    api.post("/carts/items/", Some(&customer.access), json!({"product": product["id"], "quantity": 2}))
        .await
        .expect(201);
    let order = api.post("/orders/create/", Some(&customer.access), json!({})).await.expect(201);
    let payment = api.post("/payments/initiate/", Some(&customer.access), json!({"order_id": order["id"]})).await;
    let payment = payment.expect(201);
    let complete = format!("/payments/{}/sandbox/complete/", payment["id"]);
    api.post(&complete, Some(&customer.access), json!({"outcome": "succeeded"})).await.expect(202);

    // Waiting is not part of the checkout: an untraced client polls.
    let poll = ctx.api();
    let admin = poll.admin().await;
    let order_path = format!("/orders/{}/", order["id"]);
    eventually(|| async { poll.get(&order_path, Some(&customer.access)).await.expect(200)["status"] == "paid" }).await;
    eventually(|| async { poll.get("/analytics/summary/", Some(&admin.access)).await.expect(200)["paid_orders"] == 1 })
        .await;

    // Consumers end their spans after COMMIT and XACK: wait for the
    // whole trace to be exported.
    let started = Instant::now();
    let trace = loop {
        let trace = Trace::new(spans_of(&trace_id).await, &client_span);
        let complete = LINKS.iter().all(|(child, parent)| trace.has_link(child, parent))
            && CLIENT_REQUESTS.iter().all(|name| trace.starts_at_client(name))
            && trace.orphans().is_empty();
        if complete || started.elapsed() > Duration::from_secs(15) {
            break trace;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    println!("\ntrace {trace_id}: {} spans under the client's span {client_span}", trace.spans.len());
    print!("{}", trace.render());
    let sql = trace.spans.values().filter(|s| Trace::is_sql(s)).count();
    println!("({sql} of them SQL spans)\n");

    for (child, parent) in LINKS {
        assert!(trace.has_link(child, parent), "no span {child:?} under {parent:?}");
    }
    for name in CLIENT_REQUESTS {
        assert!(trace.starts_at_client(name), "no request span {name:?} under the client's span");
    }
    assert_eq!(trace.orphans(), Vec::<String>::new(), "spans whose parent is not in the trace");
    assert_eq!(trace.servers_without_their_client(), Vec::<String>::new(), "server spans not under their call");
    assert!(trace.has_attribute("POST /orders/create/", "http.response.status_code", "201"));
    assert!(trace.has_attribute("marketplace.order.v1.Order/PlaceOrder", "rpc.grpc.status_code", "0"));
    assert!(trace.has_attribute("order.place_order", "db.system", "mysql"));
}

/// Polls `check` until it holds (events take a moment), for up to 10 s.
async fn eventually<F, Fut>(check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the order was never paid and seen by analytics");
}
