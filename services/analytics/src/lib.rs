//! Analytics service: marketplace figures for admins (order counts,
//! revenue, refunds, per-vendor sales), answered by SQL aggregates over
//! fact tables of its own. The facts come from the order and payment
//! event streams, never from calls to those services, so a query costs the
//! other services nothing and the figures trail them by the event lag.
//!
//! Events of the two streams arrive in any order and possibly twice: each
//! one only adds its fact (see `store`), so the facts — and the figures —
//! are the same once every event has arrived, whatever the order.
pub mod domain;
pub mod events;
pub mod grpc;
pub mod store;

use std::sync::Arc;

use common::StartupError;
use common::auth::KeyRing;
use common::config::{Infra, env_or};
use common::events::{Consumer, ParkedEvents, ParkedEventsService};
use common::grpc_client::lazy_channel;
use common::identity_keys::IdentityKeySource;
use common::shutdown::CancellationToken;
use proto::analytics::v1::analytics_server::AnalyticsServer;
use proto::order::v1::order_event::Event as OrderEvent;
use proto::payment::v1::payment_event::Event as PaymentEvent;
use sqlx::MySqlPool;
use tokio::net::TcpListener;

use crate::grpc::AnalyticsService;
use crate::store::Store;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();
pub const SCHEMA: &str = "analytics";
pub const GRPC_NAME: &str = "marketplace.analytics.v1.Analytics";
/// The consumer group analytics reads the order and payment streams in.
pub const CONSUMER_GROUP: &str = "analytics";

#[derive(Debug, Clone)]
pub struct Config {
    pub infra: Infra,
    pub identity_addr: String,
    pub currency: String,
    pub max_db_connections: u32,
}

impl Config {
    pub fn from_env(infra: Infra) -> Result<Self, StartupError> {
        Ok(Self {
            infra,
            identity_addr: env_or("IDENTITY_ADDR", "127.0.0.1:50051".to_owned())?,
            currency: env_or("CURRENCY", "USD".to_owned())?,
            max_db_connections: env_or("ANALYTICS_DB_CONNECTIONS", 8)?,
        })
    }
}

pub struct Analytics {
    pool: MySqlPool,
    service: AnalyticsService,
    order_events: Consumer<OrderEvent>,
    payment_events: Consumer<PaymentEvent>,
    keys: Arc<KeyRing>,
}

/// The events analytics' consumers parked, with the handlers that replay them.
pub fn parked_events(pool: MySqlPool) -> ParkedEvents {
    ParkedEvents::new(pool)
        .consumer(CONSUMER_GROUP, events::OrderEvents)
        .consumer(CONSUMER_GROUP, events::PaymentEvents)
}

pub async fn start(config: &Config) -> Result<Analytics, StartupError> {
    let pool = config.infra.mysql_pool(SCHEMA, config.max_db_connections, &MIGRATOR).await?;
    let keys = KeyRing::fetching(IdentityKeySource::new(lazy_channel(&config.identity_addr)?));
    let service = AnalyticsService::new(Store::new(pool.clone()), keys.clone(), config.currency.clone());
    let order_events = Consumer::connect(pool.clone(), &config.infra, CONSUMER_GROUP).await?;
    let payment_events = Consumer::connect(pool.clone(), &config.infra, CONSUMER_GROUP).await?;
    Ok(Analytics { pool, service, order_events, payment_events, keys })
}

impl Analytics {
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartupError> {
        let orders = tokio::spawn(self.order_events.run(events::OrderEvents, shutdown.clone()));
        let payments = tokio::spawn(self.payment_events.run(events::PaymentEvents, shutdown.clone()));
        let parked = ParkedEventsService::new(parked_events(self.pool.clone()), self.keys);
        let routes = tonic::service::Routes::new(AnalyticsServer::new(self.service)).add_service(parked.into_server());
        let result = common::grpc_server::serve(GRPC_NAME, routes, listener, Some(self.pool), shutdown).await;
        let _ = tokio::join!(orders, payments);
        result
    }
}
