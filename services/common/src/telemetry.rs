//! Logging and tracing: pretty logs locally, JSON with `LOG_FORMAT=json`,
//! and OpenTelemetry spans over OTLP/gRPC when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Filter with `RUST_LOG`.
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::StartupError;
use crate::config::env_opt;

/// Keeps the trace exporter alive; flushes it when dropped.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber. Call once per process, inside the runtime.
pub fn init(service_name: &str) -> Result<Telemetry, StartupError> {
    init_with_filter(service_name, "info,sqlx=warn,h2=warn,tower=warn")
}

/// Like `init`, with another default filter (`RUST_LOG` still wins): test
/// harnesses log only warnings and errors unless asked.
pub fn init_with_filter(service_name: &str, default_filter: &str) -> Result<Telemetry, StartupError> {
    // The metrics recorder too, before anything records.
    crate::metrics::handle();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = env_opt("LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = if json {
        tracing_subscriber::fmt::layer().json().flatten_event(true).boxed()
    } else {
        tracing_subscriber::fmt::layer().boxed()
    };
    let provider = match env_opt("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
                .map_err(|e| StartupError::Config(format!("OTLP exporter: {e}")))?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(Resource::builder().with_service_name(service_name.to_owned()).build())
                    .build(),
            )
        }
        None => None,
    };
    let otel = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service_name.to_owned())));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|e| StartupError::Config(format!("tracing: {e}")))?;
    Ok(Telemetry { provider })
}
