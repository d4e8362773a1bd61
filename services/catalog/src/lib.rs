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
use common::config::{Infra, env_or};
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

#[derive(Debug, Clone)]
pub struct Config {
    pub infra: Infra,
    pub identity_addr: String,
    pub order_addr: String,
    pub downstream_timeout: Duration,
    pub vendor_reconcile_interval: Duration,
    pub stock_write_recovery_interval: Duration,
    pub max_db_connections: u32,
}

impl Config {
    pub fn from_env(infra: Infra) -> Result<Self, StartupError> {
        Ok(Self {
            infra,
            identity_addr: env_or("IDENTITY_ADDR", "127.0.0.1:50051".to_owned())?,
            order_addr: env_or("ORDER_ADDR", "127.0.0.1:50054".to_owned())?,
            downstream_timeout: Duration::from_millis(env_or("DOWNSTREAM_TIMEOUT_MS", 5000)?),
            vendor_reconcile_interval: Duration::from_secs(env_or("VENDOR_RECONCILE_SECS", 30)?),
            stock_write_recovery_interval: Duration::from_secs(env_or("STOCK_WRITE_RECOVERY_SECS", 10)?),
            max_db_connections: env_or("CATALOG_DB_CONNECTIONS", 16)?,
        })
    }
}

pub struct Catalog {
    pool: MySqlPool,
    service: Arc<CatalogService>,
    stock_writes: Arc<StockWrites>,
    reconcile_interval: Duration,
    recovery_interval: Duration,
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
        let result = common::grpc_server::serve(GRPC_NAME, routes, listener, Some(self.pool), shutdown).await;
        reconciler.abort();
        recovery.abort();
        result
    }
}
