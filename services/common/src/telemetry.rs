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

/// Which spans go to OpenTelemetry.
const SPAN_FILTER: &str = "info,sqlx=warn,h2=warn,tower=warn";
/// Which events the binaries log unless `RUST_LOG` says.
const LOG_FILTER: &str = "info,sqlx=warn,h2=warn,tower=warn";

/// How a binary logs and exports traces; part of every binary's command line.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// `pretty`, or `json`: one JSON object per line.
    #[arg(long, env = "LOG_FORMAT", default_value = "pretty")]
    pub log_format: LogFormat,
    /// Log filter in `tracing`'s EnvFilter syntax (unset: info, and warn for
    /// sqlx, h2 and tower).
    #[arg(long = "rust-log", env = "RUST_LOG")]
    pub log_filter: Option<String>,
    /// OTLP/gRPC endpoint that spans are exported to under the binary's
    /// name, e.g. `http://otel-collector:4317` (unset: no export).
    #[arg(long = "otel-exporter-otlp-endpoint", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.to_ascii_lowercase().as_str() {
            "pretty" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected pretty or json".to_owned()),
        }
    }
}

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
pub fn init(service_name: &str, settings: &Settings) -> Result<Telemetry, StartupError> {
    init_with(service_name, settings, LOG_FILTER)
}

/// Like `init` with the settings from the environment and another default
/// log filter (`RUST_LOG` still wins): test harnesses log only warnings and
/// errors unless asked.
pub fn init_with_filter(service_name: &str, default_filter: &str) -> Result<Telemetry, StartupError> {
    init_with(service_name, &crate::cli::from_env()?, default_filter)
}

fn init_with(service_name: &str, settings: &Settings, default_filter: &str) -> Result<Telemetry, StartupError> {
    let provider = match settings.otlp_endpoint.clone() {
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
    install(service_name, settings, default_filter, provider)
}

/// Like `init_with_filter`, with spans going to `exporter` instead of
/// OTLP: how a test collects the spans of its own process.
pub fn init_with_exporter(
    service_name: &str,
    default_filter: &str,
    exporter: impl SpanExporter + 'static,
) -> Result<Telemetry, StartupError> {
    let settings = crate::cli::from_env()?;
    install(service_name, &settings, default_filter, Some(tracer_provider(service_name, exporter)))
}

fn tracer_provider(service_name: &str, exporter: impl SpanExporter + 'static) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service_name.to_owned()).build())
        .build()
}

fn install(
    service_name: &str,
    settings: &Settings,
    default_filter: &str,
    provider: Option<SdkTracerProvider>,
) -> Result<Telemetry, StartupError> {
    // The metrics recorder too, before anything records.
    crate::metrics::handle();
    // A filter that does not parse falls back to the default, as
    // `EnvFilter::from_default_env` would.
    let logs = settings
        .log_filter
        .as_deref()
        .and_then(|filter| EnvFilter::try_new(filter).ok())
        .unwrap_or_else(|| EnvFilter::new(default_filter));
    let fmt = if settings.log_format == LogFormat::Json {
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
