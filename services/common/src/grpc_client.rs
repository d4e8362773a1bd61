//! Downstream gRPC clients: a lazily connected channel per service, and
//! the per-call deadline and forwarded bearer token every call carries.
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::StartupError;
use crate::error::{ApiError, ErrorKind};

/// A channel that connects on first use, so a service that is down makes
/// calls fail with `Unavailable` instead of failing start-up.
pub fn lazy_channel(address: &str) -> Result<Channel, StartupError> {
    let uri = if address.contains("://") { address.to_owned() } else { format!("http://{address}") };
    Ok(Endpoint::from_shared(uri)
        .map_err(|e| StartupError::Config(format!("bad gRPC address {address:?}: {e}")))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect_lazy())
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
