//! Prometheus metrics for every process: the one global recorder (HTTP and
//! gRPC latencies as bucketed histograms), the gRPC layer that counts
//! calls by method and code (and puts the code on the call's span), DB
//! pool gauges, and — when `METRICS_ADDR` is set, as for a service running
//! on its own — a small HTTP server for `/metrics`. In the one-process
//! fleet the gateway's `/metrics` shows it all.
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tonic::codegen::http;

use crate::StartupError;
use crate::shutdown::CancellationToken;

const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The process-wide recorder's handle (installed on first use).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), LATENCY_BUCKETS)
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            handle
        })
        .clone()
}

/// Folds histogram samples into buckets every few seconds, whether or not
/// anyone scrapes, until `shutdown`.
pub fn spawn_upkeep(shutdown: CancellationToken) {
    let handle = handle();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(5)) => handle.run_upkeep(),
            }
        }
    });
}

/// Serves `GET /metrics` on `addr` until `shutdown`.
pub async fn serve(addr: &str, shutdown: CancellationToken) -> Result<(), StartupError> {
    let handle = handle();
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|e| StartupError::Serve(format!("metrics: {e}")))
}

/// Counts every gRPC call by method and status code, with its latency.
/// tonic answers errors "trailers-only", so a `grpc-status` header is the
/// error's code; without one the call succeeded.
#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    service: &'static str,
}

/// The layer that wraps a server's routes in [`GrpcMetrics`].
#[derive(Clone)]
pub struct GrpcMetricsLayer {
    pub service: &'static str,
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> GrpcMetrics<S> {
        GrpcMetrics { inner, service: self.service }
    }
}

impl<S, B, R> tonic::codegen::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tonic::codegen::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let service = self.service;
        let started = Instant::now();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            let code = match &result {
                Ok(response) => {
                    response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or("0").to_owned()
                }
                Err(_) => "transport".to_owned(),
            };
            record_on_call_span(&code);
            let labels = [("service", service.to_owned()), ("method", method), ("code", code)];
            metrics::counter!("grpc_requests_total", &labels).increment(1);
            metrics::histogram!("grpc_request_duration_seconds", &labels[..2]).record(started.elapsed().as_secs_f64());
            result
        })
    }
}

/// Puts the call's status code on its span (the server's call span is
/// the current one here), marking the codes that mean the server failed
/// as errors, as OpenTelemetry's RPC conventions do.
fn record_on_call_span(code: &str) {
    let span = tracing::Span::current();
    match code.parse::<i64>() {
        Ok(number) => {
            span.record("rpc.grpc.status_code", number);
            // UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
            if matches!(number, 2 | 4 | 12 | 13 | 14 | 15) {
                span.record("otel.status_code", "ERROR");
            }
        }
        Err(_) => {
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// Publishes a pool's size and idle connections every few seconds.
pub fn spawn_pool_gauges(service: &'static str, pool: sqlx::MySqlPool, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            let size = f64::from(pool.size());
            let idle = pool.num_idle() as f64;
            metrics::gauge!("db_pool_connections", "service" => service, "state" => "idle").set(idle);
            metrics::gauge!("db_pool_connections", "service" => service, "state" => "in_use").set(size - idle);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    });
}
