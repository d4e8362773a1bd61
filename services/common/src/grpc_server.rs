//! The gRPC server every service runs: its own service plus
//! `grpc.health.v1` (SERVING only while the database answers, NOT_SERVING
//! as soon as shutdown begins), reflection, a tracing span per call, and a
//! graceful drain of in-flight calls after `SHUTDOWN_GRACE_MS`, and its
//! own `/metrics` when `METRICS_ADDR` asks for it (`Serving`).
use std::time::Duration;

use sqlx::MySqlPool;
use tokio::net::TcpListener;
use tonic::codegen::http;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::shutdown::CancellationToken;
use crate::{StartupError, db};

const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

/// How a gRPC service serves, the same for all six.
#[derive(Debug, Clone, clap::Args)]
pub struct Serving {
    /// On SIGTERM/Ctrl-C, health says NOT_SERVING at once and the service
    /// keeps serving this long (milliseconds), then drains in-flight calls.
    #[arg(
        long = "shutdown-grace-ms",
        env = "SHUTDOWN_GRACE_MS",
        default_value = "0",
        value_parser = crate::cli::millis
    )]
    pub shutdown_grace: Duration,
    /// Serve Prometheus `GET /metrics` on this address (unset: no endpoint).
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<String>,
}

/// Serves `routes` (the service's own) on `listener` until `shutdown`.
/// `name` is the fully-qualified gRPC service name reported in health.
pub async fn serve(
    name: &'static str,
    routes: Routes,
    listener: TcpListener,
    pool: Option<MySqlPool>,
    serving: Serving,
    shutdown: CancellationToken,
) -> Result<(), StartupError> {
    // Install the recorder before anything records.
    crate::metrics::handle();
    if let Some(pool) = &pool {
        crate::metrics::spawn_pool_gauges(name, pool.clone(), shutdown.clone());
    }
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| StartupError::Config(format!("reflection: {e}")))?;

    let health_task = {
        let reporter = reporter.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let healthy = match &pool {
                    Some(pool) => db::ping(pool).await,
                    None => true,
                };
                let status = if healthy && !shutdown.is_cancelled() {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                reporter.set_service_status("", status).await;
                reporter.set_service_status(name, status).await;
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(HEALTH_INTERVAL) => {}
                }
            }
            reporter.set_service_status("", ServingStatus::NotServing).await;
            reporter.set_service_status(name, ServingStatus::NotServing).await;
        })
    };

    // On shutdown, health says NOT_SERVING at once (the task above), and
    // the server keeps taking calls for the grace period so balancers see
    // it leave before it stops accepting; then it drains in-flight calls.
    let drain = CancellationToken::new();
    let grace = serving.shutdown_grace;
    {
        let (shutdown, drain) = (shutdown.clone(), drain.clone());
        tokio::spawn(async move {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
            drain.cancel();
        });
    }
    // A service on its own answers /metrics itself (the fleet's gateway
    // shows every service's metrics, as they share one process).
    if let Some(addr) = serving.metrics_addr {
        crate::metrics::spawn_upkeep(shutdown.clone());
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if let Err(error) = crate::metrics::serve(&addr, stop).await {
                tracing::error!(%error, "metrics endpoint failed");
            }
        });
    }
    let routes = routes.add_service(health_service).add_service(reflection);
    let result = tonic::transport::Server::builder()
        .layer(crate::metrics::GrpcMetricsLayer { service: name })
        .trace_fn(call_span)
        .add_routes(routes)
        // No Nagle: a reply split over two segments would otherwise wait for
        // the peer's delayed ACK (~40 ms).
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), drain.cancelled_owned())
        .await
        .map_err(|e| StartupError::Serve(format!("{name}: {e}")));
    health_task.abort();
    result
}

/// The span of one call, named `package.Service/Method` as OpenTelemetry
/// names RPC server spans, a child of the caller's span when the metadata
/// carries its `traceparent`. The status code is recorded on it when the
/// call ends (`metrics::GrpcMetrics`).
fn call_span(request: &http::Request<()>) -> tracing::Span {
    let name = request.uri().path().trim_start_matches('/');
    let (service, method) = name.split_once('/').unwrap_or((name, ""));
    let span = tracing::info_span!(
        "grpc",
        otel.name = name,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = tracing::field::Empty,
    );
    crate::trace_context::continue_from_headers(&span, request.headers());
    span
}
