//! The kit every marketplace service shares, written once: configuration,
//! telemetry, the MySQL pool and migrations, Redis, the gRPC server and
//! client plumbing, access-token principals, the error type that crosses
//! gRPC, the event outbox/relay/consumers, slugs, and the test harness.
pub mod auth;
pub mod base64url;
pub mod buyable;
pub mod cache;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod grpc_client;
pub mod grpc_server;
pub mod identity_keys;
pub mod ids;
pub mod metrics;
pub mod money;
pub mod probe;
pub mod product_snapshots;
pub mod profile;
pub mod proto_time;
pub mod redis_conn;
pub mod shutdown;
pub mod slug;
pub mod status;
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

/// The body of every service binary's `main`. The command line (flags,
/// each with its environment variable) is parsed into `C` first, so
/// `--help`, `--version` and an invalid value exit before anything starts;
/// `<binary> healthcheck` probes the running service (`probe` says where)
/// and exits 0 only when it is healthy; otherwise telemetry first, then
/// `run`, whose failure is logged and printed as one line and becomes the
/// exit code.
pub async fn service_main<C, P, F, Fut>(probe: P, run: F) -> std::process::ExitCode
where
    C: clap::CommandFactory + clap::Args,
    P: FnOnce(&C) -> probe::Probe,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = Result<(), StartupError>>,
{
    let command = service_command::<C>();
    let name = command.get_name().to_owned();
    let (config, matches) = cli::parse::<C>(command);
    let settings = match <telemetry::Settings as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(settings) => settings,
        Err(e) => e.exit(),
    };
    if matches.subcommand_name() == Some(HEALTHCHECK) {
        return match probe(&config).run().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(reason) => {
                eprintln!("{name} unhealthy: {reason}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let _telemetry = match telemetry::init(&name, &settings) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{name}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{name}: {e}");
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

const HEALTHCHECK: &str = "healthcheck";

/// A service binary's whole command line: its configuration `C`, the
/// telemetry settings, and the `healthcheck` subcommand.
pub fn service_command<C: clap::CommandFactory + clap::Args>() -> clap::Command {
    use clap::Args as _;
    // The settings first: a struct's doc comment becomes the command's
    // about when it is added, and `C`'s must win.
    let name = C::command().get_name().to_owned();
    C::augment_args(telemetry::Settings::augment_args(clap::Command::new(name))).subcommand(
        clap::Command::new(HEALTHCHECK)
            .about("Asks the running service on its listen address whether it is healthy; exit code 0 when it is"),
    )
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
