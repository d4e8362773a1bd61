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
use common::config::{Infra, PaymentProviderKind, env_opt, env_or};
use common::events::{Consumer, ParkedEvents, ParkedEventsService, Relay};
use common::grpc_client::lazy_channel;
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

#[derive(Clone)]
pub struct Config {
    pub infra: Infra,
    pub identity_addr: String,
    pub order_addr: String,
    pub downstream_timeout: Duration,
    /// Webhook secrets, comma-separated (several during a rotation; the
    /// first signs what the sandbox sends). No default: the fleet sets its
    /// development one.
    pub webhook_secrets: Vec<String>,
    /// Where the sandbox provider sends its webhooks (the gateway's
    /// `/payments/webhook/`).
    pub webhook_url: String,
    pub max_db_connections: u32,
    /// `PAYMENT_PROVIDER`: the sandbox (development default) or Stripe.
    pub provider: PaymentProviderKind,
    /// `STRIPE_SECRET_KEY`, required with Stripe.
    pub stripe_secret_key: Option<String>,
    pub stripe_api_url: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("infra", &self.infra)
            .field("order_addr", &self.order_addr)
            .field("webhook_secrets", &format!("{} secret(s)", self.webhook_secrets.len()))
            .field("webhook_url", &self.webhook_url)
            .field("provider", &self.provider)
            .field("stripe_api_url", &self.stripe_api_url)
            .finish()
    }
}

impl Config {
    pub fn from_env(infra: Infra) -> Result<Self, StartupError> {
        let secrets: Vec<String> = env_opt("WEBHOOK_SECRET")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let profile = infra.profile;
        profile.require("WEBHOOK_SECRET", secrets.first().map(String::as_str))?;
        for secret in &secrets {
            profile.refuse_development_secret("WEBHOOK_SECRET", secret)?;
        }
        let provider = PaymentProviderKind::from_env(profile)?;
        let stripe_secret_key = env_opt("STRIPE_SECRET_KEY");
        if provider == PaymentProviderKind::Stripe && stripe_secret_key.is_none() {
            return Err(StartupError::Config("STRIPE_SECRET_KEY must be set with PAYMENT_PROVIDER=stripe".into()));
        }
        Ok(Self {
            infra,
            identity_addr: env_or("IDENTITY_ADDR", "127.0.0.1:50051".to_owned())?,
            order_addr: env_or("ORDER_ADDR", "127.0.0.1:50054".to_owned())?,
            downstream_timeout: Duration::from_millis(env_or("DOWNSTREAM_TIMEOUT_MS", 5000)?),
            webhook_secrets: secrets,
            webhook_url: env_or("PAYMENT_WEBHOOK_URL", "http://127.0.0.1:8000/payments/webhook/".to_owned())?,
            max_db_connections: env_or("PAYMENT_DB_CONNECTIONS", 10)?,
            provider,
            stripe_secret_key,
            stripe_api_url: env_or("STRIPE_API_URL", stripe::DEFAULT_API_URL.to_owned())?,
        })
    }
}

pub struct Payment {
    pool: MySqlPool,
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
    Ok(match config.provider {
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
    Ok(Payment { pool, service, relay, order_events, provider, keys })
}

impl Payment {
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartupError> {
        let relay = tokio::spawn(self.relay.run(shutdown.clone()));
        let handler = events::OrderEvents { provider: self.provider.clone() };
        let consumer = tokio::spawn(self.order_events.run(handler, shutdown.clone()));
        let parked = ParkedEventsService::new(parked_events(self.pool.clone(), self.provider), self.keys);
        let routes = tonic::service::Routes::new(PaymentServer::new(self.service)).add_service(parked.into_server());
        let result = common::grpc_server::serve(GRPC_NAME, routes, listener, Some(self.pool), shutdown).await;
        let _ = tokio::join!(relay, consumer);
        result
    }
}
