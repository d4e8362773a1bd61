//! The `healthcheck` subcommand every binary has: container health checks
//! run the service's own binary instead of needing curl or grpcurl in the
//! image. A gRPC service is asked for `grpc.health.v1` SERVING; the
//! gateway for `GET /healthz` → 200.
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What to probe: the service's listen address from its configuration,
/// with `0.0.0.0` asked on loopback.
pub enum Probe {
    Grpc { addr: String },
    Http { addr: String, path: &'static str },
}

fn local(addr: &str) -> String {
    addr.replacen("0.0.0.0", "127.0.0.1", 1)
}

impl Probe {
    /// `Ok` when the service answers healthy, else why not.
    pub async fn run(&self) -> Result<(), String> {
        match self {
            Probe::Grpc { addr } => grpc_serving(&local(addr)).await,
            Probe::Http { addr, path } => http_ok(&local(addr), path).await,
        }
    }
}

/// `Ok` when the gRPC server at `addr` reports SERVING.
pub async fn grpc_serving(addr: &str) -> Result<(), String> {
    grpc_service_serving(addr, "").await
}

/// `Ok` when the gRPC server at `addr` reports SERVING for `service` (its
/// fully-qualified name): it is that service, not just any server.
pub async fn grpc_service_serving(addr: &str, service: &str) -> Result<(), String> {
    // A plain channel to exactly this address: a probe asks one process.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| format!("{addr}: {e}"))?
        .connect_timeout(PROBE_TIMEOUT)
        .connect_lazy();
    let mut client = HealthClient::new(channel);
    let answer = tokio::time::timeout(PROBE_TIMEOUT, client.check(HealthCheckRequest { service: service.to_owned() }))
        .await
        .map_err(|_| format!("{addr}: no answer in time"))?
        .map_err(|status| format!("{addr}: {}", status.message()))?;
    if answer.into_inner().status == ServingStatus::Serving as i32 {
        Ok(())
    } else {
        Err(format!("{addr}: not serving"))
    }
}

/// `Ok` when `GET <path>` at `addr` answers 200.
pub async fn http_ok(addr: &str, path: &str) -> Result<(), String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = vec![0u8; 64];
        let read = stream.read(&mut head).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..read]).into_owned())
    };
    let head = tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{addr}: no answer in time"))?
        .map_err(|e| format!("{addr}: {e}"))?;
    if head.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!("{addr}: {}", head.lines().next().unwrap_or("")))
    }
}
