//! Logging and tracing: pretty logs locally, JSON with `LOG_FORMAT=json`,
//! filtered by `RUST_LOG`; and OpenTelemetry spans over OTLP/gRPC when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Spans at info and above are
//! exported whatever `RUST_LOG` says of the logs (quiet logs must not cut
//! traces short); W3C trace context links them across processes
//! (`trace_context`).
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::StartupError;
use crate::config::env_opt;

/// Which spans go to OpenTelemetry.
const SPAN_FILTER: &str = "info,sqlx=warn,h2=warn,tower=warn";

/// Keeps the trace exporter alive; flushes it when dropped.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports every span that has ended, now (spans are otherwise
    /// exported in batches every few seconds).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            let _ = provider.force_flush();
        }
    }
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

/// Like `init`, with another default log filter (`RUST_LOG` still wins):
/// test harnesses log only warnings and errors unless asked.
pub fn init_with_filter(service_name: &str, default_filter: &str) -> Result<Telemetry, StartupError> {
    let provider = match env_opt("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
                .map_err(|e| StartupError::Config(format!("OTLP exporter: {e}")))?;
            Some(tracer_provider(service_name, exporter))
        }
        None => None,
    };
    install(service_name, default_filter, provider)
}

/// Like `init_with_filter`, with spans going to `exporter` instead of
/// OTLP: how a test collects the spans of its own process.
pub fn init_with_exporter(
    service_name: &str,
    default_filter: &str,
    exporter: impl SpanExporter + 'static,
) -> Result<Telemetry, StartupError> {
    install(service_name, default_filter, Some(tracer_provider(service_name, exporter)))
}

fn tracer_provider(service_name: &str, exporter: impl SpanExporter + 'static) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service_name.to_owned()).build())
        .build()
}

fn install(
    service_name: &str,
    default_filter: &str,
    provider: Option<SdkTracerProvider>,
) -> Result<Telemetry, StartupError> {
    // The metrics recorder too, before anything records.
    crate::metrics::handle();
    let logs = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = env_opt("LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = if json {
        tracing_subscriber::fmt::layer().json().flatten_event(true).boxed()
    } else {
        tracing_subscriber::fmt::layer().boxed()
    };
    if provider.is_some() {
        // For any library that propagates through the global propagator;
        // ours goes through `trace_context`, which speaks the same W3C format.
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    }
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(service_name.to_owned()))
            .with_filter(EnvFilter::new(SPAN_FILTER))
    });
    tracing_subscriber::registry()
        .with(fmt.with_filter(logs))
        .with(otel)
        .try_init()
        .map_err(|e| StartupError::Config(format!("tracing: {e}")))?;
    Ok(Telemetry { provider })
}
