//! Order service: orders (placed all or nothing against the inventory,
//! refunded exactly once, cancelled when their reservation expires) and
//! the inventory itself, which lives here because checkout takes its row
//! locks.
pub mod clients;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use common::StartupError;
use common::auth::KeyRing;
use common::cache::Cache;
use common::config::{Infra, defaults};
use common::events::{Consumer, ParkedEvents, ParkedEventsService, Relay};
use common::grpc_server::Serving;
use common::identity_keys::IdentityKeySource;
use common::product_snapshots::ProductSnapshots;
use common::shutdown::CancellationToken;
use proto::order::v1::order_server::OrderServer;
use proto::payment::v1::payment_event::Event as PaymentEvent;
use sqlx::MySqlPool;
use tokio::net::TcpListener;

use crate::clients::Catalog;
use crate::grpc::{CheckoutRules, OrderService};
use crate::store::Store;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();
pub const SCHEMA: &str = "orders";
pub const GRPC_NAME: &str = "marketplace.order.v1.Order";

/// The order service's settings: each flag also reads the environment
/// variable named in `--help`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "order", version, about = "Order service: orders, the inventory, reservations and refunds")]
pub struct Config {
    #[command(flatten)]
    pub infra: Infra,
    #[command(flatten)]
    pub serving: Serving,
    /// gRPC listen address.
    #[arg(long, env = "GRPC_ADDR", default_value = defaults::order::LISTEN)]
    pub grpc_addr: String,
    /// MySQL pool size.
    #[arg(long = "order-db-connections", env = "ORDER_DB_CONNECTIONS", default_value = "16")]
    pub max_db_connections: u32,
    /// Identity: token keys. One `host:port`, a comma-separated list, or a DNS name for many replicas.
    #[arg(long = "identity-addr", env = "IDENTITY_ADDR", default_value = defaults::identity::LOCAL)]
    pub identity_addr: String,
    /// Catalog: the price snapshot at checkout, product ownership for stock writes.
    #[arg(long = "catalog-addr", env = "CATALOG_ADDR", default_value = defaults::catalog::LOCAL)]
    pub catalog_addr: String,
    /// Deadline of each call to catalog, milliseconds.
    #[arg(
        long = "downstream-timeout-ms",
        env = "DOWNSTREAM_TIMEOUT_MS",
        default_value = defaults::DOWNSTREAM_TIMEOUT_MS,
        value_parser = common::cli::millis
    )]
    pub downstream_timeout: Duration,
    /// Currency of new orders.
    #[arg(long, env = "CURRENCY", default_value = defaults::CURRENCY)]
    pub currency: String,
    /// How long an unpaid order holds its stock before the reaper cancels
    /// it, seconds.
    #[arg(long = "reservation-ttl", env = "RESERVATION_TTL", default_value = "1800", value_parser = common::cli::secs)]
    pub reservation_ttl: Duration,
    /// How often expired reservations are looked for, milliseconds.
    #[arg(
        long = "reaper-interval-ms",
        env = "REAPER_INTERVAL_MS",
        default_value = "5000",
        value_parser = common::cli::millis
    )]
    pub reaper_interval: Duration,
    /// Unpaid orders a customer may have at once (0: no cap).
    #[arg(long = "max-pending-orders", env = "MAX_PENDING_ORDERS", default_value = "50")]
    pub max_pending_orders: u32,
    /// Whether this replica applies payment events (tests switch it off to
    /// play a consumer that is down).
    #[arg(skip = true)]
    pub consume_payment_events: bool,
}

impl Config {
    /// From the environment alone, on `infra` (the fleet's, or a test's).
    pub fn from_env(infra: Infra) -> Result<Self, StartupError> {
        Self { infra, ..common::cli::from_env()? }.checked()
    }

    /// What clap cannot check: the shared settings.
    pub fn checked(self) -> Result<Self, StartupError> {
        Ok(Self { infra: self.infra.checked()?, ..self })
    }
}

pub struct Order {
    pool: MySqlPool,
    serving: Serving,
    service: Arc<OrderService>,
    relay: Relay,
    payment_events: Option<Consumer<PaymentEvent>>,
    reaper_interval: Duration,
    keys: Arc<KeyRing>,
}

/// The events order's consumer parked, with the handler that replays them.
pub fn parked_events(pool: MySqlPool) -> ParkedEvents {
    ParkedEvents::new(pool).consumer("order", events::PaymentEvents)
}

pub async fn start(config: &Config) -> Result<Order, StartupError> {
    let pool = config.infra.mysql_pool(SCHEMA, config.max_db_connections, &MIGRATOR).await?;
    let redis = config.infra.redis().await?;
    let keys = KeyRing::fetching(IdentityKeySource::new(common::grpc_client::lazy_channel(&config.identity_addr)?));
    let snapshots = ProductSnapshots::new(Cache::new(redis.clone(), "order"), &config.infra.schema_prefix);
    let catalog =
        Catalog::new(common::grpc_client::lazy_channel(&config.catalog_addr)?, config.downstream_timeout, snapshots);
    let reservation = chrono::Duration::from_std(config.reservation_ttl)
        .map_err(|_| StartupError::Config("RESERVATION_TTL is too large".into()))?;
    let relay = Relay::new(pool.clone(), redis.clone(), config.infra.schema_prefix.clone(), "order");
    let service = OrderService::new(
        Store::new(pool.clone(), relay.notifier()),
        keys.clone(),
        catalog,
        Cache::new(redis, "order"),
        &config.infra.schema_prefix,
        CheckoutRules { currency: config.currency.clone(), reservation, max_pending: config.max_pending_orders },
    );
    let payment_events = if config.consume_payment_events {
        Some(Consumer::connect(pool.clone(), &config.infra, "order").await?)
    } else {
        None
    };
    Ok(Order {
        pool,
        serving: config.serving.clone(),
        service: Arc::new(service),
        relay,
        payment_events,
        reaper_interval: config.reaper_interval,
        keys,
    })
}

impl Order {
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartupError> {
        let reaper = {
            let service = self.service.clone();
            let shutdown = shutdown.clone();
            let interval = self.reaper_interval;
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(interval) => {}
                    }
                    if let Err(error) = service.reap_expired().await {
                        tracing::warn!(%error, "reservation reaper failed; will try again");
                    }
                }
            })
        };
        let relay = tokio::spawn(self.relay.run(shutdown.clone()));
        let consumer = self.payment_events.map(|c| tokio::spawn(c.run(events::PaymentEvents, shutdown.clone())));
        let parked = ParkedEventsService::new(parked_events(self.pool.clone()), self.keys);
        let routes = tonic::service::Routes::new(OrderServer::from_arc(self.service)).add_service(parked.into_server());
        let result =
            common::grpc_server::serve(GRPC_NAME, routes, listener, Some(self.pool), self.serving, shutdown).await;
        reaper.abort();
        let _ = relay.await;
        if let Some(consumer) = consumer {
            let _ = consumer.await;
        }
        result
    }
}
