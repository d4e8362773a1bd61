//! Downstream gRPC clients: a channel per service (balanced over every
//! replica when the address names several), and the per-call deadline and
//! forwarded bearer token every call carries.
use std::time::Duration;

use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

use crate::StartupError;
use crate::error::{ApiError, ErrorKind};

const RESOLVE_EVERY: Duration = Duration::from_secs(5);

fn endpoint(uri: String) -> Result<Endpoint, StartupError> {
    Ok(Endpoint::from_shared(uri.clone())
        .map_err(|e| StartupError::Config(format!("bad gRPC address {uri:?}: {e}")))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true))
}

/// A channel to a service. One IP address: a channel that connects on
/// first use, so a service that is down makes calls fail with
/// `Unavailable` instead of failing start-up. A comma-separated list, or a
/// DNS name (which may stand for many replicas, as a headless Kubernetes
/// Service or `docker compose --scale` does): a channel that balances calls
/// over every address the names resolve to, re-resolved every few seconds
/// so replicas that come and go are followed.
pub fn lazy_channel(address: &str) -> Result<Channel, StartupError> {
    let targets: Vec<String> = address
        .split(',')
        .map(|t| t.trim().trim_start_matches("http://").trim_end_matches('/').to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    match targets.as_slice() {
        [] => Err(StartupError::Config(format!("no gRPC address in {address:?}"))),
        [one] if one.parse::<std::net::SocketAddr>().is_ok() => Ok(endpoint(format!("http://{one}"))?.connect_lazy()),
        _ => Ok(balanced(targets)),
    }
}

/// A channel fed by a resolver task that keeps its endpoints equal to what
/// `targets` (host:port) resolve to now.
fn balanced(targets: Vec<String>) -> Channel {
    let (channel, changes) = Channel::balance_channel::<std::net::SocketAddr>(64);
    tokio::spawn(async move {
        let mut current = std::collections::HashSet::new();
        loop {
            let mut resolved = std::collections::HashSet::new();
            for target in &targets {
                match tokio::net::lookup_host(target.as_str()).await {
                    Ok(addrs) => resolved.extend(addrs),
                    Err(error) => tracing::warn!(%target, %error, "could not resolve a gRPC target"),
                }
            }
            // A failed lookup keeps what we had rather than emptying the channel.
            if !resolved.is_empty() {
                for gone in current.difference(&resolved) {
                    if changes.send(Change::Remove(*gone)).await.is_err() {
                        return;
                    }
                }
                for new in resolved.difference(&current) {
                    let Ok(endpoint) = endpoint(format!("http://{new}")) else { continue };
                    if changes.send(Change::Insert(*new, endpoint)).await.is_err() {
                        return;
                    }
                }
                current = resolved;
            }
            tokio::time::sleep(RESOLVE_EVERY).await;
            if changes.is_closed() {
                return;
            }
        }
    });
    channel
}

/// A request with a deadline and, when acting for a user, their token.
pub fn request<T>(message: T, deadline: Duration, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(deadline);
    if let Some(token) = token
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Awaits a downstream call, enforcing `deadline` locally as well, so a
/// hung connection becomes a timeout rather than a stuck request.
pub async fn call<T>(
    deadline: Duration,
    future: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(deadline + Duration::from_millis(100), future).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(ApiError::from_status(&status)),
        Err(_) => Err(ApiError::new(ErrorKind::Timeout, "The service did not answer in time.")),
    }
}
