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
use common::config::{Infra, defaults};
use common::events::{Consumer, ParkedEvents, ParkedEventsService};
use common::grpc_client::lazy_channel;
use common::grpc_server::Serving;
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

/// The analytics service's settings: each flag also reads the environment
/// variable named in `--help`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "analytics",
    version,
    about = "Analytics service: marketplace figures from the order and payment events"
)]
pub struct Config {
    #[command(flatten)]
    pub infra: Infra,
    #[command(flatten)]
    pub serving: Serving,
    /// gRPC listen address.
    #[arg(long, env = "GRPC_ADDR", default_value = defaults::analytics::LISTEN)]
    pub grpc_addr: String,
    /// MySQL pool size.
    #[arg(long = "analytics-db-connections", env = "ANALYTICS_DB_CONNECTIONS", default_value = "8")]
    pub max_db_connections: u32,
    /// Identity: token keys. One `host:port`, a comma-separated list, or a DNS name for many replicas.
    #[arg(long = "identity-addr", env = "IDENTITY_ADDR", default_value = defaults::identity::LOCAL)]
    pub identity_addr: String,
    /// Currency the figures are reported in.
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

pub struct Analytics {
    pool: MySqlPool,
    serving: Serving,
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
    Ok(Analytics { pool, serving: config.serving.clone(), service, order_events, payment_events, keys })
}

impl Analytics {
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartupError> {
        let orders = tokio::spawn(self.order_events.run(events::OrderEvents, shutdown.clone()));
        let payments = tokio::spawn(self.payment_events.run(events::PaymentEvents, shutdown.clone()));
        let parked = ParkedEventsService::new(parked_events(self.pool.clone()), self.keys);
        let routes = tonic::service::Routes::new(AnalyticsServer::new(self.service)).add_service(parked.into_server());
        let result =
            common::grpc_server::serve(GRPC_NAME, routes, listener, Some(self.pool), self.serving, shutdown).await;
        let _ = tokio::join!(orders, payments);
        result
    }
}
