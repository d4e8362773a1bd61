//! The whole marketplace in one process: every service on its own
//! loopback gRPC port (any free one unless configured) and the gateway on
//! REST, sharing one runtime. This is the local default (`cargo run -p
//! fleet`) and the harness the end-to-end tests start (`Fleet::start` on
//! port 0 with uniquely prefixed schemas, `Fleet::drop_schemas` afterwards).
pub mod cli;
pub mod cluster;
pub mod demo;
pub mod local_redis;
pub mod parked;

use std::net::SocketAddr;

use common::StartupError;
use common::config::{Infra, defaults};
use common::shutdown::CancellationToken;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Where an in-process service listens unless its `*_GRPC_ADDR` says
/// otherwise: any free loopback port. Its callers are in this process and
/// are pointed at whatever was bound, so nothing needs a fixed port — and a
/// fixed one inside the kernel's ephemeral range (32768–60999 on Linux, where
/// 50051–50056 were) can be held by an outgoing connection when the fleet
/// starts again after heavy loopback traffic ("Address already in use").
pub const ANY_LOOPBACK_PORT: &str = "127.0.0.1:0";

/// Every schema the fleet's services own.
pub const SCHEMAS: &[&str] =
    &[identity::SCHEMA, catalog::SCHEMA, cart::SCHEMA, order::SCHEMA, payment::SCHEMA, analytics::SCHEMA];

/// The fleet's own settings (each service inside reads its own from the
/// environment, as its binary would).
#[derive(Debug, Clone, clap::Args)]
pub struct FleetArgs {
    #[command(flatten)]
    pub infra: Infra,
    /// REST on 127.0.0.1:PORT.
    #[arg(long, env = "PORT", default_value_t = defaults::gateway::PORT)]
    pub port: u16,
    /// Where the in-process identity service listens.
    #[arg(long = "identity-grpc-addr", env = "IDENTITY_GRPC_ADDR", default_value = ANY_LOOPBACK_PORT)]
    pub identity_grpc_addr: String,
    /// Where the in-process catalog service listens.
    #[arg(long = "catalog-grpc-addr", env = "CATALOG_GRPC_ADDR", default_value = ANY_LOOPBACK_PORT)]
    pub catalog_grpc_addr: String,
    /// Where the in-process cart service listens.
    #[arg(long = "cart-grpc-addr", env = "CART_GRPC_ADDR", default_value = ANY_LOOPBACK_PORT)]
    pub cart_grpc_addr: String,
    /// Where the in-process order service listens.
    #[arg(long = "order-grpc-addr", env = "ORDER_GRPC_ADDR", default_value = ANY_LOOPBACK_PORT)]
    pub order_grpc_addr: String,
    /// Where the in-process payment service listens.
    #[arg(long = "payment-grpc-addr", env = "PAYMENT_GRPC_ADDR", default_value = ANY_LOOPBACK_PORT)]
    pub payment_grpc_addr: String,
    /// Where the in-process analytics service listens.
    #[arg(long = "analytics-grpc-addr", env = "ANALYTICS_GRPC_ADDR", default_value = ANY_LOOPBACK_PORT)]
    pub analytics_grpc_addr: String,
}

#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub infra: Infra,
    /// REST listen address (`PORT` picks the port on 127.0.0.1).
    pub http_addr: String,
    pub identity_grpc_addr: String,
    pub catalog_grpc_addr: String,
    pub cart_grpc_addr: String,
    pub order_grpc_addr: String,
    pub payment_grpc_addr: String,
    pub analytics_grpc_addr: String,
    pub identity: identity::Config,
    pub catalog: catalog::Config,
    pub cart: cart::Config,
    pub order: order::Config,
    pub payment: payment::Config,
    pub analytics: analytics::Config,
    pub gateway: gateway::Config,
}

impl FleetConfig {
    /// The local default, from the environment.
    pub fn from_env() -> Result<Self, StartupError> {
        Self::new(common::cli::from_env()?)
    }

    /// The fleet's own settings as given, every service's from the
    /// environment.
    pub fn new(args: FleetArgs) -> Result<Self, StartupError> {
        let infra = args.infra.checked()?;
        Ok(Self {
            http_addr: format!("127.0.0.1:{}", args.port),
            identity_grpc_addr: args.identity_grpc_addr,
            catalog_grpc_addr: args.catalog_grpc_addr,
            cart_grpc_addr: args.cart_grpc_addr,
            order_grpc_addr: args.order_grpc_addr,
            payment_grpc_addr: args.payment_grpc_addr,
            analytics_grpc_addr: args.analytics_grpc_addr,
            identity: identity::Config::from_env(infra.clone())?,
            catalog: catalog::Config::from_env(infra.clone())?,
            cart: cart::Config::from_env(infra.clone())?,
            order: order::Config::from_env(infra.clone())?,
            payment: fleet_payment_config(&infra)?,
            analytics: analytics::Config::from_env(infra.clone())?,
            gateway: gateway::Config::from_env(infra.clone())?,
            infra,
        })
    }

    /// Changes the shared infrastructure settings of every service alike.
    pub fn edit_infra(&mut self, edit: impl Fn(&mut Infra)) {
        edit(&mut self.infra);
        edit(&mut self.identity.infra);
        edit(&mut self.catalog.infra);
        edit(&mut self.cart.infra);
        edit(&mut self.order.infra);
        edit(&mut self.payment.infra);
        edit(&mut self.analytics.infra);
        edit(&mut self.gateway.infra);
    }

    /// For tests: the environment's servers, any free ports (whatever a
    /// developer's `PORT` or `*_GRPC_ADDR` says), and a unique schema/key
    /// prefix so runs never meet.
    pub fn for_tests(tag: &str) -> Result<Self, StartupError> {
        let mut config = Self::from_env()?;
        let prefix = common::testkit::unique_prefix(tag);
        config.edit_infra(|infra| infra.schema_prefix = prefix.clone());
        config.http_addr = ANY_LOOPBACK_PORT.into();
        for addr in [
            &mut config.identity_grpc_addr,
            &mut config.catalog_grpc_addr,
            &mut config.cart_grpc_addr,
            &mut config.order_grpc_addr,
            &mut config.payment_grpc_addr,
            &mut config.analytics_grpc_addr,
        ] {
            *addr = ANY_LOOPBACK_PORT.into();
        }
        Ok(config)
    }
}

/// A running fleet.
pub struct Fleet {
    pub rest_addr: SocketAddr,
    pub identity_addr: SocketAddr,
    pub catalog_addr: SocketAddr,
    pub cart_addr: SocketAddr,
    pub order_addr: SocketAddr,
    pub payment_addr: SocketAddr,
    pub analytics_addr: SocketAddr,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<Result<(), StartupError>>>,
}

async fn bind(addr: &str) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr).await.map_err(|e| StartupError::Config(format!("cannot listen on {addr}: {e}")))
}

impl Fleet {
    /// Starts every service, then the gateway. Everything that can fail at
    /// start-up (unreachable MySQL or Redis, migrations) fails here.
    pub async fn start(mut config: FleetConfig) -> Result<Self, StartupError> {
        let shutdown = CancellationToken::new();
        let identity_listener = bind(&config.identity_grpc_addr).await?;
        let catalog_listener = bind(&config.catalog_grpc_addr).await?;
        let cart_listener = bind(&config.cart_grpc_addr).await?;
        let order_listener = bind(&config.order_grpc_addr).await?;
        let payment_listener = bind(&config.payment_grpc_addr).await?;
        let analytics_listener = bind(&config.analytics_grpc_addr).await?;
        let identity_addr = identity_listener.local_addr()?;
        let catalog_addr = catalog_listener.local_addr()?;
        let cart_addr = cart_listener.local_addr()?;
        let order_addr = order_listener.local_addr()?;
        let payment_addr = payment_listener.local_addr()?;
        let analytics_addr = analytics_listener.local_addr()?;
        // Every service finds the others where this process bound them.
        config.catalog.identity_addr = identity_addr.to_string();
        config.catalog.order_addr = order_addr.to_string();
        config.order.identity_addr = identity_addr.to_string();
        config.order.catalog_addr = catalog_addr.to_string();
        config.cart.identity_addr = identity_addr.to_string();
        config.cart.catalog_addr = catalog_addr.to_string();
        config.cart.order_addr = order_addr.to_string();
        config.payment.identity_addr = identity_addr.to_string();
        config.payment.order_addr = order_addr.to_string();
        config.analytics.identity_addr = identity_addr.to_string();
        config.gateway.services = gateway::clients::Addresses {
            identity: identity_addr.to_string(),
            catalog: catalog_addr.to_string(),
            cart: cart_addr.to_string(),
            order: order_addr.to_string(),
            payment: payment_addr.to_string(),
            analytics: analytics_addr.to_string(),
        };
        let identity = identity::start(&config.identity).await?;
        let catalog = catalog::start(&config.catalog).await?;
        let cart = cart::start(&config.cart).await?;
        let order = order::start(&config.order).await?;
        let rest_listener = bind(&config.http_addr).await?;
        let rest_addr = rest_listener.local_addr()?;
        // The sandbox provider sends its webhooks to this fleet's gateway.
        config.payment.webhook_url = format!("http://{rest_addr}/payments/webhook/");
        let payment = payment::start(&config.payment).await?;
        let analytics = analytics::start(&config.analytics).await?;
        let gateway = gateway::Gateway::build(config.gateway.clone()).await?;
        let tasks = vec![
            tokio::spawn(identity.serve(identity_listener, shutdown.clone())),
            tokio::spawn(catalog.serve(catalog_listener, shutdown.clone())),
            tokio::spawn(cart.serve(cart_listener, shutdown.clone())),
            tokio::spawn(order.serve(order_listener, shutdown.clone())),
            tokio::spawn(payment.serve(payment_listener, shutdown.clone())),
            tokio::spawn(analytics.serve(analytics_listener, shutdown.clone())),
            tokio::spawn(gateway.serve(rest_listener, shutdown.clone())),
        ];
        Ok(Self {
            rest_addr,
            identity_addr,
            catalog_addr,
            cart_addr,
            order_addr,
            payment_addr,
            analytics_addr,
            shutdown,
            tasks,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.rest_addr)
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs until `stop` is cancelled or a service fails.
    pub async fn run_until(mut self, stop: CancellationToken) -> Result<(), StartupError> {
        let failed = {
            let first = futures_first(&mut self.tasks);
            tokio::select! {
                _ = stop.cancelled() => None,
                result = first => Some(result),
            }
        };
        self.stop().await;
        match failed {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// Stops every service and waits for them to drain.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

/// Drops a test fleet's schemas and Redis keys.
pub async fn drop_schemas(infra: &Infra) -> Result<(), StartupError> {
    common::testkit::drop_test_data(infra, SCHEMAS).await
}

/// The first task to finish, as a service result.
async fn futures_first(tasks: &mut [JoinHandle<Result<(), StartupError>>]) -> Result<(), StartupError> {
    if tasks.is_empty() {
        return std::future::pending().await;
    }
    let (result, _, _) = futures::future::select_all(tasks.iter_mut()).await;
    match result {
        Ok(inner) => inner,
        Err(e) => Err(StartupError::Serve(format!("service task failed: {e}"))),
    }
}

/// The local fleet's payment settings: the environment's, with the
/// development webhook secret when none is set (never in a production
/// path: the payment binary itself refuses to start without one).
pub fn fleet_payment_config(infra: &Infra) -> Result<payment::Config, StartupError> {
    let mut config = payment::Config::from_env(infra.clone())?;
    if config.webhook_secrets.is_empty() && !infra.profile.is_production() {
        config.webhook_secrets = vec![DEV_WEBHOOK_SECRET.to_owned()];
    }
    Ok(config)
}

/// DEVELOPMENT DEFAULT webhook secret of the local fleet only.
pub const DEV_WEBHOOK_SECRET: &str = "whsec_dev_only";

/// `fleet create-admin`: makes sure the admin exists, never overwriting
/// an existing user's password. True when it was created.
pub async fn create_admin(infra: &Infra, email: &str, password: &str) -> Result<bool, StartupError> {
    let config = identity::Config::from_env(infra.clone())?;
    let pool = identity::connect(&config).await?;
    identity::ensure_admin(&identity::store::Store::new(pool), email, password).await
}
