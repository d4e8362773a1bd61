//! The kit every marketplace service shares, written once: configuration,
//! telemetry, the MySQL pool and migrations, Redis, the gRPC server and
//! client plumbing, access-token principals, the error type that crosses
//! gRPC, the event outbox/relay/consumers, slugs, and the test harness.
pub mod auth;
pub mod base64url;
pub mod buyable;
pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod grpc_client;
pub mod grpc_server;
pub mod identity_keys;
pub mod metrics;
pub mod money;
pub mod probe;
pub mod profile;
pub mod proto_time;
pub mod redis_conn;
pub mod shutdown;
pub mod slug;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod trace_context;

pub use error::{ApiError, ErrorKind, FieldErrors};

/// The allocator of every binary that links `common` (all of them): under
/// the request mix glibc's malloc cost ~18 % of the CPU of a listing
/// (allocation churn across threads); mimalloc's thread-local heaps do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The body of every service binary's `main`: `<binary> healthcheck`
/// probes the running service and exits 0 only when it is healthy;
/// otherwise telemetry first, then `run`, whose failure is logged and
/// printed as one line and becomes the exit code.
pub async fn service_main<F, Fut>(name: &str, probe: probe::Probe, run: F) -> std::process::ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(), StartupError>>,
{
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return match probe.run().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(reason) => {
                eprintln!("{name} unhealthy: {reason}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let _telemetry = match telemetry::init(name) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{name}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{name}: {e}");
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Why a service could not start (or stopped serving).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot reach {what} at {url}: {reason}")]
    Unreachable { what: &'static str, url: String, reason: String },
    #[error("database: {0}")]
    Database(String),
    #[error("serving: {0}")]
    Serve(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}
