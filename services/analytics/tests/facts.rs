//! Analytics over real gRPC against the real MariaDB and Redis, with a
//! real identity beside it for tokens. No order or payment service runs:
//! the test plays both producers, writing their events into an outbox
//! (kept in the analytics test schema) that a real relay publishes to the
//! "order" and "payment" streams the service consumes. Each case works in
//! date windows of its own and with its own order and vendor ids, so the
//! cases run side by side and each still checks exact figures.
//!
//! The figures are checked against an oracle computed here, in integer
//! cents, from the same random orders the events were made of.
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use analytics::events::{OrderEvents, PaymentEvents};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use common::cases;
use common::config::Infra;
use common::events::{Handler, OUTBOX_BINARY_DDL, OUTBOX_DDL, Relay, outbox};
use common::grpc_client::ServiceChannel;
use common::shutdown::CancellationToken;
use common::{ApiError, ErrorKind};
use proto::analytics::v1 as pb;
use proto::analytics::v1::analytics_client::AnalyticsClient;
use proto::identity::v1 as id_pb;
use proto::identity::v1::identity_client::IdentityClient;
use proto::order::v1::{self as order_pb, order_event};
use proto::payment::v1::{self as payment_pb, payment_event};
use sqlx::{MySql, MySqlPool, QueryBuilder};
use tokio::sync::Notify;

const PASSWORD: &str = "Tr1cky-Horse-92";
/// Marker events, which change no figure, carry order ids from here up.
const MARKER_IDS: i64 = 9_000_000_000;

struct Ctx {
    analytics: ServiceChannel,
    identity: ServiceChannel,
    admin_email: String,
    /// The analytics test schema: the producers' outbox, and the
    /// consumer's `processed_events` the test waits on.
    db: MySqlPool,
    wake: Arc<Notify>,
    seed: u64,
}

fn main() -> ExitCode {
    common::testkit::service_suite(
        "analytics",
        &[identity::SCHEMA, analytics::SCHEMA],
        |infra, stop| async move {
            let ctx = start(&infra, &stop).await?;
            println!("random seed {} (set ANALYTICS_TEST_SEED to replay)", ctx.seed);
            Ok(ctx)
        },
        cases![Ctx;
            figures_match_the_orders_and_payments_to_the_cent,
            replaying_every_event_changes_nothing,
            events_in_reverse_order_give_the_same_figures,
            ranges_are_inclusive_utc_days_of_created_at,
            bad_dates_are_field_errors,
            only_admins_read_analytics,
        ],
        6,
    )
}

async fn start(infra: &Infra, stop: &CancellationToken) -> Result<Ctx, common::StartupError> {
    let (identity_addr, admin_email) = identity::serve_for_tests(infra, PASSWORD, stop.clone()).await?;

    let mut config = analytics::Config::from_env(infra.clone())?;
    config.identity_addr = identity_addr.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let analytics_addr = listener.local_addr()?.to_string();
    let service = analytics::start(&config).await?;
    tokio::spawn(service.serve(listener, stop.clone()));

    // The producers' side: an outbox and its relay, under the same prefix.
    let schema = infra.schema(analytics::SCHEMA);
    let db = common::db::connect(&infra.mysql_url, &schema, 8, &analytics::MIGRATOR).await?;
    for ddl in [OUTBOX_DDL, OUTBOX_BINARY_DDL] {
        sqlx::query(ddl).execute(&db).await.map_err(|e| common::StartupError::Database(e.to_string()))?;
    }
    let relay = Relay::new(db.clone(), infra.redis().await?, infra.schema_prefix.clone(), "test_producers");
    let wake = relay.notifier();
    tokio::spawn(relay.run(stop.clone()));

    let seed = std::env::var("ANALYTICS_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_nanos() as u64
    });
    Ok(Ctx {
        analytics: common::grpc_client::lazy_channel(&analytics_addr)?,
        identity: common::grpc_client::lazy_channel(&identity_addr)?,
        admin_email,
        db,
        wake,
        seed,
    })
}

// ---- calls ----

async fn call<T>(future: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>) -> Result<T, ApiError> {
    common::grpc_client::call(Duration::from_secs(10), future).await
}

fn authed<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    common::grpc_client::request(message, Duration::from_secs(10), token)
}

fn unique() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_nanos())
}

/// A `from`/`to` pair as the client sends it.
type Range<'a> = (Option<&'a str>, Option<&'a str>);

impl Ctx {
    fn analytics(&self) -> AnalyticsClient<ServiceChannel> {
        AnalyticsClient::new(self.analytics.clone())
    }

    fn identity(&self) -> IdentityClient<ServiceChannel> {
        IdentityClient::new(self.identity.clone())
    }

    async fn login(&self, email: &str) -> String {
        let request = id_pb::LoginRequest { email: Some(email.into()), password: Some(PASSWORD.into()) };
        call(self.identity().login(request)).await.expect("login").access
    }

    async fn admin(&self) -> String {
        self.login(&self.admin_email).await
    }

    async fn user(&self, role: &str) -> String {
        let email = format!("{role}-{}@example.com", unique());
        let request = id_pb::RegisterRequest {
            email: Some(email.clone()),
            password: Some(PASSWORD.into()),
            password_confirm: Some(PASSWORD.into()),
            role: Some(role.into()),
            ..Default::default()
        };
        call(self.identity().register(request)).await.expect("registered");
        self.login(&email).await
    }

    async fn summary(&self, token: Option<&str>, (from, to): Range<'_>) -> Result<pb::Summary, ApiError> {
        let request = pb::SummaryRequest { from: from.map(Into::into), to: to.map(Into::into) };
        call(self.analytics().get_summary(authed(request, token))).await
    }

    async fn vendors(
        &self,
        token: Option<&str>,
        (from, to): Range<'_>,
        limit: i64,
        offset: i64,
    ) -> Result<pb::VendorStatsPage, ApiError> {
        let request = pb::VendorStatsRequest { from: from.map(Into::into), to: to.map(Into::into), limit, offset };
        call(self.analytics().list_vendor_stats(authed(request, token))).await
    }

    /// Asserts both figures for `range` equal the oracle's for `orders`
    /// (the orders of the case; the range picks among them), the vendor
    /// list whole and as a page from its middle.
    async fn assert_figures(&self, token: &str, range: Range<'_>, orders: &[Order]) {
        let (summary, vendors) = expected(orders, range);
        assert_eq!(self.summary(Some(token), range).await.expect("summary"), summary, "seed {}", self.seed);
        let all = self.vendors(Some(token), range, 100, 0).await.expect("vendors");
        assert_eq!(all.count, vendors.len() as i64, "seed {}", self.seed);
        assert_eq!(all.vendors, vendors, "seed {}", self.seed);
        let page = self.vendors(Some(token), range, 3, 2).await.expect("page");
        assert_eq!(page.count, vendors.len() as i64);
        assert_eq!(page.vendors, vendors.iter().skip(2).take(3).cloned().collect::<Vec<_>>(), "seed {}", self.seed);
    }

    // ---- the producers ----

    /// Publishes `events` in this order (one marker per stream after
    /// them) and waits until analytics has applied every one it acts on
    /// (one it ignores leaves no row to wait for; the markers after it
    /// show it was read). Returns the events' ids.
    async fn deliver(&self, events: &[Sent]) -> Vec<String> {
        let mut tx = self.db.begin().await.expect("begin");
        let mut ids = Vec::with_capacity(events.len());
        let mut applied = Vec::with_capacity(events.len());
        for event in events {
            let (id, acted_on) = match event {
                Sent::Order(event) => (outbox::enqueue(&mut tx, event).await, OrderEvents.acts_on(event)),
                Sent::Payment(event) => (outbox::enqueue(&mut tx, event).await, PaymentEvents.acts_on(event)),
            };
            let id = id.expect("enqueued");
            if acted_on {
                applied.push(id.clone());
            }
            ids.push(id);
        }
        let markers = Self::enqueue_markers(&mut tx).await;
        tx.commit().await.expect("commit");
        self.wake.notify_one();
        self.await_consumed(&[&applied[..], &markers[..]].concat()).await;
        ids
    }

    /// Publishes the events `ids` again, under the same ids (what a relay
    /// that crashed before marking them does), and waits until analytics
    /// has read past them.
    async fn republish(&self, ids: &[String]) {
        let mut tx = self.db.begin().await.expect("begin");
        let mut reset = QueryBuilder::<MySql>::new("UPDATE outbox SET published_at = NULL WHERE event_id IN (");
        let mut list = reset.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        reset.push(")");
        let done = reset.build().execute(&mut *tx).await.expect("reset");
        assert_eq!(done.rows_affected(), ids.len() as u64);
        // After them in the streams: once consumed, so are the duplicates.
        let markers = Self::enqueue_markers(&mut tx).await;
        tx.commit().await.expect("commit");
        self.wake.notify_one();
        self.await_consumed(&markers).await;
    }

    /// One event per stream that analytics applies without a figure
    /// changing: the cancellation and the payment of an order never placed
    /// (it has no `created_at`, so no range holds it). Not a payment
    /// created: analytics does not act on it, so it leaves no
    /// `processed_events` row to wait for.
    async fn enqueue_markers(tx: &mut sqlx::Transaction<'_, MySql>) -> Vec<String> {
        static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(MARKER_IDS);
        let order_id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cancelled = order_event::Event::Cancelled(order_pb::OrderCancelled {
            order_id,
            total_price: "0.00".into(),
            ..Default::default()
        });
        let paid = payment_event::Event::Succeeded(payment_pb::PaymentRecord {
            order_id,
            amount: "0.00".into(),
            ..Default::default()
        });
        vec![outbox::enqueue(tx, &cancelled).await.expect("marker"), outbox::enqueue(tx, &paid).await.expect("marker")]
    }

    async fn await_consumed(&self, ids: &[String]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut count = QueryBuilder::<MySql>::new(
                "SELECT COUNT(*) FROM processed_events WHERE consumer = 'analytics' AND event_id IN (",
            );
            let mut list = count.separated(", ");
            for id in ids {
                list.push_bind(id);
            }
            count.push(")");
            let (consumed,): (i64,) = count.build_query_as().fetch_one(&self.db).await.expect("count");
            if consumed == ids.len() as i64 {
                return;
            }
            assert!(Instant::now() < deadline, "only {consumed} of {} events consumed", ids.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

// ---- the orders, their events, and the oracle ----

/// SplitMix64: reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What became of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Never paid (a payment may have failed).
    Pending,
    /// Paid (perhaps after a failed attempt).
    Paid,
    /// Paid, then refunded: cancelled, its payment refunded.
    Refunded,
    /// Its reservation expired unpaid: cancelled.
    Expired,
    /// Expired, then its payment succeeded anyway and was refunded.
    PaidAfterExpiry,
}

struct Line {
    product: i64,
    vendor: i64,
    vendor_name: String,
    quantity: i64,
    unit_cents: i64,
}

struct Order {
    id: i64,
    user: i64,
    /// As the producer wrote it (RFC 3339, any offset).
    created_at: String,
    lines: Vec<Line>,
    fate: Fate,
    failed_attempt: bool,
}

/// An event as the producers enqueue it.
#[derive(Clone)]
enum Sent {
    Order(order_event::Event),
    Payment(payment_event::Event),
}

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

impl Order {
    fn total_cents(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity * l.unit_cents).sum()
    }

    fn utc_date(&self) -> NaiveDate {
        DateTime::parse_from_rfc3339(&self.created_at).expect("created_at").with_timezone(&Utc).date_naive()
    }

    fn paid(&self) -> bool {
        self.fate == Fate::Paid
    }

    fn cancelled(&self) -> bool {
        matches!(self.fate, Fate::Refunded | Fate::Expired | Fate::PaidAfterExpiry)
    }

    fn refunded(&self) -> bool {
        matches!(self.fate, Fate::Refunded | Fate::PaidAfterExpiry)
    }

    /// The order stream's events, then the payment stream's, each in the
    /// order they happened.
    fn events(&self) -> (Vec<Sent>, Vec<Sent>) {
        let total = money(self.total_cents());
        let created_at = DateTime::parse_from_rfc3339(&self.created_at).expect("created_at").with_timezone(&Utc);
        let payment = |case: fn(payment_pb::PaymentRecord) -> payment_event::Event, payment_id: i64| {
            Sent::Payment(case(payment_pb::PaymentRecord {
                payment_id,
                order_id: self.id,
                user_id: self.user,
                amount: total.clone(),
                currency: "USD".into(),
                provider_payment_id: format!("pi_{payment_id}"),
            }))
        };
        let items = self.lines.iter().map(|l| order_pb::PlacedItem {
            product_id: l.product,
            vendor_id: l.vendor,
            vendor_name: l.vendor_name.clone(),
            quantity: l.quantity,
            unit_price: money(l.unit_cents),
            line_total: money(l.quantity * l.unit_cents),
        });
        let mut orders = vec![Sent::Order(order_event::Event::Placed(order_pb::OrderPlaced {
            order_id: self.id,
            user_id: self.user,
            total_price: total.clone(),
            currency: "USD".into(),
            items: items.collect(),
            created_at: Some(common::proto_time::timestamp(created_at)),
        }))];
        let cancelled = |previous: order_pb::OrderStatus, reason: &str| {
            Sent::Order(order_event::Event::Cancelled(order_pb::OrderCancelled {
                order_id: self.id,
                user_id: self.user,
                previous_status: previous.into(),
                reason: reason.into(),
                total_price: total.clone(),
                currency: "USD".into(),
            }))
        };
        let mut payments = Vec::new();
        if self.failed_attempt {
            payments.push(payment(payment_event::Event::Failed, self.id * 10 + 1));
        }
        let paying = self.id * 10 + 2;
        match self.fate {
            Fate::Pending => {}
            Fate::Paid => payments.push(payment(payment_event::Event::Succeeded, paying)),
            Fate::Refunded => {
                payments.push(payment(payment_event::Event::Succeeded, paying));
                orders.push(cancelled(order_pb::OrderStatus::Paid, "refund"));
                payments.push(payment(payment_event::Event::Refunded, paying));
            }
            Fate::Expired => orders.push(cancelled(order_pb::OrderStatus::Pending, "expired")),
            Fate::PaidAfterExpiry => {
                orders.push(cancelled(order_pb::OrderStatus::Pending, "expired"));
                payments.push(payment(payment_event::Event::Succeeded, paying));
                payments.push(payment(payment_event::Event::Refunded, paying));
            }
        }
        (orders, payments)
    }
}

/// `count` random orders, ids from `first_id`, vendors `first_vendor` +
/// 0..12 (each renamed halfway through), created over the ten days from
/// `first_day`.
fn random_orders(rng: &mut Rng, count: i64, first_id: i64, first_vendor: i64, first_day: NaiveDate) -> Vec<Order> {
    let start = Utc.from_utc_datetime(&first_day.and_hms_opt(0, 0, 0).expect("midnight"));
    (0..count)
        .map(|i| {
            let fate = match rng.below(100) {
                0..25 => Fate::Pending,
                25..60 => Fate::Paid,
                60..75 => Fate::Refunded,
                75..92 => Fate::Expired,
                _ => Fate::PaidAfterExpiry,
            };
            let created_at = start
                + chrono::Duration::seconds(rng.below(10 * 86_400))
                + chrono::Duration::microseconds(rng.below(1_000_000));
            let suffix = if i >= count / 2 { " (renamed)" } else { "" };
            let mut lines: Vec<Line> = Vec::new();
            for _ in 0..1 + rng.below(4) {
                let product = first_vendor * 100 + rng.below(40);
                if lines.iter().any(|l| l.product == product) {
                    continue;
                }
                let vendor = first_vendor + product % 12;
                lines.push(Line {
                    product,
                    vendor,
                    vendor_name: format!("Shop {vendor}{suffix}"),
                    quantity: 1 + rng.below(5),
                    unit_cents: 1 + rng.below(50_000),
                });
            }
            Order {
                id: first_id + i,
                user: 1 + rng.below(50),
                created_at: created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                lines,
                fate,
                failed_attempt: rng.chance(20),
            }
        })
        .collect()
}

fn all_events(orders: &[Order]) -> (Vec<Sent>, Vec<Sent>) {
    let (mut order_stream, mut payment_stream) = (Vec::new(), Vec::new());
    for order in orders {
        let (o, p) = order.events();
        order_stream.extend(o);
        payment_stream.extend(p);
    }
    (order_stream, payment_stream)
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

/// What the service must answer for `range`, from the orders themselves.
fn expected(orders: &[Order], (from, to): Range<'_>) -> (pb::Summary, Vec<pb::VendorStats>) {
    let (from, to) = (from.filter(|d| !d.trim().is_empty()), to.filter(|d| !d.trim().is_empty()));
    let inside =
        |o: &&Order| from.is_none_or(|d| o.utc_date() >= date(d)) && to.is_none_or(|d| o.utc_date() <= date(d));
    let chosen: Vec<&Order> = orders.iter().filter(inside).collect();
    let paid: Vec<&&Order> = chosen.iter().filter(|o| o.paid()).collect();
    let revenue: i64 = paid.iter().map(|o| o.total_cents()).sum();
    let refunded: i64 = chosen.iter().filter(|o| o.refunded()).map(|o| o.total_cents()).sum();
    let count = paid.len() as i64;
    let average = if count == 0 { 0 } else { (2 * revenue + count) / (2 * count) };
    let summary = pb::Summary {
        total_orders: chosen.len() as i64,
        paid_orders: count,
        cancelled_orders: chosen.iter().filter(|o| o.cancelled()).count() as i64,
        pending_orders: chosen.iter().filter(|o| !o.paid() && !o.cancelled()).count() as i64,
        total_revenue: money(revenue),
        refunded_amount: money(refunded),
        average_order_value: money(average),
        currency: "USD".into(),
    };
    // vendor -> (orders, units, cents), over the chosen orders
    let mut sales: BTreeMap<i64, (i64, i64, i64)> = BTreeMap::new();
    for order in &chosen {
        let mut mine: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for line in &order.lines {
            let entry = mine.entry(line.vendor).or_default();
            entry.0 += line.quantity;
            entry.1 += line.quantity * line.unit_cents;
        }
        for (vendor, (units, cents)) in mine {
            let entry = sales.entry(vendor).or_default();
            if order.paid() {
                *entry = (entry.0 + 1, entry.1 + units, entry.2 + cents);
            }
        }
    }
    // named by its latest order, in or out of the range
    let name = |vendor: i64| {
        let latest = orders.iter().filter(|o| o.lines.iter().any(|l| l.vendor == vendor)).max_by_key(|o| o.id);
        let line = latest.and_then(|o| o.lines.iter().find(|l| l.vendor == vendor)).expect("a line");
        line.vendor_name.clone()
    };
    let mut vendors: Vec<(i64, pb::VendorStats)> = sales
        .into_iter()
        .map(|(vendor, (orders, units_sold, cents))| {
            let row = pb::VendorStats { vendor, vendor_name: name(vendor), orders, units_sold, revenue: money(cents) };
            (cents, row)
        })
        .collect();
    vendors.sort_by(|(a, x), (b, y)| b.cmp(a).then(x.vendor.cmp(&y.vendor)));
    (summary, vendors.into_iter().map(|(_, row)| row).collect())
}

// ---- the cases ----

async fn figures_match_the_orders_and_payments_to_the_cent(ctx: Arc<Ctx>) {
    let mut rng = Rng(ctx.seed ^ 1);
    let orders = random_orders(&mut rng, 300, 1_000_000, 1_000, date("2011-06-01"));
    let (order_stream, payment_stream) = all_events(&orders);
    ctx.deliver(&[order_stream, payment_stream].concat()).await;
    let admin = ctx.admin().await;
    for range in [
        (Some("2011-01-01"), Some("2011-12-31")),
        (Some("2011-06-03"), Some("2011-06-05")),
        (Some("2011-06-10"), Some("2011-06-10")),
        (Some("2011-06-01"), Some("2011-06-01")),
    ] {
        ctx.assert_figures(&admin, range, &orders).await;
    }
}

async fn replaying_every_event_changes_nothing(ctx: Arc<Ctx>) {
    let mut rng = Rng(ctx.seed ^ 2);
    let orders = random_orders(&mut rng, 200, 2_000_000, 2_000, date("2012-06-01"));
    let (order_stream, payment_stream) = all_events(&orders);
    let events = [order_stream, payment_stream].concat();
    let ids = ctx.deliver(&events).await;
    let admin = ctx.admin().await;
    let year = (Some("2012-01-01"), Some("2012-12-31"));
    ctx.assert_figures(&admin, year, &orders).await;
    // The same facts reported again under new ids (the consumer cannot
    // tell them apart from new events), then the very same events again.
    ctx.deliver(&events).await;
    ctx.republish(&ids).await;
    ctx.assert_figures(&admin, year, &orders).await;
    ctx.assert_figures(&admin, (Some("2012-06-04"), Some("2012-06-04")), &orders).await;
}

async fn events_in_reverse_order_give_the_same_figures(ctx: Arc<Ctx>) {
    let mut rng = Rng(ctx.seed ^ 3);
    let orders = random_orders(&mut rng, 200, 3_000_000, 3_000, date("2013-06-01"));
    let (mut order_stream, mut payment_stream) = all_events(&orders);
    order_stream.reverse();
    payment_stream.reverse();
    let admin = ctx.admin().await;
    let year = (Some("2013-01-01"), Some("2013-12-31"));
    // The payments, refunds included, before any order they are about;
    // the cancellations before their orders were placed.
    ctx.deliver(&payment_stream).await;
    let (cancellations, placements): (Vec<Sent>, Vec<Sent>) =
        order_stream.into_iter().partition(|e| matches!(e, Sent::Order(order_event::Event::Cancelled(_))));
    ctx.deliver(&cancellations).await;
    let nothing_placed = ctx.summary(Some(&admin), year).await.expect("summary");
    assert_eq!((nothing_placed.total_orders, nothing_placed.refunded_amount.as_str()), (0, "0.00"));
    assert_eq!(ctx.vendors(Some(&admin), year, 100, 0).await.expect("vendors").count, 0);
    ctx.deliver(&placements).await;
    ctx.assert_figures(&admin, year, &orders).await;
    ctx.assert_figures(&admin, (Some("2013-06-02"), Some("2013-06-08")), &orders).await;
}

async fn ranges_are_inclusive_utc_days_of_created_at(ctx: Arc<Ctx>) {
    // Alone in 1990 and 2090, so ranges open on one side see only these.
    let at =
        ["1990-01-01T00:00:00Z", "1990-01-01T23:59:59.999999Z", "1990-01-02T00:00:00Z", "1990-01-02T23:30:00-02:00"];
    let late = ["2090-01-01T12:00:00Z", "2090-01-02T00:00:00.000001Z"];
    let order = |i: usize, created_at: &str, fate| Order {
        id: 4_000_000 + i as i64,
        user: 7,
        created_at: created_at.to_owned(),
        lines: vec![Line {
            product: 400_001,
            vendor: 4_000,
            vendor_name: format!("Dated {i}"),
            quantity: 2,
            unit_cents: 1_000 + i as i64,
        }],
        fate,
        failed_attempt: false,
    };
    let mut orders: Vec<Order> = at.iter().enumerate().map(|(i, t)| order(i, t, Fate::Paid)).collect();
    orders.push(order(4, late[0], Fate::Paid));
    orders.push(order(5, late[1], Fate::Pending));
    let (order_stream, payment_stream) = all_events(&orders);
    ctx.deliver(&[order_stream, payment_stream].concat()).await;
    let admin = ctx.admin().await;
    let counted = async |range| ctx.summary(Some(&admin), range).await.expect("summary").total_orders;
    assert_eq!(counted((Some("1990-01-01"), Some("1990-01-01"))).await, 2);
    assert_eq!(counted((Some("1990-01-02"), Some("1990-01-02"))).await, 1, "23:30 at -02:00 is the 3rd in UTC");
    assert_eq!(counted((Some("1990-01-03"), Some("1990-01-03"))).await, 1);
    assert_eq!(counted((None, Some("1990-01-02"))).await, 3);
    assert_eq!(counted((Some("2090-01-01"), None)).await, 2);
    assert_eq!(counted((Some("1991-01-01"), Some("1991-12-31"))).await, 0);
    for range in [
        (Some("1990-01-01"), Some("1990-01-01")),
        (Some("1990-01-02"), Some("1990-01-03")),
        (None, Some("1990-12-31")),
        (Some("2090-01-01"), Some("2090-01-01")),
        (Some("2090-01-02"), None),
        (Some("1991-01-01"), Some("1991-12-31")),
        (Some("2090-01-01"), Some(" ")),
    ] {
        ctx.assert_figures(&admin, range, &orders).await;
    }
    // Only an unpaid order: the vendor is listed, with nothing sold.
    let unpaid = ctx.vendors(Some(&admin), (Some("2090-01-02"), None), 10, 0).await.expect("vendors");
    let row = pb::VendorStats {
        vendor: 4_000,
        vendor_name: "Dated 5".into(),
        orders: 0,
        units_sold: 0,
        revenue: "0.00".into(),
    };
    assert_eq!(unpaid.vendors, [row]);
    let empty = ctx.summary(Some(&admin), (Some("2090-01-02"), None)).await.expect("summary");
    assert_eq!((empty.paid_orders, empty.average_order_value.as_str()), (0, "0.00"));
}

async fn bad_dates_are_field_errors(ctx: Arc<Ctx>) {
    let admin = ctx.admin().await;
    let cases: [(Range<'_>, &[&str]); 5] = [
        ((Some("2024-13-01"), None), &["from"]),
        ((None, Some("yesterday")), &["to"]),
        ((Some("2024-02-30"), Some("2024/03/01")), &["from", "to"]),
        ((Some("2024-03-02"), Some("2024-03-01")), &["to"]),
        ((Some("2024-03-01T00:00:00Z"), None), &["from"]),
    ];
    for (range, fields) in cases {
        for error in [
            ctx.summary(Some(&admin), range).await.expect_err("summary"),
            ctx.vendors(Some(&admin), range, 10, 0).await.expect_err("vendors"),
        ] {
            assert_eq!(error.kind, ErrorKind::Invalid, "{range:?}");
            let named: Vec<&str> = error.fields.iter().map(|(field, _)| field.as_str()).collect();
            assert_eq!(named, fields, "{range:?}");
        }
    }
}

async fn only_admins_read_analytics(ctx: Arc<Ctx>) {
    let anyone = (None, None);
    assert_eq!(ctx.summary(None, anyone).await.expect_err("anonymous").kind, ErrorKind::Unauthenticated);
    assert_eq!(ctx.vendors(None, anyone, 10, 0).await.expect_err("anonymous").kind, ErrorKind::Unauthenticated);
    assert_eq!(ctx.summary(Some("not-a-token"), anyone).await.expect_err("garbage").kind, ErrorKind::Unauthenticated);
    for role in ["customer", "vendor"] {
        let token = ctx.user(role).await;
        assert_eq!(ctx.summary(Some(&token), anyone).await.expect_err(role).kind, ErrorKind::PermissionDenied);
        let refused = ctx.vendors(Some(&token), anyone, 10, 0).await.expect_err(role);
        assert_eq!(refused.kind, ErrorKind::PermissionDenied);
        // The role is checked before the input.
        let bad = (Some("nonsense"), None);
        assert_eq!(ctx.summary(Some(&token), bad).await.expect_err(role).kind, ErrorKind::PermissionDenied);
    }
    let admin = ctx.admin().await;
    assert_eq!(ctx.summary(Some(&admin), anyone).await.expect("admin").currency, "USD");
    ctx.vendors(Some(&admin), anyone, 10, 0).await.expect("admin");
}
