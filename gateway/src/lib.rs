//! The gateway: the public REST API (DRF-compatible, see
//! `shared/api/CONTRACT.md`) in front of the marketplace's gRPC services.
//!
//! Requests pass, outermost first: trailing-slash normalisation, the
//! request's span, JSON error bodies, metrics, the gateway's capacity and
//! request timeout (503 beyond them), the 1 MiB body cap, then the route.
//! Handlers take their caller from an auth extractor, parse the body with
//! `Form`, call one or more services under a deadline, and render DRF
//! shapes.
pub mod auth;
pub mod body;
pub mod client_ip;
pub mod clients;
pub mod console;
pub mod conventions;
pub mod error;
pub mod idempotency;
pub mod list_cache;
pub mod load_shed;
pub mod metrics;
pub mod openapi;
pub mod origin;
pub mod pagination;
pub mod rate_limit;
pub mod request_span;
pub mod routes;
pub mod statuses;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get};
use common::StartupError;
use common::auth::KeyRing;
use common::config::{Infra, PaymentProviderKind, defaults};
use common::identity_keys::IdentityKeySource;
use common::shutdown::CancellationToken;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tower::ServiceExt as _;
use utoipa_axum::router::OpenApiRouter;

use crate::client_ip::Cidrs;
use crate::clients::{Addresses, Downstream};
use crate::rate_limit::RateLimiter;

/// The gateway's settings: each flag also reads the environment variable
/// named in `--help`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "gateway", version, about = "The marketplace's REST API in front of its gRPC services")]
pub struct Config {
    #[command(flatten)]
    pub infra: Infra,
    /// REST listen address (also /healthz, /readyz, /metrics, /api/docs/).
    #[arg(long, env = "HTTP_ADDR", default_value = defaults::gateway::LISTEN)]
    pub http_addr: String,
    #[command(flatten)]
    pub services: Addresses,
    /// Deadline of every call to a service, milliseconds: 503 when it is
    /// down, 504 past the deadline.
    #[arg(
        long = "downstream-timeout-ms",
        env = "DOWNSTREAM_TIMEOUT_MS",
        default_value = defaults::DOWNSTREAM_TIMEOUT_MS,
        value_parser = common::cli::millis
    )]
    pub downstream_timeout: Duration,
    /// Failed logins per IP or email in 60 s before 429 (0 = off).
    #[arg(long = "login-failure-limit", env = "LOGIN_FAILURE_LIMIT", default_value = "10")]
    pub login_failure_limit: u32,
    /// Registrations per IP per hour (0 = off).
    #[arg(long = "register-rate-limit", env = "REGISTER_RATE_LIMIT", default_value = "300")]
    pub register_rate_limit: u32,
    /// Comma-separated CIDRs of proxies whose forwarded headers are believed.
    #[arg(long = "trusted-proxies", env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: Cidrs,
    /// `http(s)://host[:port][/prefix]` that links in responses start with;
    /// required in production.
    #[arg(long = "public-url", env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// `sandbox` or `stripe`, as the payment service's: the sandbox's
    /// "complete" route exists only with the sandbox.
    #[arg(long = "payment-provider", env = "PAYMENT_PROVIDER")]
    pub payment_provider: Option<PaymentProviderKind>,
    /// Requests served at once; more are answered 503 at once.
    #[arg(long = "max-in-flight", env = "MAX_IN_FLIGHT", default_value = "1024")]
    pub max_in_flight: usize,
    /// Longest a request is worked on before it is answered 503,
    /// milliseconds.
    #[arg(
        long = "request-timeout-ms",
        env = "REQUEST_TIMEOUT_MS",
        default_value = "15000",
        value_parser = common::cli::millis
    )]
    pub request_timeout: Duration,
}

impl Config {
    /// From the environment alone, on `infra` (the fleet's, or a test's).
    pub fn from_env(infra: Infra) -> Result<Self, StartupError> {
        Self { infra, ..common::cli::from_env()? }.checked()
    }

    /// What clap cannot check: the shared settings, the public URL's shape
    /// and the production profile's refusals.
    pub fn checked(self) -> Result<Self, StartupError> {
        let infra = self.infra.checked()?;
        let public_url = self.public_url.as_deref();
        infra.profile.require("PUBLIC_URL", public_url)?;
        infra.profile.refuse_development_secret("PUBLIC_URL", public_url.unwrap_or_default())?;
        if let Some(url) = public_url {
            origin::check_public_url(url).map_err(|e| StartupError::Config(format!("PUBLIC_URL={url:?} {e}")))?;
        }
        PaymentProviderKind::chosen(self.payment_provider, infra.profile)?;
        Ok(Self { infra, ..self })
    }

    /// The sandbox is the payment provider, so its "complete" route exists.
    pub fn sandbox_payments(&self) -> bool {
        self.payment_provider.is_none_or(|kind| kind == PaymentProviderKind::Sandbox)
    }
}

pub struct Shared {
    pub config: Config,
    pub keys: Arc<KeyRing>,
    pub downstream: Downstream,
    pub limiter: RateLimiter,
    pub redis: redis::aio::ConnectionManager,
    /// Reads the catalog version (and nothing else: the listing cache
    /// itself is in-process).
    pub cache: common::cache::Cache,
    pub catalog_version_key: String,
    pub list_cache: list_cache::ListCache,
    pub stock_cache: list_cache::StockCache,
    pub metrics: PrometheusHandle,
    pub openapi: openapi::Rendered,
}

/// What every handler sees.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Every documented route, with its OpenAPI description.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(routes::users::router())
        .merge(routes::vendors::router())
        .merge(routes::categories::router())
        .merge(routes::product_facets::router())
        .merge(routes::product_import::router())
        .merge(routes::products::router())
        .merge(routes::cart::router())
        .merge(routes::orders::router())
        .merge(routes::payments::router())
        .merge(routes::analytics::router())
}

/// The OpenAPI document, without needing a running gateway.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::document(api_routes().split_for_parts().1)
}

pub struct Gateway {
    router: Router,
}

impl Gateway {
    /// Connects to Redis and prepares (lazy) channels to every service.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let redis = common::redis_conn::connect(&config.infra.redis_url).await?;
        let downstream = Downstream::new(&config.services, config.downstream_timeout)?;
        let keys = KeyRing::fetching(IdentityKeySource::new(downstream.identity_channel()));
        let capacity = load_shed::Capacity::new(config.max_in_flight, config.request_timeout);
        let (api, openapi) = api_routes().split_for_parts();
        let openapi = openapi::Rendered::new(&openapi::document(openapi)).map_err(StartupError::Config)?;
        let state = AppState(Arc::new(Shared {
            limiter: RateLimiter::new(redis.clone(), &config.infra.schema_prefix),
            redis: redis.clone(),
            cache: common::cache::Cache::new(redis, "gateway"),
            catalog_version_key: common::cache::catalog_version_key(&config.infra.schema_prefix),
            list_cache: list_cache::ListCache::new(4096),
            stock_cache: list_cache::StockCache::new(200_000),
            config,
            keys,
            downstream,
            metrics: common::metrics::handle(),
            openapi,
        }));
        let router = api
            .route("/healthz", get(routes::ops::healthz))
            .route("/readyz", get(routes::ops::readyz))
            .route("/metrics", get(routes::ops::metrics))
            .route("/api/schema/", get(openapi::schema))
            .route("/", any(console::root))
            .merge(console::router(state.clone()))
            .merge(openapi::swagger_ui())
            .fallback(conventions::not_found)
            .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
            .layer(axum::middleware::from_fn_with_state(capacity, load_shed::shed))
            .layer(axum::middleware::from_fn(metrics::record))
            .layer(axum::middleware::from_fn(conventions::json_error_bodies))
            .layer(axum::middleware::from_fn(request_span::trace))
            .with_state(state);
        Ok(Self { router })
    }

    /// Serves until `shutdown`, then finishes in-flight requests.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartupError> {
        // Histogram samples are folded into buckets by the exporter's
        // upkeep; run it even when nobody scrapes /metrics.
        common::metrics::spawn_upkeep(shutdown.clone());
        let app = self.router.map_request(conventions::add_trailing_slash);
        axum::serve(
            origin::GatewayListener(listener),
            axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<origin::Connection>(app),
        )
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|e| StartupError::Serve(format!("gateway: {e}")))
    }
}
