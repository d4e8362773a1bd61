//! Identity over real gRPC against the real MariaDB: one service per test
//! binary under a unique schema, dropped at the end.
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::auth::KeyRing;
use common::cases;
use common::config::Infra;
use common::grpc_client::ServiceChannel;
use common::shutdown::CancellationToken;
use common::{ApiError, ErrorKind};
use proto::identity::v1 as pb;
use proto::identity::v1::identity_client::IdentityClient;

const PASSWORD: &str = "Tr1cky-Horse-92";

struct Ctx {
    config: identity::Config,
    addr: std::net::SocketAddr,
    channel: ServiceChannel,
    admin_email: String,
}

fn main() -> ExitCode {
    common::testkit::service_suite(
        "idgrpc",
        &[identity::SCHEMA],
        |infra, stop| async move { start(infra, stop).await },
        cases![Ctx;
            register_and_login,
            field_violations_travel_in_status_details,
            refresh_reuse_revokes_the_family,
            concurrent_refreshes_rotate_once,
            logout_needs_a_token_and_its_owner,
            vendor_rpcs_require_the_vendor_role,
            verify_requires_an_admin,
            get_vendors_returns_any_status,
            published_keys_verify_issued_tokens,
            replicas_share_one_signing_key,
            admin_bootstrap_never_overwrites_a_password,
            health_reports_serving,
        ],
        6,
    )
}

async fn start(infra: Infra, stop: CancellationToken) -> Result<Ctx, common::StartupError> {
    let mut config = identity::Config::from_env(infra)?;
    let admin_email = format!("root-{}@example.com", uuid_suffix());
    config.admin = identity::Admin::new(&admin_email, PASSWORD);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(identity::start(&config).await?.serve(listener, stop));
    let channel = common::grpc_client::lazy_channel(&addr.to_string())?;
    Ok(Ctx { config, addr, channel, admin_email })
}

fn uuid_suffix() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_nanos())
}

impl Ctx {
    fn client(&self) -> IdentityClient<ServiceChannel> {
        IdentityClient::new(self.channel.clone())
    }

    fn email(&self, tag: &str) -> String {
        format!("{tag}-{}-{}@example.com", uuid_suffix(), rand_u32())
    }

    async fn register(&self, email: &str, role: &str) -> Result<pb::User, ApiError> {
        let request = pb::RegisterRequest {
            email: Some(email.to_owned()),
            password: Some(PASSWORD.to_owned()),
            password_confirm: Some(PASSWORD.to_owned()),
            role: Some(role.to_owned()),
            ..Default::default()
        };
        call(self.client().register(request)).await
    }

    async fn login(&self, email: &str) -> Result<pb::TokenPair, ApiError> {
        call(
            self.client()
                .login(pb::LoginRequest { email: Some(email.to_owned()), password: Some(PASSWORD.to_owned()) }),
        )
        .await
    }

    async fn vendor_with_profile(&self) -> (pb::TokenPair, pb::Vendor) {
        let vendor = self.user("vendor").await;
        let request = pb::CreateVendorRequest { shop_name: Some(format!("Shop {}", uuid_suffix())), description: None };
        let profile = call(self.client().create_vendor(authed(request, &vendor.access))).await.expect("profile");
        (vendor, profile)
    }

    async fn user(&self, role: &str) -> pb::TokenPair {
        let email = self.email(role);
        self.register(&email, role).await.expect("registered");
        self.login(&email).await.expect("logged in")
    }
}

fn rand_u32() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

async fn call<T>(future: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>) -> Result<T, ApiError> {
    common::grpc_client::call(Duration::from_secs(10), future).await
}

fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    common::grpc_client::request(message, Duration::from_secs(10), Some(token))
}

async fn register_and_login(ctx: Arc<Ctx>) {
    let email = ctx.email("Plain");
    let user = ctx.register(&email, "customer").await.expect("registered");
    assert_eq!(user.email, email.to_lowercase());
    assert_eq!(user.role, "customer");
    let tokens = ctx.login(&email).await.expect("login");
    let profile =
        call(ctx.client().get_profile(authed(pb::GetProfileRequest {}, &tokens.access))).await.expect("profile");
    assert_eq!(profile.id, user.id);
}

async fn field_violations_travel_in_status_details(ctx: Arc<Ctx>) {
    let error = call(ctx.client().register(pb::RegisterRequest { email: Some("nope".into()), ..Default::default() }))
        .await
        .expect_err("invalid");
    assert_eq!(error.kind, ErrorKind::Invalid);
    assert!(error.fields.has("email") && error.fields.has("password") && error.fields.has("password_confirm"));
}

async fn refresh_reuse_revokes_the_family(ctx: Arc<Ctx>) {
    let tokens = ctx.user("customer").await;
    let rotated = call(ctx.client().refresh_token(pb::RefreshTokenRequest { refresh: Some(tokens.refresh.clone()) }))
        .await
        .expect("rotated");
    let reuse = call(ctx.client().refresh_token(pb::RefreshTokenRequest { refresh: Some(tokens.refresh) })).await;
    assert_eq!(reuse.expect_err("reused").kind, ErrorKind::Unauthenticated);
    let after = call(ctx.client().refresh_token(pb::RefreshTokenRequest { refresh: Some(rotated.refresh) })).await;
    assert_eq!(after.expect_err("family revoked").kind, ErrorKind::Unauthenticated);
}

async fn concurrent_refreshes_rotate_once(ctx: Arc<Ctx>) {
    let tokens = ctx.user("customer").await;
    let attempts = (0..12).map(|_| {
        let mut client = ctx.client();
        let refresh = tokens.refresh.clone();
        async move { call(client.refresh_token(pb::RefreshTokenRequest { refresh: Some(refresh) })).await }
    });
    let results = futures::future::join_all(attempts).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| e.kind == ErrorKind::Unauthenticated));
}

async fn logout_needs_a_token_and_its_owner(ctx: Arc<Ctx>) {
    let mine = ctx.user("customer").await;
    let theirs = ctx.user("customer").await;
    let anonymous = call(ctx.client().logout(pb::LogoutRequest { refresh: Some(mine.refresh.clone()) })).await;
    assert_eq!(anonymous.expect_err("needs a token").kind, ErrorKind::Unauthenticated);
    let foreign =
        call(ctx.client().logout(authed(pb::LogoutRequest { refresh: Some(theirs.refresh.clone()) }, &mine.access)))
            .await;
    let foreign = foreign.expect_err("not mine");
    assert_eq!((foreign.kind, foreign.code.as_deref()), (ErrorKind::Invalid, Some("token_not_valid")));
    call(ctx.client().logout(authed(pb::LogoutRequest { refresh: Some(mine.refresh.clone()) }, &mine.access)))
        .await
        .expect("logged out");
    let dead = call(ctx.client().refresh_token(pb::RefreshTokenRequest { refresh: Some(mine.refresh) })).await;
    assert_eq!(dead.expect_err("revoked").kind, ErrorKind::Unauthenticated);
}

async fn vendor_rpcs_require_the_vendor_role(ctx: Arc<Ctx>) {
    let customer = ctx.user("customer").await;
    let request = pb::CreateVendorRequest { shop_name: Some("Not Mine".into()), description: None };
    let denied = call(ctx.client().create_vendor(authed(request, &customer.access))).await;
    assert_eq!(denied.expect_err("customer").kind, ErrorKind::PermissionDenied);
    let anonymous = call(ctx.client().get_my_vendor(pb::GetMyVendorRequest {})).await;
    assert_eq!(anonymous.expect_err("anonymous").kind, ErrorKind::Unauthenticated);
}

async fn verify_requires_an_admin(ctx: Arc<Ctx>) {
    let (vendor, profile) = ctx.vendor_with_profile().await;
    let approve = || pb::VerifyVendorRequest { vendor_id: profile.id, status: pb::VendorStatus::Approved.into() };
    let denied = call(ctx.client().verify_vendor(authed(approve(), &vendor.access))).await;
    assert_eq!(denied.expect_err("vendor").kind, ErrorKind::PermissionDenied);
    let admin = ctx.login(&ctx.admin_email).await.expect("admin login");
    let unstated = pb::VerifyVendorRequest { vendor_id: profile.id, status: pb::VendorStatus::Unspecified.into() };
    let refused = call(ctx.client().verify_vendor(authed(unstated, &admin.access))).await.expect_err("no status");
    assert_eq!(refused.kind, ErrorKind::Invalid);
    let approved = call(ctx.client().verify_vendor(authed(approve(), &admin.access))).await.expect("approved");
    assert_eq!(approved.status(), pb::VendorStatus::Approved);
    assert!(approved.verified_at.is_some());
}

async fn get_vendors_returns_any_status(ctx: Arc<Ctx>) {
    let (_, profile) = ctx.vendor_with_profile().await;
    let found = call(ctx.client().get_vendors(pb::GetVendorsRequest { ids: vec![profile.id, 987_654_321] }))
        .await
        .expect("vendors");
    assert_eq!(found.vendors.len(), 1);
    assert_eq!(found.vendors[0].status(), pb::VendorStatus::Pending);
}

async fn published_keys_verify_issued_tokens(ctx: Arc<Ctx>) {
    let tokens = ctx.user("vendor").await;
    let keys = call(ctx.client().get_public_keys(pb::GetPublicKeysRequest {})).await.expect("keys");
    let ring =
        KeyRing::fixed(&keys.keys.into_iter().map(|k| (k.kid, k.public_key_pem)).collect::<Vec<_>>()).expect("ring");
    let principal = ring.principal(&tokens.access).await.expect("verifies");
    assert_eq!(principal.role, common::auth::Role::Vendor);
}

async fn replicas_share_one_signing_key(ctx: Arc<Ctx>) {
    // A second replica on the same schema signs with the same key.
    let replica = identity::start(&ctx.config).await.expect("replica starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    let server = tokio::spawn(replica.serve(listener, stop.clone()));
    let channel = common::grpc_client::lazy_channel(&addr.to_string()).expect("channel");
    let email = ctx.email("replica");
    ctx.register(&email, "customer").await.expect("registered");
    let from_replica = call(
        IdentityClient::new(channel)
            .login(pb::LoginRequest { email: Some(email), password: Some(PASSWORD.to_owned()) }),
    )
    .await
    .expect("login on the replica");
    // The first replica accepts the second one's token.
    call(ctx.client().get_profile(authed(pb::GetProfileRequest {}, &from_replica.access))).await.expect("accepted");
    stop.cancel();
    let _ = server.await;
    assert_ne!(addr, ctx.addr);
}

async fn admin_bootstrap_never_overwrites_a_password(ctx: Arc<Ctx>) {
    let pool = identity::connect(&ctx.config).await.expect("pool");
    let store = identity::store::Store::new(pool);
    let created = identity::ensure_admin(&store, &ctx.admin_email, "Another-Pass-77").await.expect("ensure");
    assert!(!created);
    ctx.login(&ctx.admin_email).await.expect("the original password still works");
}

async fn health_reports_serving(ctx: Arc<Ctx>) {
    let mut health = tonic_health::pb::health_client::HealthClient::new(ctx.channel.clone());
    // The first report is written right after start; give it a moment.
    for _ in 0..20 {
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest { service: identity::GRPC_NAME.into() })
            .await
            .map(|r| r.into_inner().status);
        if answer.ok() == Some(tonic_health::pb::health_check_response::ServingStatus::Serving as i32) {
            // The binary's `healthcheck` subcommand sees the same.
            common::probe::grpc_serving(&ctx.addr.to_string()).await.expect("probe");
            assert!(common::probe::grpc_serving("127.0.0.1:1").await.is_err());
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("identity never reported SERVING");
}
