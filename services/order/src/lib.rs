//! Order service: owns the inventory (stock per product) because checkout
//! takes its row locks; orders themselves arrive with the checkout work.
pub mod clients;
pub mod domain;
pub mod grpc;
pub mod store;

use std::time::Duration;

use common::StartupError;
use common::auth::KeyRing;
use common::cache::Cache;
use common::config::{Infra, env_or};
use common::identity_keys::IdentityKeySource;
use common::shutdown::CancellationToken;
use proto::order::v1::order_server::OrderServer;
use sqlx::MySqlPool;
use tokio::net::TcpListener;

use crate::clients::Catalog;
use crate::grpc::OrderService;
use crate::store::Store;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();
pub const SCHEMA: &str = "orders";
pub const GRPC_NAME: &str = "marketplace.order.v1.Order";

#[derive(Debug, Clone)]
pub struct Config {
    pub infra: Infra,
    pub identity_addr: String,
    pub catalog_addr: String,
    pub downstream_timeout: Duration,
    pub max_db_connections: u32,
}

impl Config {
    pub fn from_env(infra: Infra) -> Result<Self, StartupError> {
        Ok(Self {
            infra,
            identity_addr: env_or("IDENTITY_ADDR", "127.0.0.1:50051".to_owned())?,
            catalog_addr: env_or("CATALOG_ADDR", "127.0.0.1:50052".to_owned())?,
            downstream_timeout: Duration::from_millis(env_or("DOWNSTREAM_TIMEOUT_MS", 5000)?),
            max_db_connections: env_or("ORDER_DB_CONNECTIONS", 16)?,
        })
    }
}

pub struct Order {
    pool: MySqlPool,
    service: OrderService,
}

pub async fn start(config: &Config) -> Result<Order, StartupError> {
    let pool = config.infra.mysql_pool(SCHEMA, config.max_db_connections, &MIGRATOR).await?;
    let redis = config.infra.redis().await?;
    let keys = KeyRing::fetching(IdentityKeySource::new(common::grpc_client::lazy_channel(&config.identity_addr)?));
    let catalog = Catalog::new(common::grpc_client::lazy_channel(&config.catalog_addr)?, config.downstream_timeout);
    let service = OrderService::new(
        Store::new(pool.clone()),
        keys,
        catalog,
        Cache::new(redis, "order"),
        &config.infra.schema_prefix,
    );
    Ok(Order { pool, service })
}

impl Order {
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartupError> {
        let routes = tonic::service::Routes::new(OrderServer::new(self.service));
        common::grpc_server::serve(GRPC_NAME, routes, listener, Some(self.pool), shutdown).await
    }
}
