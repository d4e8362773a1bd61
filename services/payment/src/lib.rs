//! Payment service: one open payment per order at the provider, signed
//! provider webhooks applied exactly once through a status machine that
//! never moves backwards, refunds when an order is cancelled, and events
//! for every status change.
pub mod clients;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod provider;
pub mod signature;
pub mod store;
pub mod stripe;

use std::sync::Arc;
use std::time::Duration;

use common::StartupError;
use common::auth::KeyRing;
use common::config::{Infra, PaymentProviderKind, defaults};
use common::events::{Consumer, ParkedEvents, ParkedEventsService, Relay};
use common::grpc_client::lazy_channel;
use common::grpc_server::Serving;
use common::identity_keys::IdentityKeySource;
use common::shutdown::CancellationToken;
use proto::order::v1::order_event::Event as OrderEvent;
use proto::payment::v1::payment_server::PaymentServer;
use sqlx::MySqlPool;
use tokio::net::TcpListener;

use crate::clients::Orders;
use crate::grpc::PaymentService;
use crate::provider::{PaymentProvider, Sandbox};
use crate::store::Store;
use crate::stripe::Stripe;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();
pub const SCHEMA: &str = "payment";
pub const GRPC_NAME: &str = "marketplace.payment.v1.Payment";

/// The payment service's settings: each flag also reads the environment
/// variable named in `--help`.
#[derive(Clone, clap::Parser)]
#[command(name = "payment", version, about = "Payment service: payments at the provider, signed webhooks, refunds")]
pub struct Config {
    #[command(flatten)]
    pub infra: Infra,
    #[command(flatten)]
    pub serving: Serving,
    /// gRPC listen address.
    #[arg(long, env = "GRPC_ADDR", default_value = defaults::payment::LISTEN)]
    pub grpc_addr: String,
    /// MySQL pool size.
    #[arg(long = "payment-db-connections", env = "PAYMENT_DB_CONNECTIONS", default_value = "10")]
    pub max_db_connections: u32,
    /// Webhook signing secret(s), comma-separated during a rotation (any
    /// verifies; the first signs what the sandbox sends). Required: the
    /// fleet sets its development one.
    #[arg(long = "webhook-secret", env = "WEBHOOK_SECRET", value_name = "SECRETS", value_delimiter = ',')]
    pub webhook_secrets: Vec<String>,
    /// `sandbox` (the development default; anyone may "pay" their order) or
    /// `stripe`; production must name one.
    #[arg(long = "payment-provider", env = "PAYMENT_PROVIDER")]
    pub provider: Option<PaymentProviderKind>,
    /// Stripe's secret API key, required with `stripe`.
    #[arg(long = "stripe-secret-key", env = "STRIPE_SECRET_KEY")]
    pub stripe_secret_key: Option<String>,
    /// Stripe's API base.
    #[arg(long = "stripe-api-url", env = "STRIPE_API_URL", default_value = stripe::DEFAULT_API_URL)]
    pub stripe_api_url: String,
    /// Where the sandbox provider sends its webhooks: the gateway's
    /// `/payments/webhook/`.
    #[arg(long = "payment-webhook-url", env = "PAYMENT_WEBHOOK_URL", default_value = defaults::PAYMENT_WEBHOOK_URL)]
    pub webhook_url: String,
    /// Identity: token keys. One `host:port`, a comma-separated list, or a DNS name for many replicas.
    #[arg(long = "identity-addr", env = "IDENTITY_ADDR", default_value = defaults::identity::LOCAL)]
    pub identity_addr: String,
    /// Order: amount, owner and status of the order being paid.
    #[arg(long = "order-addr", env = "ORDER_ADDR", default_value = defaults::order::LOCAL)]
    pub order_addr: String,
    /// Deadline of each call to order, milliseconds.
    #[arg(
        long = "downstream-timeout-ms",
        env = "DOWNSTREAM_TIMEOUT_MS",
        default_value = defaults::DOWNSTREAM_TIMEOUT_MS,
        value_parser = common::cli::millis
    )]
    pub downstream_timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("infra", &self.infra)
            .field("grpc_addr", &self.grpc_addr)
            .field("order_addr", &self.order_addr)
            .field("webhook_secrets", &format!("{} secret(s)", self.webhook_secrets.len()))
            .field("webhook_url", &self.webhook_url)
            .field("provider", &self.provider)
            .field("stripe_api_url", &self.stripe_api_url)
            .finish()
    }
}

impl Config {
    /// From the environment alone, on `infra` (the fleet's, or a test's).
    pub fn from_env(infra: Infra) -> Result<Self, StartupError> {
        Self { infra, ..common::cli::from_env()? }.checked()
    }

    /// What clap cannot check: the shared settings, the secrets' list
    /// (blank entries dropped), the production profile's refusals, and the
    /// provider's key.
    pub fn checked(self) -> Result<Self, StartupError> {
        let infra = self.infra.checked()?;
        let secrets: Vec<String> =
            self.webhook_secrets.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        let profile = infra.profile;
        profile.require("WEBHOOK_SECRET", secrets.first().map(String::as_str))?;
        for secret in &secrets {
            profile.refuse_development_secret("WEBHOOK_SECRET", secret)?;
        }
        let provider = PaymentProviderKind::chosen(self.provider, profile)?;
        if provider == PaymentProviderKind::Stripe && self.stripe_secret_key.is_none() {
            return Err(StartupError::Config("STRIPE_SECRET_KEY must be set with PAYMENT_PROVIDER=stripe".into()));
        }
        Ok(Self { infra, webhook_secrets: secrets, ..self })
    }
}

pub struct Payment {
    pool: MySqlPool,
    serving: Serving,
    service: PaymentService,
    relay: Relay,
    order_events: Consumer<OrderEvent>,
    provider: Arc<dyn PaymentProvider>,
    keys: Arc<KeyRing>,
}

/// The events payment's consumer parked, with the handler that replays
/// them (it refunds through `provider`).
pub fn parked_events(pool: MySqlPool, provider: Arc<dyn PaymentProvider>) -> ParkedEvents {
    ParkedEvents::new(pool).consumer("payment", events::OrderEvents { provider })
}

/// The configured payment provider, and the sandbox again when it is the
/// sandbox (its "complete" call exists only then).
pub type Providers = (Arc<dyn PaymentProvider>, Option<Arc<Sandbox>>);

/// Builds the provider the configuration names.
pub fn provider(config: &Config) -> Result<Providers, StartupError> {
    Ok(match PaymentProviderKind::chosen(config.provider, config.infra.profile)? {
        PaymentProviderKind::Sandbox => {
            let sandbox = Arc::new(Sandbox::new(config.webhook_secrets.clone(), config.webhook_url.clone())?);
            (sandbox.clone(), Some(sandbox))
        }
        PaymentProviderKind::Stripe => {
            let key = config.stripe_secret_key.clone().unwrap_or_default();
            (Arc::new(Stripe::new(key, config.stripe_api_url.clone(), config.webhook_secrets.clone())?), None)
        }
    })
}

pub async fn start(config: &Config) -> Result<Payment, StartupError> {
    if config.webhook_secrets.is_empty() {
        return Err(StartupError::Config("WEBHOOK_SECRET must be set (comma-separated during a rotation)".into()));
    }
    let pool = config.infra.mysql_pool(SCHEMA, config.max_db_connections, &MIGRATOR).await?;
    let redis = config.infra.redis().await?;
    let keys = KeyRing::fetching(IdentityKeySource::new(lazy_channel(&config.identity_addr)?));
    let orders = Orders::new(lazy_channel(&config.order_addr)?, config.downstream_timeout);
    let (provider, sandbox) = provider(config)?;
    let relay = Relay::new(pool.clone(), redis, config.infra.schema_prefix.clone(), "payment");
    let store = Store::new(pool.clone(), relay.notifier());
    let service = PaymentService::new(store, keys.clone(), orders, provider.clone(), sandbox);
    let order_events = Consumer::connect(pool.clone(), &config.infra, "payment").await?;
    Ok(Payment { pool, serving: config.serving.clone(), service, relay, order_events, provider, keys })
}

impl Payment {
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartupError> {
        let relay = tokio::spawn(self.relay.run(shutdown.clone()));
        let handler = events::OrderEvents { provider: self.provider.clone() };
        let consumer = tokio::spawn(self.order_events.run(handler, shutdown.clone()));
        let parked = ParkedEventsService::new(parked_events(self.pool.clone(), self.provider), self.keys);
        let routes = tonic::service::Routes::new(PaymentServer::new(self.service)).add_service(parked.into_server());
        let result =
            common::grpc_server::serve(GRPC_NAME, routes, listener, Some(self.pool), self.serving, shutdown).await;
        let _ = tokio::join!(relay, consumer);
        result
    }
}
