//! Catalog over real gRPC against the real MariaDB and Redis, with a real
//! identity beside it (catalog asks it who vendors are) and a real order
//! service (which stores product writes' stock): the RPCs other services
//! rely on, the authorisation each one applies, and product writes that
//! leave nothing half-written when order stalls or is gone.
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::cases;
use common::config::Infra;
use common::grpc_client::ServiceChannel;
use common::shutdown::CancellationToken;
use common::testkit::accounts::Accounts;
use common::{ApiError, ErrorKind};
use proto::catalog::v1 as pb;
use proto::catalog::v1::catalog_client::CatalogClient;
use proto::identity::v1 as id_pb;
use proto::identity::v1::identity_client::IdentityClient;
use proto::order::v1 as order_pb;
use proto::order::v1::order_client::OrderClient;
use stalling_link::StallingLink;

mod stalling_link;

const PASSWORD: &str = "Tr1cky-Horse-92";
/// Catalog's deadline for order's answers here: a stalled order fails fast.
const ORDER_DEADLINE: Duration = Duration::from_secs(1);

struct Ctx {
    catalog: ServiceChannel,
    identity: ServiceChannel,
    order: ServiceChannel,
    admin_email: String,
    accounts: Accounts,
    /// What starts another catalog replica (`catalog_via`).
    catalog_config: catalog::Config,
    order_addr: String,
    stop: CancellationToken,
}

fn main() -> ExitCode {
    common::testkit::service_suite(
        "catgrpc",
        &[identity::SCHEMA, catalog::SCHEMA, order::SCHEMA],
        |infra, stop| async move { start(&infra, &stop).await },
        cases![Ctx;
            writes_need_an_approved_vendor,
            authorize_product_write_names_the_vendor_for_owner_and_admin_only,
            get_products_returns_any_state_but_deleted,
            own_listing_needs_the_vendor_role,
            refresh_vendor_hides_a_suspended_vendors_products,
            a_product_write_applies_its_stock_with_its_fields,
            a_write_with_stock_moves_the_product_in_every_listing,
            stock_write_rpcs_act_only_on_writes_catalog_holds_open_or_abandoned,
            a_product_write_whose_stock_reply_stalls_changes_nothing,
            a_product_write_with_order_gone_changes_nothing,
        ],
        4,
    )
}

async fn start(infra: &Infra, stop: &CancellationToken) -> Result<Ctx, common::StartupError> {
    let (identity_addr, admin_email) = identity::serve_for_tests(infra, PASSWORD, stop.clone()).await?;

    let catalog_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let catalog_addr = catalog_listener.local_addr()?.to_string();
    let order_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let order_addr = order_listener.local_addr()?.to_string();

    let mut catalog_config = catalog::Config::from_env(infra.clone())?;
    catalog_config.identity_addr = identity_addr.clone();
    catalog_config.order_addr = order_addr.clone();
    catalog_config.downstream_timeout = ORDER_DEADLINE;
    catalog_config.stock_write_recovery_interval = Duration::from_millis(300);
    let catalog = catalog::start(&catalog_config).await?;
    tokio::spawn(catalog.serve(catalog_listener, stop.clone()));

    let mut order_config = order::Config::from_env(infra.clone())?;
    order_config.identity_addr = identity_addr.clone();
    order_config.catalog_addr = catalog_addr.clone();
    order_config.consume_payment_events = false;
    let order = order::start(&order_config).await?;
    tokio::spawn(order.serve(order_listener, stop.clone()));
    Ok(Ctx {
        catalog: common::grpc_client::lazy_channel(&catalog_addr)?,
        identity: common::grpc_client::lazy_channel(&identity_addr)?,
        order: common::grpc_client::lazy_channel(&order_addr)?,
        accounts: Accounts::new(common::grpc_client::lazy_channel(&identity_addr)?, admin_email.clone(), PASSWORD),
        admin_email,
        catalog_config,
        order_addr,
        stop: stop.clone(),
    })
}

async fn call<T>(future: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>) -> Result<T, ApiError> {
    common::grpc_client::call(Duration::from_secs(10), future).await
}

fn authed<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    common::grpc_client::request(message, Duration::from_secs(10), token)
}

fn unique() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_nanos())
}

impl Ctx {
    fn catalog(&self) -> CatalogClient<ServiceChannel> {
        CatalogClient::new(self.catalog.clone())
    }

    fn identity(&self) -> IdentityClient<ServiceChannel> {
        IdentityClient::new(self.identity.clone())
    }

    async fn login(&self, email: &str) -> String {
        self.accounts.login(email).await
    }

    async fn user(&self, role: &str) -> String {
        self.accounts.user(role).await
    }

    /// A vendor token and its profile id; approved when asked.
    async fn vendor(&self, approved: bool) -> (String, i64) {
        self.accounts.vendor(approved).await
    }

    /// Another catalog replica, whose calls to order go through a link the
    /// test can break (order's calls back reach the first replica).
    async fn catalog_via(&self, link: &StallingLink) -> CatalogClient<ServiceChannel> {
        let mut config = self.catalog_config.clone();
        config.order_addr = link.addr.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(catalog::start(&config).await.expect("replica").serve(listener, self.stop.clone()));
        CatalogClient::new(common::grpc_client::lazy_channel(&addr).expect("channel"))
    }

    /// Order's stock of `product`, asked of order directly.
    async fn stock(&self, product: i64) -> i64 {
        let request = order_pb::GetStockRequest { product_ids: vec![product] };
        let levels = call(OrderClient::new(self.order.clone()).get_stock(request)).await.expect("stock");
        levels.levels.first().map_or(0, |l| l.available)
    }

    /// `product` reads as created (stock 3), and it is still its owner's
    /// only product.
    async fn assert_untouched(&self, owner: &str, product: &pb::Product, when: &str) {
        let read = pb::GetProductRequest { id: product.id };
        let now = call(self.catalog().get_product(authed(read, Some(owner)))).await.expect("product");
        assert_eq!((now.name.as_str(), now.price.as_str()), (product.name.as_str(), product.price.as_str()), "{when}");
        assert_eq!(self.stock(product.id).await, 3, "{when}");
        assert_eq!(self.own_products(owner).await, [product.id], "{when}");
    }

    /// The vendor's own products (any state but deleted), by id.
    async fn own_products(&self, token: &str) -> Vec<i64> {
        let mine = pb::ListProductsRequest { mine: true, ..Default::default() };
        let page = call(self.catalog().list_products(authed(mine, Some(token)))).await.expect("own products");
        page.products.iter().map(|p| p.id).collect()
    }

    async fn product(&self, token: &str) -> Result<pb::Product, ApiError> {
        let fields = pb::ProductFields {
            name: Some(format!("Thing {}", unique())),
            price: Some("9.99".into()),
            stock: Some("3".into()),
            ..Default::default()
        };
        call(self.catalog().create_product(authed(pb::CreateProductRequest { fields: Some(fields) }, Some(token))))
            .await
    }
}

async fn writes_need_an_approved_vendor(ctx: Arc<Ctx>) {
    let anonymous = call(ctx.catalog().create_product(pb::CreateProductRequest::default())).await;
    assert_eq!(anonymous.expect_err("anonymous").kind, ErrorKind::Unauthenticated);
    let customer = ctx.user("customer").await;
    assert_eq!(ctx.product(&customer).await.expect_err("customer").kind, ErrorKind::PermissionDenied);
    let (pending, _) = ctx.vendor(false).await;
    let refused = ctx.product(&pending).await.expect_err("pending");
    assert_eq!(refused.code.as_deref(), Some("vendor_not_approved"));
    let (approved, vendor_id) = ctx.vendor(true).await;
    let product = ctx.product(&approved).await.expect("created");
    assert_eq!(
        (product.vendor, product.price.as_str(), product.vendor_status()),
        (vendor_id, "9.99", id_pb::VendorStatus::Approved)
    );
}

async fn authorize_product_write_names_the_vendor_for_owner_and_admin_only(ctx: Arc<Ctx>) {
    let (owner, vendor_id) = ctx.vendor(true).await;
    let (stranger, _) = ctx.vendor(true).await;
    let product = ctx.product(&owner).await.expect("created");
    let ask = |token: String| {
        let ctx = ctx.clone();
        async move {
            let request = pb::AuthorizeProductWriteRequest { product_id: product.id };
            call(ctx.catalog().authorize_product_write(authed(request, Some(&token)))).await
        }
    };
    assert_eq!(ask(owner).await.expect("owner").vendor_id, vendor_id);
    let admin = ctx.login(&ctx.admin_email).await;
    assert_eq!(ask(admin).await.expect("admin").vendor_id, vendor_id);
    assert_eq!(ask(stranger).await.expect_err("stranger").kind, ErrorKind::NotFound);
    assert_eq!(ask(ctx.user("customer").await).await.expect_err("customer").kind, ErrorKind::PermissionDenied);
}

async fn get_products_returns_any_state_but_deleted(ctx: Arc<Ctx>) {
    let (owner, _) = ctx.vendor(true).await;
    let visible = ctx.product(&owner).await.expect("created");
    let hidden = ctx.product(&owner).await.expect("created");
    let gone = ctx.product(&owner).await.expect("created");
    let fields = pb::ProductFields { is_active: Some(false), ..Default::default() };
    call(
        ctx.catalog()
            .update_product(authed(pb::UpdateProductRequest { id: hidden.id, fields: Some(fields) }, Some(&owner))),
    )
    .await
    .expect("deactivated");
    call(ctx.catalog().delete_product(authed(pb::DeleteProductRequest { id: gone.id }, Some(&owner))))
        .await
        .expect("deleted");
    let found = call(ctx.catalog().get_products(pb::GetProductsRequest { ids: vec![visible.id, hidden.id, gone.id] }))
        .await
        .expect("products");
    let states: Vec<(i64, bool)> = found.products.iter().map(|p| (p.id, p.is_active)).collect();
    assert_eq!(states, [(visible.id, true), (hidden.id, false)]);
}

async fn own_listing_needs_the_vendor_role(ctx: Arc<Ctx>) {
    let mine = pb::ListProductsRequest { mine: true, ..Default::default() };
    let anonymous = call(ctx.catalog().list_products(mine.clone())).await;
    assert_eq!(anonymous.expect_err("anonymous").kind, ErrorKind::Unauthenticated);
    let customer = ctx.user("customer").await;
    let refused = call(ctx.catalog().list_products(authed(mine.clone(), Some(&customer)))).await;
    assert_eq!(refused.expect_err("customer").kind, ErrorKind::PermissionDenied);
    let (owner, _) = ctx.vendor(true).await;
    let product = ctx.product(&owner).await.expect("created");
    let page = call(ctx.catalog().list_products(authed(mine, Some(&owner)))).await.expect("page");
    assert_eq!(page.products.iter().map(|p| p.id).collect::<Vec<_>>(), [product.id]);
}

async fn refresh_vendor_hides_a_suspended_vendors_products(ctx: Arc<Ctx>) {
    let (owner, vendor_id) = ctx.vendor(true).await;
    let product = ctx.product(&owner).await.expect("created");
    let public = pb::ListProductsRequest { vendor: Some(vendor_id.to_string()), ..Default::default() };
    let page = call(ctx.catalog().list_products(public.clone())).await.expect("page");
    assert_eq!(page.products.len(), 1);
    let admin = ctx.login(&ctx.admin_email).await;
    let request = id_pb::VerifyVendorRequest { vendor_id, status: id_pb::VendorStatus::Suspended.into() };
    call(ctx.identity().verify_vendor(authed(request, Some(&admin)))).await.expect("suspended");
    call(ctx.catalog().refresh_vendor(pb::RefreshVendorRequest { vendor_id })).await.expect("refreshed");
    let page = call(ctx.catalog().list_products(public)).await.expect("page");
    assert!(page.products.is_empty());
    let detail = call(ctx.catalog().get_product(pb::GetProductRequest { id: product.id })).await;
    assert_eq!(detail.expect_err("hidden").kind, ErrorKind::NotFound);
}

fn renamed_with_stock(name: &str, stock: &str) -> pb::ProductFields {
    pb::ProductFields { name: Some(name.into()), stock: Some(stock.into()), ..Default::default() }
}

async fn update(
    catalog: &mut CatalogClient<ServiceChannel>,
    token: &str,
    id: i64,
    fields: pb::ProductFields,
) -> Result<pb::Product, ApiError> {
    call(catalog.update_product(authed(pb::UpdateProductRequest { id, fields: Some(fields) }, Some(token)))).await
}

fn import_of(names: &[&str]) -> pb::ImportProductsRequest {
    let lines = names
        .iter()
        .zip(1..)
        .map(|(name, line)| pb::ImportLine {
            line,
            fields: Some(pb::ProductFields {
                name: Some((*name).into()),
                price: Some("2.50".into()),
                stock: Some("7".into()),
                ..Default::default()
            }),
        })
        .collect();
    pb::ImportProductsRequest { lines, invalid: Vec::new() }
}

async fn a_product_write_applies_its_stock_with_its_fields(ctx: Arc<Ctx>) {
    let (owner, _) = ctx.vendor(true).await;
    let product = ctx.product(&owner).await.expect("created");
    assert_eq!(ctx.stock(product.id).await, 3);
    let changed = update(&mut ctx.catalog(), &owner, product.id, renamed_with_stock("Renamed", "11")).await;
    assert_eq!(changed.expect("updated").name, "Renamed");
    assert_eq!(ctx.stock(product.id).await, 11);
    // A change without stock leaves it.
    let fields = pb::ProductFields { price: Some("1.25".into()), ..Default::default() };
    update(&mut ctx.catalog(), &owner, product.id, fields).await.expect("repriced");
    assert_eq!(ctx.stock(product.id).await, 11);
    let imported = call(ctx.catalog().import_products(authed(import_of(&["Ink", "Quill"]), Some(&owner))))
        .await
        .expect("imported");
    assert_eq!(imported.ids.len(), 2);
    for id in imported.ids {
        assert_eq!(ctx.stock(id).await, 7);
    }
}

/// Order receives every request and does its work, but no answer comes
/// back: catalog gives up at its deadline. Nothing of the writes may show,
/// stock included, then or after the link recovers.
async fn a_product_write_whose_stock_reply_stalls_changes_nothing(ctx: Arc<Ctx>) {
    let (owner, _) = ctx.vendor(true).await;
    let product = ctx.product(&owner).await.expect("created");
    let link = StallingLink::to(ctx.order_addr.clone()).await;
    let mut stalled = ctx.catalog_via(&link).await;
    link.hold_replies();

    let refused = update(&mut stalled, &owner, product.id, renamed_with_stock("Half", "99")).await;
    assert!(refused.is_err(), "a write whose stock did not answer fails");
    let fields = pb::ProductFields {
        name: Some("Never".into()),
        price: Some("1.00".into()),
        stock: Some("4".into()),
        ..Default::default()
    };
    assert!(
        call(stalled.create_product(authed(pb::CreateProductRequest { fields: Some(fields) }, Some(&owner))))
            .await
            .is_err()
    );
    assert!(call(stalled.import_products(authed(import_of(&["Lost", "Gone"]), Some(&owner)))).await.is_err());

    ctx.assert_untouched(&owner, &product, "while order's answers are held").await;
    link.release();
    // Order answers again, to the late undo too; the recovery settles
    // what is left. Still nothing of the three writes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    ctx.assert_untouched(&owner, &product, "after the link recovered").await;
    let changed = update(&mut stalled, &owner, product.id, renamed_with_stock("Later", "5")).await;
    assert_eq!(changed.expect("a later write").name, "Later");
    assert_eq!(ctx.stock(product.id).await, 5);
}

/// Order is gone: the writes fail at once and change nothing.
async fn a_product_write_with_order_gone_changes_nothing(ctx: Arc<Ctx>) {
    let (owner, _) = ctx.vendor(true).await;
    let product = ctx.product(&owner).await.expect("created");
    let link = StallingLink::to(ctx.order_addr.clone()).await;
    let mut cut_off = ctx.catalog_via(&link).await;
    link.cut();
    let refused = update(&mut cut_off, &owner, product.id, renamed_with_stock("Half", "99")).await;
    assert!(matches!(refused.expect_err("order gone").kind, ErrorKind::Unavailable | ErrorKind::Timeout));
    ctx.assert_untouched(&owner, &product, "with order gone").await;
    link.restore();
    let changed = update(&mut cut_off, &owner, product.id, renamed_with_stock("Back", "6")).await;
    assert_eq!(changed.expect("order is back").name, "Back");
    assert_eq!(ctx.stock(product.id).await, 6);
}

async fn a_write_with_stock_moves_the_product_in_every_listing(ctx: Arc<Ctx>) {
    let (owner, vendor_id) = ctx.vendor(true).await;
    let product = ctx.product(&owner).await.expect("created");
    let admin = ctx.login(&ctx.admin_email).await;
    let listed = |active: &'static str| {
        let ctx = ctx.clone();
        let admin = admin.clone();
        async move {
            let request = pb::ListProductsRequest {
                all: true,
                active: Some(active.into()),
                vendor: Some(vendor_id.to_string()),
                ..Default::default()
            };
            let page = call(ctx.catalog().list_products(authed(request, Some(&admin)))).await.expect("page");
            page.products.iter().map(|p| p.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("true").await, [product.id]);
    // Every field, as the console's form sends them, by an admin.
    let fields = pb::ProductFields {
        name: Some(product.name.clone()),
        price: Some(product.price.clone()),
        stock: Some("9".into()),
        category: Some("null".into()),
        description: Some(String::new()),
        sku: Some(String::new()),
        is_active: Some(false),
    };
    update(&mut ctx.catalog(), &admin, product.id, fields).await.expect("deactivated");
    assert_eq!(listed("false").await, [product.id], "among the inactive");
    assert_eq!(listed("true").await, Vec::<i64>::new(), "not among the active");
}

fn refusal<T: std::fmt::Debug>(result: Result<T, ApiError>) -> ErrorKind {
    result.expect_err("refused").kind
}

/// The stock-write RPCs carry no user token: a write's id is the
/// capability, and each RPC acts only on a write in the state it is for.
async fn stock_write_rpcs_act_only_on_writes_catalog_holds_open_or_abandoned(ctx: Arc<Ctx>) {
    let mut order = OrderClient::new(ctx.order.clone());
    let write = |id: &str| order_pb::StockWriteRequest { write_id: id.to_owned() };
    let read = |id: &str| pb::GetStockWriteRequest { write_id: id.to_owned() };
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(refusal(call(ctx.catalog().get_stock_write(read("not-an-id"))).await), ErrorKind::Invalid);
    assert_eq!(refusal(call(ctx.catalog().get_stock_write(read(&unknown))).await), ErrorKind::NotFound);
    assert_eq!(refusal(call(order.apply_stock_write(write("not-an-id"))).await), ErrorKind::Invalid);
    assert_eq!(refusal(call(order.apply_stock_write(write(&unknown))).await), ErrorKind::NotFound);
    assert_eq!(refusal(call(order.undo_stock_write(write(&unknown))).await), ErrorKind::NotFound);

    // A published write: it reads as such, and can be neither applied again
    // nor taken back.
    let (owner, vendor_id) = ctx.vendor(true).await;
    let product = ctx.product(&owner).await.expect("created");
    let infra = &ctx.catalog_config.infra;
    let db = common::db::connect(&infra.mysql_url, &infra.schema(catalog::SCHEMA), 1, &catalog::MIGRATOR)
        .await
        .expect("catalog schema");
    let published: String = sqlx::query_scalar("SELECT write_id FROM stock_write_levels WHERE product_id = ?")
        .bind(product.id)
        .fetch_one(&db)
        .await
        .expect("the create's write");
    let recorded = call(ctx.catalog().get_stock_write(read(&published))).await.expect("write");
    assert_eq!(recorded.state(), pb::StockWriteState::Published);
    let levels: Vec<_> = recorded.levels.iter().map(|l| (l.product_id, l.vendor_id, l.available)).collect();
    assert_eq!(levels, [(product.id, vendor_id, 3)]);
    let again = call(order.apply_stock_write(write(&published))).await.expect_err("published");
    assert_eq!((again.kind, again.code.as_deref()), (ErrorKind::Conflict, Some("stock_write_closed")));
    let undo = call(order.undo_stock_write(write(&published))).await.expect_err("published");
    assert_eq!((undo.kind, undo.code.as_deref()), (ErrorKind::Conflict, Some("stock_write_open")));
    assert_eq!(ctx.stock(product.id).await, 3);
    db.close().await;
}
