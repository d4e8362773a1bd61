//! Cart over real gRPC against the real MariaDB and Redis, with the real
//! identity (tokens), catalog (products) and order (stock) beside it: who
//! has a cart, how lines merge within stock, that a line is its owner's
//! alone, that an order's lines leave the cart once, and that racing adds
//! of one product make one line.
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::config::Infra;
use common::grpc_client::ServiceChannel;
use common::shutdown::CancellationToken;
use common::testkit::accounts::Accounts;
use common::{ApiError, ErrorKind, cases};
use proto::cart::v1 as pb;
use proto::cart::v1::cart_client::CartClient;
use proto::catalog::v1 as catalog_pb;
use proto::catalog::v1::catalog_client::CatalogClient;

const PASSWORD: &str = "Tr1cky-Horse-92";

struct Ctx {
    cart: ServiceChannel,
    catalog: ServiceChannel,
    accounts: Accounts,
}

fn main() -> ExitCode {
    common::testkit::service_suite(
        "cartgrpc",
        &[identity::SCHEMA, catalog::SCHEMA, order::SCHEMA, cart::SCHEMA],
        |infra, stop| async move { start(&infra, &stop).await },
        cases![Ctx;
            only_customers_have_a_cart,
            adding_a_product_again_merges_into_its_line_within_stock,
            a_line_is_its_owners_alone,
            an_orders_lines_leave_the_cart_once,
            racing_adds_of_one_product_make_one_line,
        ],
        4,
    )
}

async fn start(infra: &Infra, stop: &CancellationToken) -> Result<Ctx, common::StartupError> {
    let (identity_addr, admin_email) = identity::serve_for_tests(infra, PASSWORD, stop.clone()).await?;
    let (catalog_addr, order_addr) = catalog::serve_for_tests(infra, &identity_addr, stop.clone()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let cart_addr = listener.local_addr()?.to_string();
    let mut cart_config = cart::Config::from_env(infra.clone())?;
    cart_config.identity_addr = identity_addr.clone();
    cart_config.catalog_addr = catalog_addr.clone();
    cart_config.order_addr = order_addr;
    tokio::spawn(cart::start(&cart_config).await?.serve(listener, stop.clone()));

    let identity = common::grpc_client::lazy_channel(&identity_addr)?;
    Ok(Ctx {
        cart: common::grpc_client::lazy_channel(&cart_addr)?,
        catalog: common::grpc_client::lazy_channel(&catalog_addr)?,
        accounts: Accounts::new(identity, admin_email, PASSWORD),
    })
}

async fn call<T>(future: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>) -> Result<T, ApiError> {
    common::grpc_client::call(Duration::from_secs(10), future).await
}

fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    common::grpc_client::request(message, Duration::from_secs(10), Some(token))
}

fn adding(product: i64, quantity: i64) -> pb::AddItemRequest {
    pb::AddItemRequest { product: Some(product.to_string()), quantity: Some(quantity.to_string()) }
}

impl Ctx {
    fn cart(&self) -> CartClient<ServiceChannel> {
        CartClient::new(self.cart.clone())
    }

    /// An approved vendor's new product with `stock` units.
    async fn product(&self, stock: i64) -> i64 {
        let (vendor, _) = self.accounts.vendor(true).await;
        let fields = catalog_pb::ProductFields {
            name: Some(format!("Thing {}", uuid::Uuid::new_v4().simple())),
            price: Some("4.50".into()),
            stock: Some(stock.to_string()),
            ..Default::default()
        };
        let create = catalog_pb::CreateProductRequest { fields: Some(fields) };
        let product = call(CatalogClient::new(self.catalog.clone()).create_product(authed(create, &vendor))).await;
        product.expect("created").id
    }

    async fn add(&self, token: &str, product: i64, quantity: i64) -> Result<pb::AddItemResponse, ApiError> {
        call(self.cart().add_item(authed(adding(product, quantity), token))).await
    }

    /// The customer's lines as (product, quantity).
    async fn lines(&self, token: &str) -> Vec<(i64, i64)> {
        let list = pb::ListItemsRequest { limit: 100, offset: 0 };
        let page = call(self.cart().list_items(authed(list, token))).await.expect("lines");
        page.lines.iter().map(|l| (l.product, l.quantity)).collect()
    }
}

async fn only_customers_have_a_cart(ctx: Arc<Ctx>) {
    let product = ctx.product(5).await;
    let anonymous = call(ctx.cart().add_item(adding(product, 1))).await;
    assert_eq!(anonymous.expect_err("anonymous").kind, ErrorKind::Unauthenticated);
    let (vendor, _) = ctx.accounts.vendor(true).await;
    assert_eq!(ctx.add(&vendor, product, 1).await.expect_err("vendor").kind, ErrorKind::PermissionDenied);
    let admin = ctx.accounts.admin().await;
    assert_eq!(ctx.add(&admin, product, 1).await.expect_err("admin").kind, ErrorKind::PermissionDenied);
}

async fn adding_a_product_again_merges_into_its_line_within_stock(ctx: Arc<Ctx>) {
    let product = ctx.product(5).await;
    let customer = ctx.accounts.user("customer").await;
    let first = ctx.add(&customer, product, 2).await.expect("added");
    assert!(first.created);
    let again = ctx.add(&customer, product, 2).await.expect("merged");
    assert!(!again.created);
    assert_eq!(again.line.map(|l| (l.quantity, l.line_total)), Some((4, "18.00".to_owned())));
    let beyond = ctx.add(&customer, product, 2).await.expect_err("beyond the stock");
    assert_eq!(beyond.kind, ErrorKind::Invalid);
    assert!(beyond.fields.has("quantity"), "{beyond:?}");
    assert_eq!(ctx.lines(&customer).await, [(product, 4)]);
}

async fn a_line_is_its_owners_alone(ctx: Arc<Ctx>) {
    let product = ctx.product(5).await;
    let owner = ctx.accounts.user("customer").await;
    let stranger = ctx.accounts.user("customer").await;
    let line = ctx.add(&owner, product, 1).await.expect("added").line.expect("line").id;
    let update = pb::UpdateItemRequest { id: line, quantity: Some("3".into()) };
    let refused = call(ctx.cart().update_item(authed(update, &stranger))).await;
    assert_eq!(refused.expect_err("stranger updates").kind, ErrorKind::NotFound);
    let refused = call(ctx.cart().remove_item(authed(pb::RemoveItemRequest { id: line }, &stranger))).await;
    assert_eq!(refused.expect_err("stranger removes").kind, ErrorKind::NotFound);
    assert_eq!(ctx.lines(&stranger).await, []);
    assert_eq!(ctx.lines(&owner).await, [(product, 1)]);
}

async fn an_orders_lines_leave_the_cart_once(ctx: Arc<Ctx>) {
    let product = ctx.product(10).await;
    let customer = ctx.accounts.user("customer").await;
    ctx.add(&customer, product, 3).await.expect("added");
    let ordered = pb::RemoveItemsRequest { lines: vec![pb::StoredLine { product, quantity: 2 }], order_id: Some(77) };
    for _ in 0..2 {
        call(ctx.cart().remove_items(authed(ordered.clone(), &customer))).await.expect("removed");
        assert_eq!(ctx.lines(&customer).await, [(product, 1)], "the ordered units leave once");
    }
}

async fn racing_adds_of_one_product_make_one_line(ctx: Arc<Ctx>) {
    let product = ctx.product(50).await;
    let customer = ctx.accounts.user("customer").await;
    let adds = (0..8).map(|_| ctx.add(&customer, product, 1));
    let created = futures::future::join_all(adds).await.into_iter().map(|added| added.expect("added").created);
    assert_eq!(created.filter(|c| *c).count(), 1, "one add created the line");
    assert_eq!(ctx.lines(&customer).await, [(product, 8)]);
}
