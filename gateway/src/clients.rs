//! The gateway's downstream gRPC clients and the deadline every call
//! carries. A service that is down answers 503, one that is slow 504.
use std::time::Duration;

use common::ApiError;
use common::StartupError;
use common::config::defaults;
use common::grpc_client::ServiceChannel;
use common::grpc_client::{call, lazy_channel, request};
use proto::analytics::v1::analytics_client::AnalyticsClient;
use proto::cart::v1::cart_client::CartClient;
use proto::catalog::v1::catalog_client::CatalogClient;
use proto::events::v1::parked_events_client::ParkedEventsClient;
use proto::identity::v1::identity_client::IdentityClient;
use proto::order::v1::order_client::OrderClient;
use proto::payment::v1::payment_client::PaymentClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Where each downstream service listens: one `host:port`, a
/// comma-separated list, or a DNS name for many replicas.
#[derive(Debug, Clone, clap::Args)]
pub struct Addresses {
    /// Identity service.
    #[arg(long = "identity-addr", env = "IDENTITY_ADDR", default_value = defaults::identity::LOCAL)]
    pub identity: String,
    /// Catalog service.
    #[arg(long = "catalog-addr", env = "CATALOG_ADDR", default_value = defaults::catalog::LOCAL)]
    pub catalog: String,
    /// Cart service.
    #[arg(long = "cart-addr", env = "CART_ADDR", default_value = defaults::cart::LOCAL)]
    pub cart: String,
    /// Order service.
    #[arg(long = "order-addr", env = "ORDER_ADDR", default_value = defaults::order::LOCAL)]
    pub order: String,
    /// Payment service.
    #[arg(long = "payment-addr", env = "PAYMENT_ADDR", default_value = defaults::payment::LOCAL)]
    pub payment: String,
    /// Analytics service.
    #[arg(long = "analytics-addr", env = "ANALYTICS_ADDR", default_value = defaults::analytics::LOCAL)]
    pub analytics: String,
}

#[derive(Clone)]
pub struct Downstream {
    pub identity: IdentityClient<ServiceChannel>,
    pub catalog: CatalogClient<ServiceChannel>,
    pub cart: CartClient<ServiceChannel>,
    pub order: OrderClient<ServiceChannel>,
    pub payment: PaymentClient<ServiceChannel>,
    pub analytics: AnalyticsClient<ServiceChannel>,
    /// `(service, client)` of every service that consumes events.
    pub parked_events: Vec<(&'static str, ParkedEventsClient<ServiceChannel>)>,
    identity_channel: ServiceChannel,
    /// `(name, channel)` of every downstream service, for readiness.
    channels: Vec<(&'static str, ServiceChannel)>,
    pub deadline: Duration,
}

impl Downstream {
    pub fn new(addresses: &Addresses, deadline: Duration) -> Result<Self, StartupError> {
        let identity = lazy_channel(&addresses.identity)?;
        let catalog = lazy_channel(&addresses.catalog)?;
        let cart = lazy_channel(&addresses.cart)?;
        let order = lazy_channel(&addresses.order)?;
        let payment = lazy_channel(&addresses.payment)?;
        let analytics = lazy_channel(&addresses.analytics)?;
        Ok(Self {
            identity: IdentityClient::new(identity.clone()),
            // An import's request and its errors may pass tonic's 4 MiB default.
            catalog: CatalogClient::new(catalog.clone())
                .max_decoding_message_size(16 * 1024 * 1024)
                .max_encoding_message_size(16 * 1024 * 1024),
            cart: CartClient::new(cart.clone()),
            order: OrderClient::new(order.clone()),
            payment: PaymentClient::new(payment.clone()),
            analytics: AnalyticsClient::new(analytics.clone()),
            parked_events: vec![
                ("cart", ParkedEventsClient::new(cart.clone())),
                ("order", ParkedEventsClient::new(order.clone())),
                ("payment", ParkedEventsClient::new(payment.clone())),
                ("analytics", ParkedEventsClient::new(analytics.clone())),
            ],
            identity_channel: identity.clone(),
            channels: vec![
                ("identity", identity),
                ("catalog", catalog),
                ("cart", cart),
                ("order", order),
                ("payment", payment),
                ("analytics", analytics),
            ],
            deadline,
        })
    }

    pub fn identity_channel(&self) -> ServiceChannel {
        self.identity_channel.clone()
    }

    /// A request with this gateway's deadline and the caller's token.
    pub fn request<T>(&self, message: T, token: Option<&str>) -> tonic::Request<T> {
        request(message, self.deadline, token)
    }

    /// Awaits a downstream call under the deadline.
    pub async fn call<T>(
        &self,
        future: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, ApiError> {
        call(self.deadline, future).await
    }

    /// Each downstream service's gRPC health, `true` when SERVING.
    pub async fn health(&self) -> Vec<(&'static str, bool)> {
        let deadline = Duration::from_secs(1);
        let checks = self.channels.iter().map(|(name, channel)| async move {
            let mut client = HealthClient::new(channel.clone());
            let answer =
                call(deadline, client.check(request(HealthCheckRequest { service: String::new() }, deadline, None)))
                    .await;
            let serving = answer
                .is_ok_and(|r| r.status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
            (*name, serving)
        });
        futures::future::join_all(checks).await
    }
}
