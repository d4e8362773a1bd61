//! The kit every marketplace service shares, written once: configuration,
//! telemetry, the MySQL pool and migrations, Redis, the gRPC server and
//! client plumbing, access-token principals, the error type that crosses
//! gRPC, slugs, and the test harness.
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod grpc_client;
pub mod grpc_server;
pub mod identity_keys;
pub mod redis_conn;
pub mod shutdown;
pub mod slug;
pub mod telemetry;
pub mod testkit;

pub use error::{ApiError, ErrorKind, FieldErrors};

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
