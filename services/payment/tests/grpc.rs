//! Payment over real gRPC against the real MariaDB and Redis, with the
//! real identity, catalog and order beside it (an order to pay needs a
//! product, stock and a customer): who may pay which order, racing
//! initiations sharing one payment, and signed webhooks — a forged one
//! changes nothing, a real one applies once however often and however
//! concurrently it is delivered.
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::config::Infra;
use common::grpc_client::ServiceChannel;
use common::shutdown::CancellationToken;
use common::testkit::accounts::Accounts;
use common::{ApiError, ErrorKind, cases};
use payment::domain::EventKind;
use payment::provider::{Sandbox, SandboxPayment};
use proto::catalog::v1 as catalog_pb;
use proto::catalog::v1::catalog_client::CatalogClient;
use proto::order::v1 as order_pb;
use proto::order::v1::order_client::OrderClient;
use proto::payment::v1 as pb;
use proto::payment::v1::payment_client::PaymentClient;
use rust_decimal::Decimal;

const PASSWORD: &str = "Tr1cky-Horse-92";
/// The suite's own webhook secret (the sandbox signs with it too).
const SECRET: &str = "whsec_payment_service_tests";

struct Ctx {
    payment: ServiceChannel,
    catalog: ServiceChannel,
    order: ServiceChannel,
    accounts: Accounts,
}

fn main() -> ExitCode {
    common::testkit::service_suite(
        "paygrpc",
        &[identity::SCHEMA, catalog::SCHEMA, order::SCHEMA, payment::SCHEMA],
        |infra, stop| async move { start(&infra, &stop).await },
        cases![Ctx;
            only_the_customer_who_ordered_pays,
            racing_initiations_share_one_payment,
            a_forged_webhook_changes_nothing,
            a_webhook_delivered_many_times_at_once_applies_once,
        ],
        4,
    )
}

async fn start(infra: &Infra, stop: &CancellationToken) -> Result<Ctx, common::StartupError> {
    let (identity_addr, admin_email) = identity::serve_for_tests(infra, PASSWORD, stop.clone()).await?;
    let (catalog_addr, order_addr) = catalog::serve_for_tests(infra, &identity_addr, stop.clone()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let payment_addr = listener.local_addr()?.to_string();
    let mut payment_config = payment::Config::from_env(infra.clone())?;
    payment_config.webhook_secrets = vec![SECRET.to_owned()];
    payment_config.identity_addr = identity_addr.clone();
    payment_config.order_addr = order_addr.clone();
    // The sandbox's own webhooks go nowhere: the cases deliver them.
    payment_config.webhook_url = format!("http://{}/", common::testkit::silent_listener().await?);
    tokio::spawn(payment::start(&payment_config).await?.serve(listener, stop.clone()));

    let identity = common::grpc_client::lazy_channel(&identity_addr)?;
    Ok(Ctx {
        payment: common::grpc_client::lazy_channel(&payment_addr)?,
        catalog: common::grpc_client::lazy_channel(&catalog_addr)?,
        order: common::grpc_client::lazy_channel(&order_addr)?,
        accounts: Accounts::new(identity, admin_email, PASSWORD),
    })
}

async fn call<T>(future: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>) -> Result<T, ApiError> {
    common::grpc_client::call(Duration::from_secs(10), future).await
}

fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    common::grpc_client::request(message, Duration::from_secs(10), Some(token))
}

fn initiating(order: i64) -> pb::InitiatePaymentRequest {
    pb::InitiatePaymentRequest { order_id: Some(order.to_string()) }
}

impl Ctx {
    fn payment(&self) -> PaymentClient<ServiceChannel> {
        PaymentClient::new(self.payment.clone())
    }

    /// A new customer's token and its pending order of one unit at 12.50.
    async fn ordered(&self) -> (String, i64) {
        let (vendor, _) = self.accounts.vendor(true).await;
        let fields = catalog_pb::ProductFields {
            name: Some(format!("Thing {}", uuid::Uuid::new_v4().simple())),
            price: Some("12.50".into()),
            stock: Some("5".into()),
            ..Default::default()
        };
        let create = catalog_pb::CreateProductRequest { fields: Some(fields) };
        let product = call(CatalogClient::new(self.catalog.clone()).create_product(authed(create, &vendor))).await;
        let customer = self.accounts.user("customer").await;
        let place = order_pb::PlaceOrderRequest {
            lines: vec![order_pb::OrderLine { product: product.expect("product").id, quantity: 1 }],
            idempotency_key: None,
        };
        let order = call(OrderClient::new(self.order.clone()).place_order(authed(place, &customer))).await;
        (customer, order.expect("placed").id)
    }

    async fn initiate(&self, token: &str, order: i64) -> Result<pb::InitiatePaymentResponse, ApiError> {
        call(self.payment().initiate_payment(authed(initiating(order), token))).await
    }

    async fn status(&self, token: &str, payment: i64) -> pb::PaymentStatus {
        let read = call(self.payment().get_payment(authed(pb::GetPaymentRequest { id: payment }, token))).await;
        read.expect("payment").status()
    }

    async fn deliver(&self, body: &[u8], signature: String) -> Result<pb::WebhookResponse, ApiError> {
        call(self.payment().handle_webhook(pb::WebhookRequest { body: body.to_vec(), signature })).await
    }
}

/// A provider event of the sandbox's shape for `payment`, and its
/// signature under `secret`.
fn event(payment: &pb::PaymentMessage, kind: EventKind, secret: &str) -> (Vec<u8>, String) {
    let now = chrono::Utc::now().timestamp();
    let sandboxed = SandboxPayment {
        provider_payment_id: payment.provider_payment_id.clone(),
        order_id: payment.order,
        amount: payment.amount.parse::<Decimal>().expect("amount"),
        currency: payment.currency.clone(),
    };
    let body = Sandbox::event(&sandboxed, kind, now);
    let signature = payment::signature::sign(secret, now, &body);
    (body, signature)
}

async fn only_the_customer_who_ordered_pays(ctx: Arc<Ctx>) {
    let (_, order) = ctx.ordered().await;
    let stranger = ctx.accounts.user("customer").await;
    assert_eq!(ctx.initiate(&stranger, order).await.expect_err("stranger").kind, ErrorKind::NotFound);
    let (vendor, _) = ctx.accounts.vendor(true).await;
    assert_eq!(ctx.initiate(&vendor, order).await.expect_err("vendor").kind, ErrorKind::PermissionDenied);
    let anonymous = call(ctx.payment().initiate_payment(initiating(order))).await;
    assert_eq!(anonymous.expect_err("anonymous").kind, ErrorKind::Unauthenticated);
}

async fn racing_initiations_share_one_payment(ctx: Arc<Ctx>) {
    let (customer, order) = ctx.ordered().await;
    let racers = (0..8).map(|_| ctx.initiate(&customer, order));
    let answers: Vec<_> = futures::future::join_all(racers).await.into_iter().map(|a| a.expect("initiated")).collect();
    assert_eq!(answers.iter().filter(|a| a.created).count(), 1, "one initiation made the payment");
    let mut ids: Vec<i64> = answers.iter().filter_map(|a| a.payment.as_ref().map(|p| p.id)).collect();
    ids.dedup();
    assert_eq!(ids.len(), 1, "every initiation answered the same payment: {ids:?}");
    let payment = answers[0].payment.as_ref().expect("payment");
    assert_eq!((payment.amount.as_str(), payment.status()), ("12.50", pb::PaymentStatus::Pending));
}

async fn a_forged_webhook_changes_nothing(ctx: Arc<Ctx>) {
    let (customer, order) = ctx.ordered().await;
    let payment = ctx.initiate(&customer, order).await.expect("initiated").payment.expect("payment");
    let (body, forged) = event(&payment, EventKind::Succeeded, "whsec_not_ours");
    assert!(ctx.deliver(&body, forged).await.is_err(), "a signature by another secret is refused");
    let (body, signature) = event(&payment, EventKind::Succeeded, SECRET);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert!(ctx.deliver(&tampered, signature).await.is_err(), "a body changed after signing is refused");
    assert_eq!(ctx.status(&customer, payment.id).await, pb::PaymentStatus::Pending);
}

async fn a_webhook_delivered_many_times_at_once_applies_once(ctx: Arc<Ctx>) {
    let (customer, order) = ctx.ordered().await;
    let payment = ctx.initiate(&customer, order).await.expect("initiated").payment.expect("payment");
    let (body, signature) = event(&payment, EventKind::Succeeded, SECRET);
    let deliveries = (0..12).map(|_| ctx.deliver(&body, signature.clone()));
    let outcomes: Vec<String> =
        futures::future::join_all(deliveries).await.into_iter().map(|o| o.expect("accepted").outcome).collect();
    assert_eq!(outcomes.iter().filter(|o| *o == "applied").count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o == "applied" || o == "duplicate"), "{outcomes:?}");
    assert_eq!(ctx.status(&customer, payment.id).await, pb::PaymentStatus::Succeeded);
}
