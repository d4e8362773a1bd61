//! Cart service: each customer's cart, lines checked against the product
//! (catalog) and its stock (order) when they change, and pruned of
//! products that can no longer be bought whenever the cart is read.
pub mod clients;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use common::StartupError;
use common::auth::KeyRing;
use common::config::{Infra, env_or};
use common::events::{Consumer, ParkedEvents, ParkedEventsService};
use common::grpc_client::lazy_channel;
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

#[derive(Debug, Clone)]
pub struct Config {
    pub infra: Infra,
    pub identity_addr: String,
    pub catalog_addr: String,
    pub order_addr: String,
    pub downstream_timeout: Duration,
    pub currency: String,
    pub max_db_connections: u32,
}

impl Config {
    pub fn from_env(infra: Infra) -> Result<Self, StartupError> {
        Ok(Self {
            infra,
            identity_addr: env_or("IDENTITY_ADDR", "127.0.0.1:50051".to_owned())?,
            catalog_addr: env_or("CATALOG_ADDR", "127.0.0.1:50052".to_owned())?,
            order_addr: env_or("ORDER_ADDR", "127.0.0.1:50054".to_owned())?,
            downstream_timeout: Duration::from_millis(env_or("DOWNSTREAM_TIMEOUT_MS", 5000)?),
            currency: env_or("CURRENCY", "USD".to_owned())?,
            max_db_connections: env_or("CART_DB_CONNECTIONS", 10)?,
        })
    }
}

pub struct Cart {
    pool: MySqlPool,
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
    let downstream = Downstream::new(
        lazy_channel(&config.catalog_addr)?,
        lazy_channel(&config.order_addr)?,
        config.downstream_timeout,
    );
    let service = CartService::new(Store::new(pool.clone()), keys.clone(), downstream, config.currency.clone());
    let order_events = Consumer::connect(pool.clone(), &config.infra, "cart").await?;
    Ok(Cart { pool, service, order_events, keys })
}

impl Cart {
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartupError> {
        let consumer = tokio::spawn(self.order_events.run(events::OrderEvents, shutdown.clone()));
        let parked = ParkedEventsService::new(parked_events(self.pool.clone()), self.keys);
        let routes = tonic::service::Routes::new(CartServer::new(self.service)).add_service(parked.into_server());
        let result = common::grpc_server::serve(GRPC_NAME, routes, listener, Some(self.pool), shutdown).await;
        let _ = consumer.await;
        result
    }
}
