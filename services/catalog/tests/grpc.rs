//! Catalog over real gRPC against the real MariaDB and Redis, with a real
//! identity beside it (catalog asks it who vendors are): the RPCs other
//! services rely on, and the authorisation each one applies.
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::cases;
use common::config::Infra;
use common::grpc_client::ServiceChannel;
use common::shutdown::CancellationToken;
use common::{ApiError, ErrorKind};
use proto::catalog::v1 as pb;
use proto::catalog::v1::catalog_client::CatalogClient;
use proto::identity::v1 as id_pb;
use proto::identity::v1::identity_client::IdentityClient;

const PASSWORD: &str = "Tr1cky-Horse-92";

struct Ctx {
    catalog: ServiceChannel,
    identity: ServiceChannel,
    admin_email: String,
}

fn main() -> ExitCode {
    common::testkit::service_suite(
        "catgrpc",
        &[identity::SCHEMA, catalog::SCHEMA],
        |infra, stop| async move { start(&infra, &stop).await },
        cases![Ctx;
            writes_need_an_approved_vendor,
            authorize_product_write_names_the_vendor_for_owner_and_admin_only,
            get_products_returns_any_state_but_deleted,
            own_listing_needs_the_vendor_role,
            refresh_vendor_hides_a_suspended_vendors_products,
        ],
        4,
    )
}

async fn start(infra: &Infra, stop: &CancellationToken) -> Result<Ctx, common::StartupError> {
    let (identity_addr, admin_email) = identity::serve_for_tests(infra, PASSWORD, stop.clone()).await?;

    let mut catalog_config = catalog::Config::from_env(infra.clone())?;
    catalog_config.identity_addr = identity_addr.clone();
    let catalog_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let catalog_addr = catalog_listener.local_addr()?.to_string();
    let catalog = catalog::start(&catalog_config).await?;
    tokio::spawn(catalog.serve(catalog_listener, stop.clone()));
    Ok(Ctx {
        catalog: common::grpc_client::lazy_channel(&catalog_addr)?,
        identity: common::grpc_client::lazy_channel(&identity_addr)?,
        admin_email,
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
        let request = id_pb::LoginRequest { email: Some(email.into()), password: Some(PASSWORD.into()) };
        call(self.identity().login(request)).await.expect("login").access
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

    /// A vendor token and its profile id; approved when asked.
    async fn vendor(&self, approved: bool) -> (String, i64) {
        let token = self.user("vendor").await;
        let request = id_pb::CreateVendorRequest { shop_name: Some(format!("Shop {}", unique())), description: None };
        let profile = call(self.identity().create_vendor(authed(request, Some(&token)))).await.expect("profile");
        if approved {
            let admin = self.login(&self.admin_email).await;
            let request = id_pb::VerifyVendorRequest { vendor_id: profile.id, status: None };
            call(self.identity().verify_vendor(authed(request, Some(&admin)))).await.expect("approved");
        }
        (token, profile.id)
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
        (product.vendor, product.price.as_str(), product.vendor_status.as_str()),
        (vendor_id, "9.99", "approved")
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
    let request = id_pb::VerifyVendorRequest { vendor_id, status: Some("suspended".into()) };
    call(ctx.identity().verify_vendor(authed(request, Some(&admin)))).await.expect("suspended");
    call(ctx.catalog().refresh_vendor(pb::RefreshVendorRequest { vendor_id })).await.expect("refreshed");
    let page = call(ctx.catalog().list_products(public)).await.expect("page");
    assert!(page.products.is_empty());
    let detail = call(ctx.catalog().get_product(pb::GetProductRequest { id: product.id })).await;
    assert_eq!(detail.expect_err("hidden").kind, ErrorKind::NotFound);
}
