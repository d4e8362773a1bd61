//! Downstream gRPC clients: a channel per service (balanced over every
//! replica its address names, with failed replicas dropped from rotation
//! and safe calls retried once on another: `replicas`, `retry`), and the
//! per-call deadline and forwarded bearer token every call carries.
use std::time::Duration;

use crate::StartupError;
use crate::error::{ApiError, ErrorKind};

mod replicas;
mod retry;

pub use replicas::ServiceChannel;
pub use retry::{RetrySafe, is_retry_safe};

/// A channel to a service that connects on first use, so a service that is
/// down makes calls fail with `Unavailable` instead of failing start-up.
/// `address` is one `host:port`, a comma-separated list of them, or a DNS
/// name that stands for many replicas (a headless Kubernetes Service,
/// `docker compose --scale`); calls are spread over every address, and
/// names are re-resolved every few seconds.
pub fn lazy_channel(address: &str) -> Result<ServiceChannel, StartupError> {
    let targets: Vec<String> = address
        .split(',')
        .map(|t| t.trim().trim_start_matches("http://").trim_end_matches('/').to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if targets.is_empty() {
        return Err(StartupError::Config(format!("no gRPC address in {address:?}")));
    }
    if let Some(bad) = targets.iter().find(|t| t.rsplit_once(':').is_none_or(|(_, port)| port.parse::<u16>().is_err()))
    {
        return Err(StartupError::Config(format!("gRPC address {bad:?} in {address:?} is not host:port")));
    }
    Ok(ServiceChannel::new(address, targets))
}

/// A request with a deadline and, when acting for a user, their token.
/// (Its trace context is added per attempt by `ServiceChannel`.)
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
