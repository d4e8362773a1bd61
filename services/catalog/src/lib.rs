//! Catalog service: the category tree and vendor-owned products, listed and
//! searched through an in-memory index (`index`) in keyset cursor pages;
//! product reads are cached in Redis behind a version counter that every
//! relevant write bumps, and the index catches up when it moves.
//!
//! Vendor names and statuses are kept locally (listings filter on them):
//! refreshed from identity when a vendor writes, when the gateway
//! reports an admin's change (`RefreshVendor`), and by a periodic
//! reconciliation that catches anything in between.
pub mod clients;
pub mod domain;
pub mod grpc;
pub mod import;
pub mod index;
pub mod stock_writes;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use common::StartupError;
use common::auth::KeyRing;
use common::cache::Cache;
use common::config::{Infra, defaults};
use common::grpc_server::Serving;
use common::identity_keys::IdentityKeySource;
use common::shutdown::CancellationToken;
use proto::catalog::v1::catalog_server::CatalogServer;
use sqlx::MySqlPool;
use tokio::net::TcpListener;

use crate::clients::{Identity, Order};
use crate::grpc::CatalogService;
use crate::index::CatalogIndex;
use crate::stock_writes::StockWrites;
use crate::store::Store;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();
pub const SCHEMA: &str = "catalog";
pub const GRPC_NAME: &str = "marketplace.catalog.v1.Catalog";
/// The largest request catalog reads: an import of up to 5 MiB of text
/// grows a little as protobuf (tonic's default is 4 MiB).
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The catalog service's settings: each flag also reads the environment
/// variable named in `--help`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "catalog", version, about = "Catalog service: categories, products, listings and search")]
pub struct Config {
    #[command(flatten)]
    pub infra: Infra,
    #[command(flatten)]
    pub serving: Serving,
    /// gRPC listen address.
    #[arg(long, env = "GRPC_ADDR", default_value = defaults::catalog::LISTEN)]
    pub grpc_addr: String,
    /// MySQL pool size.
    #[arg(long = "catalog-db-connections", env = "CATALOG_DB_CONNECTIONS", default_value = "16")]
    pub max_db_connections: u32,
    /// Identity: token keys and vendor status. One `host:port`, a
    /// comma-separated list, or a DNS name for many replicas.
    #[arg(long = "identity-addr", env = "IDENTITY_ADDR", default_value = defaults::identity::LOCAL)]
    pub identity_addr: String,
    /// Deadline of each call to identity and order, milliseconds.
    #[arg(
        long = "downstream-timeout-ms",
        env = "DOWNSTREAM_TIMEOUT_MS",
        default_value = defaults::DOWNSTREAM_TIMEOUT_MS,
        value_parser = common::cli::millis
    )]
    pub downstream_timeout: Duration,
    /// How often every known vendor's name and status are re-read from
    /// identity, seconds.
    #[arg(
        long = "vendor-reconcile-secs",
        env = "VENDOR_RECONCILE_SECS",
        default_value = "30",
        value_parser = common::cli::secs
    )]
    pub vendor_reconcile_interval: Duration,
    /// Order: stores a product write's stock, and takes back an abandoned
    /// write's.
    #[arg(long = "order-addr", env = "ORDER_ADDR", default_value = defaults::order::LOCAL)]
    pub order_addr: String,
    /// How often product writes left unsettled (order down, a catalog that
    /// died mid-write) are abandoned and their stock taken back, seconds.
    #[arg(
        long = "stock-write-recovery-secs",
        env = "STOCK_WRITE_RECOVERY_SECS",
        default_value = "10",
        value_parser = common::cli::secs
    )]
    pub stock_write_recovery_interval: Duration,
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

pub struct Catalog {
    pool: MySqlPool,
    service: Arc<CatalogService>,
    stock_writes: Arc<StockWrites>,
    reconcile_interval: Duration,
    recovery_interval: Duration,
    serving: Serving,
}

pub async fn start(config: &Config) -> Result<Catalog, StartupError> {
    let pool = config.infra.mysql_pool(SCHEMA, config.max_db_connections, &MIGRATOR).await?;
    let redis = config.infra.redis().await?;
    let identity_channel = common::grpc_client::lazy_channel(&config.identity_addr)?;
    let keys = KeyRing::fetching(IdentityKeySource::new(identity_channel.clone()));
    let store = Store::new(pool.clone());
    let index = Arc::new(CatalogIndex::build(&store).await.map_err(|e| StartupError::Database(e.detail))?);
    let order = Order::new(common::grpc_client::lazy_channel(&config.order_addr)?, config.downstream_timeout);
    let stock_writes = Arc::new(StockWrites::new(store.clone(), order));
    let service = CatalogService::new(
        store,
        keys,
        Identity::new(identity_channel, config.downstream_timeout),
        Cache::new(redis, "catalog"),
        index,
        stock_writes.clone(),
        &config.infra.schema_prefix,
    );
    Ok(Catalog {
        pool,
        service: Arc::new(service),
        stock_writes,
        reconcile_interval: config.vendor_reconcile_interval,
        recovery_interval: config.stock_write_recovery_interval,
        serving: config.serving.clone(),
    })
}

impl Catalog {
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartupError> {
        let service = self.service.clone();
        let reconciler = common::shutdown::spawn_every(
            "vendor reconciliation",
            self.reconcile_interval,
            shutdown.clone(),
            move || {
                let service = service.clone();
                async move { service.reconcile_vendors().await }
            },
        );
        let recovery = self.stock_writes.spawn_recovery(self.recovery_interval, shutdown.clone());
        let routes = tonic::service::Routes::new(
            CatalogServer::from_arc(self.service).max_decoding_message_size(MAX_MESSAGE_BYTES),
        );
        let result =
            common::grpc_server::serve(GRPC_NAME, routes, listener, Some(self.pool), self.serving, shutdown).await;
        reconciler.abort();
        recovery.abort();
        result
    }
}

/// Catalog and the order service it stores stock in, each on a loopback
/// port, for other services' tests (identity at `identity_addr`): their
/// addresses. Order consumes no payment events here.
#[cfg(feature = "testkit")]
pub async fn serve_for_tests(
    infra: &Infra,
    identity_addr: &str,
    stop: CancellationToken,
) -> Result<(String, String), StartupError> {
    let catalog_listener = TcpListener::bind("127.0.0.1:0").await?;
    let catalog_addr = catalog_listener.local_addr()?.to_string();
    let order_listener = TcpListener::bind("127.0.0.1:0").await?;
    let order_addr = order_listener.local_addr()?.to_string();
    let mut config = Config::from_env(infra.clone())?;
    config.identity_addr = identity_addr.to_owned();
    config.order_addr = order_addr.clone();
    tokio::spawn(start(&config).await?.serve(catalog_listener, stop.clone()));
    let mut order_config = order::Config::from_env(infra.clone())?;
    order_config.identity_addr = identity_addr.to_owned();
    order_config.catalog_addr = catalog_addr.clone();
    order_config.consume_payment_events = false;
    tokio::spawn(order::start(&order_config).await?.serve(order_listener, stop));
    Ok((catalog_addr, order_addr))
}
