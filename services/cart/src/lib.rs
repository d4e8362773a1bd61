//! Cart service: each customer's cart, lines checked against the product
//! (catalog) and its stock (order) when they change, and pruned of
//! products that can no longer be bought whenever the cart is read.
pub mod clients;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod store;

use common::cache::Cache;
use common::product_snapshots::ProductSnapshots;
use std::sync::Arc;
use std::time::Duration;

use common::StartupError;
use common::auth::KeyRing;
use common::config::{Infra, defaults};
use common::events::{Consumer, ParkedEvents, ParkedEventsService};
use common::grpc_client::lazy_channel;
use common::grpc_server::Serving;
use common::identity_keys::IdentityKeySource;
use common::shutdown::CancellationToken;
use proto::cart::v1::cart_server::CartServer;
use proto::order::v1::order_event::Event as OrderEvent;
use sqlx::MySqlPool;
use tokio::net::TcpListener;

use crate::clients::Downstream;
use crate::grpc::CartService;
use crate::store::Store;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();
pub const SCHEMA: &str = "cart";
pub const GRPC_NAME: &str = "marketplace.cart.v1.Cart";

/// The cart service's settings: each flag also reads the environment
/// variable named in `--help`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "cart", version, about = "Cart service: each customer's cart, checked against catalog and stock")]
pub struct Config {
    #[command(flatten)]
    pub infra: Infra,
    #[command(flatten)]
    pub serving: Serving,
    /// gRPC listen address.
    #[arg(long, env = "GRPC_ADDR", default_value = defaults::cart::LISTEN)]
    pub grpc_addr: String,
    /// MySQL pool size.
    #[arg(long = "cart-db-connections", env = "CART_DB_CONNECTIONS", default_value = "10")]
    pub max_db_connections: u32,
    /// Identity: token keys. One `host:port`, a comma-separated list, or a DNS name for many replicas.
    #[arg(long = "identity-addr", env = "IDENTITY_ADDR", default_value = defaults::identity::LOCAL)]
    pub identity_addr: String,
    /// Catalog: is a product active, its price.
    #[arg(long = "catalog-addr", env = "CATALOG_ADDR", default_value = defaults::catalog::LOCAL)]
    pub catalog_addr: String,
    /// Order: available stock.
    #[arg(long = "order-addr", env = "ORDER_ADDR", default_value = defaults::order::LOCAL)]
    pub order_addr: String,
    /// Deadline of each call to catalog and order, milliseconds.
    #[arg(
        long = "downstream-timeout-ms",
        env = "DOWNSTREAM_TIMEOUT_MS",
        default_value = defaults::DOWNSTREAM_TIMEOUT_MS,
        value_parser = common::cli::millis
    )]
    pub downstream_timeout: Duration,
    /// Currency of cart totals.
    #[arg(long, env = "CURRENCY", default_value = defaults::CURRENCY)]
    pub currency: String,
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

pub struct Cart {
    pool: MySqlPool,
    serving: Serving,
    service: CartService,
    order_events: Consumer<OrderEvent>,
    keys: Arc<KeyRing>,
}

/// The events cart's consumer parked, with the handler that replays them.
pub fn parked_events(pool: MySqlPool) -> ParkedEvents {
    ParkedEvents::new(pool).consumer("cart", events::OrderEvents)
}

pub async fn start(config: &Config) -> Result<Cart, StartupError> {
    let pool = config.infra.mysql_pool(SCHEMA, config.max_db_connections, &MIGRATOR).await?;
    let keys = KeyRing::fetching(IdentityKeySource::new(lazy_channel(&config.identity_addr)?));
    let redis = config.infra.redis().await?;
    let snapshots = ProductSnapshots::new(Cache::new(redis, "cart"), &config.infra.schema_prefix);
    let downstream = Downstream::new(
        lazy_channel(&config.catalog_addr)?,
        lazy_channel(&config.order_addr)?,
        config.downstream_timeout,
        snapshots,
    );
    let service = CartService::new(Store::new(pool.clone()), keys.clone(), downstream, config.currency.clone());
    let order_events = Consumer::connect(pool.clone(), &config.infra, "cart").await?;
    Ok(Cart { pool, serving: config.serving.clone(), service, order_events, keys })
}

impl Cart {
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartupError> {
        let consumer = tokio::spawn(self.order_events.run(events::OrderEvents, shutdown.clone()));
        let parked = ParkedEventsService::new(parked_events(self.pool.clone()), self.keys);
        let routes = tonic::service::Routes::new(CartServer::new(self.service)).add_service(parked.into_server());
        let result =
            common::grpc_server::serve(GRPC_NAME, routes, listener, Some(self.pool), self.serving, shutdown).await;
        let _ = consumer.await;
        result
    }
}
