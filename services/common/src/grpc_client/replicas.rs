//! A channel to every replica of one service: round-robin over the
//! replicas that answer, a replica that fails at the transport level
//! dropped from the rotation for a growing while (1 s, doubling to 8 s) and
//! tried again after it, and a call that failed sent once more to another
//! replica when [`retry`](super::retry) says that is safe.
//!
//! The replica set is what the target names resolve to, re-resolved every
//! few seconds by a background task (replicas that come and go, as behind a
//! headless Kubernetes Service or `docker compose --scale`, are followed).
//! IP literals need no resolver. Each replica is a lazily connecting tonic
//! `Channel`, so a service that is down makes calls fail instead of
//! start-up. Each attempt is a client span (the replica it went to, whether
//! it was a retry) whose context the request carries, so a trace shows
//! which replica answered and which one failed first.
use std::collections::HashSet;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::transport::{Channel, Endpoint};
use tower::{Service, ServiceExt};
use tracing::Instrument;
use tracing::field::Empty;

use super::retry::{RetrySafe, is_retry_safe};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const RESOLVE_EVERY: Duration = Duration::from_secs(5);
const FIRST_EJECTION: Duration = Duration::from_secs(1);
const LONGEST_EJECTION: Duration = Duration::from_secs(8);
/// How long a call waits for a name to resolve to its first address.
const WAIT_FOR_FIRST_ADDRESS: Duration = Duration::from_secs(2);

/// One replica: its address, its connection and its recent failures.
struct Replica {
    addr: SocketAddr,
    channel: Channel,
    /// Consecutive transport failures; 0 when the last call got through.
    failures: AtomicU32,
    ejected_until: Mutex<Option<Instant>>,
}

impl Replica {
    fn new(addr: SocketAddr) -> Self {
        let channel = Endpoint::from_shared(format!("http://{addr}")).map(|e| {
            e.connect_timeout(Duration::from_secs(2))
                .tcp_nodelay(true)
                // A peer that vanished without a reset (host down,
                // partition) is noticed by a missing ping reply.
                .http2_keep_alive_interval(Duration::from_secs(10))
                .keep_alive_timeout(Duration::from_secs(5))
                .keep_alive_while_idle(true)
                .connect_lazy()
        });
        Self {
            addr,
            // A SocketAddr always makes a valid URI.
            channel: channel.unwrap_or_else(|_| unreachable!("http://{addr} is a URI")),
            failures: AtomicU32::new(0),
            ejected_until: Mutex::new(None),
        }
    }

    fn ejected_until(&self) -> Option<Instant> {
        *self.ejected_until.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn in_rotation(&self, now: Instant) -> bool {
        self.ejected_until().is_none_or(|until| until <= now)
    }

    fn failed(&self, target: &str, error: &BoxError) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let pause = FIRST_EJECTION.saturating_mul(1 << failures.saturating_sub(1).min(3)).min(LONGEST_EJECTION);
        *self.ejected_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + pause);
        metrics::counter!("grpc_client_ejections_total", "target" => target.to_owned()).increment(1);
        let error = chain(error.as_ref());
        tracing::warn!(%target, replica = %self.addr, %error, ?pause, "replica failed; out of rotation for a while");
    }

    fn answered(&self) {
        if self.failures.swap(0, Ordering::Relaxed) > 0 {
            *self.ejected_until.lock().unwrap_or_else(|p| p.into_inner()) = None;
            tracing::info!(replica = %self.addr, "replica answers again");
        }
    }
}

struct Shared {
    /// The configured address, for logs and metrics.
    target: String,
    replicas: RwLock<Vec<Arc<Replica>>>,
    next: AtomicUsize,
    resolved: tokio::sync::Notify,
}

impl Shared {
    fn snapshot(&self) -> Vec<Arc<Replica>> {
        self.replicas.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn len(&self) -> usize {
        self.replicas.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The next replica in rotation other than `not`; when every replica is
    /// out of rotation, the one due back first (trying beats refusing).
    fn pick(&self, not: Option<SocketAddr>) -> Option<Arc<Replica>> {
        let replicas = self.snapshot();
        let now = Instant::now();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let candidates = (0..replicas.len()).map(|i| &replicas[(start + i) % replicas.len()]);
        let others: Vec<&Arc<Replica>> = candidates.filter(|r| Some(r.addr) != not).collect();
        others
            .iter()
            .find(|r| r.in_rotation(now))
            .or_else(|| others.iter().min_by_key(|r| r.ejected_until()))
            .map(|r| Arc::clone(r))
            .or_else(|| replicas.iter().find(|r| Some(r.addr) == not).cloned())
    }

    /// Makes the replica set equal to `addresses`, keeping the connections
    /// (and failure records) of the replicas that stay.
    fn set(&self, addresses: &HashSet<SocketAddr>) {
        let mut replicas = self.replicas.write().unwrap_or_else(|p| p.into_inner());
        replicas.retain(|r| addresses.contains(&r.addr));
        let known: HashSet<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
        for addr in addresses.difference(&known) {
            replicas.push(Arc::new(Replica::new(*addr)));
        }
        replicas.sort_by_key(|r| r.addr);
        drop(replicas);
        self.resolved.notify_waiters();
    }
}

/// A cheap, cloneable channel to every replica of one service; generated
/// clients take it where they would take a tonic `Channel`.
#[derive(Clone)]
pub struct ServiceChannel {
    shared: Arc<Shared>,
}

impl ServiceChannel {
    /// A channel over the replicas `targets` (host:port each) name.
    pub(super) fn new(target: &str, targets: Vec<String>) -> Self {
        let literal: Option<HashSet<SocketAddr>> = targets.iter().map(|t| t.parse().ok()).collect();
        let shared = Arc::new(Shared {
            target: target.to_owned(),
            replicas: RwLock::new(Vec::new()),
            next: AtomicUsize::new(0),
            resolved: tokio::sync::Notify::new(),
        });
        match literal {
            Some(addresses) => shared.set(&addresses),
            None => spawn_resolver(Arc::downgrade(&shared), targets),
        }
        Self { shared }
    }

    async fn replica(&self, not: Option<SocketAddr>) -> Option<Arc<Replica>> {
        if let Some(replica) = self.shared.pick(not) {
            return Some(replica);
        }
        let resolved = self.shared.resolved.notified();
        let _ = tokio::time::timeout(WAIT_FOR_FIRST_ADDRESS, resolved).await;
        self.shared.pick(not)
    }

    async fn send(
        &self,
        request: http::Request<Body>,
        caller: tracing::Span,
    ) -> Result<http::Response<Body>, BoxError> {
        let retry_safe = request.extensions().get::<RetrySafe>().is_some() || is_retry_safe(request.uri().path());
        let (parts, body) = request.into_parts();
        // Unary requests are small; buffering one is what lets it be sent twice.
        let body = body.collect().await?.to_bytes();
        let rebuild = || {
            let mut request = http::Request::new(Body::new(http_body_util::Full::new(body.clone())));
            *request.method_mut() = parts.method.clone();
            *request.uri_mut() = parts.uri.clone();
            *request.version_mut() = parts.version;
            *request.headers_mut() = parts.headers.clone();
            request
        };
        let first = self.replica(None).await.ok_or_else(|| self.unavailable())?;
        // A retry-safe call with somewhere else to go gives its first replica
        // half the deadline: a frozen process (stopped, swapping, cut off
        // without a reset) then costs half a deadline instead of the call.
        let budget = match grpc_timeout(&parts.headers) {
            Some(deadline) if retry_safe && self.shared.len() > 1 => Some(deadline / 2),
            _ => None,
        };
        let first_try = attempt(&first, rebuild(), &caller, false);
        let outcome = match budget {
            Some(budget) => tokio::time::timeout(budget, first_try).await.unwrap_or_else(|_| {
                let message = format!("{} gave no answer within {budget:?}", first.addr);
                Err(Box::new(tonic::Status::deadline_exceeded(message)) as BoxError)
            }),
            None => first_try.await,
        };
        let failure = match outcome {
            Ok(response) if retry_safe && is_unavailable(&response) => None,
            Ok(response) => return Ok(response),
            Err(error) => {
                first.failed(&self.shared.target, &error);
                if deadline_passed(&error) || !(retry_safe || never_processed(&error)) {
                    return Err(error);
                }
                Some(error)
            }
        };
        let Some(second) = self.replica(Some(first.addr)).await else {
            return Err(failure.unwrap_or_else(|| self.unavailable()));
        };
        metrics::counter!("grpc_client_retries_total", "target" => self.shared.target.clone()).increment(1);
        tracing::debug!(target = %self.shared.target, path = parts.uri.path(), from = %first.addr, to = %second.addr, "retrying on another replica");
        let result = attempt(&second, rebuild(), &caller, true).await;
        if let Err(error) = &result {
            second.failed(&self.shared.target, error);
        }
        result
    }

    fn unavailable(&self) -> BoxError {
        Box::new(tonic::Status::unavailable(format!("no replica of {} is reachable", self.shared.target)))
    }
}

/// One try of a call on one replica, in a client span under `caller`.
async fn attempt(
    replica: &Replica,
    mut request: http::Request<Body>,
    caller: &tracing::Span,
    retry: bool,
) -> Result<http::Response<Body>, BoxError> {
    let name = request.uri().path().trim_start_matches('/').to_owned();
    let span = tracing::info_span!(
        parent: caller,
        "grpc client",
        otel.name = name,
        otel.kind = "client",
        otel.status_code = Empty,
        rpc.system = "grpc",
        server.address = %replica.addr,
        retry,
    );
    crate::trace_context::inject(&span, request.headers_mut());
    let mut channel = replica.channel.clone();
    let call = async { channel.ready().await?.call(request).await };
    let result = call.instrument(span.clone()).await.map_err(BoxError::from);
    match &result {
        Ok(_) => replica.answered(),
        Err(_) => {
            span.record("otel.status_code", "ERROR");
        }
    }
    result
}

/// What a failed call tells its caller: the call's own deadline passing
/// (tonic's `TimeoutExpired`) is `DEADLINE_EXCEEDED` (the gateway's 504);
/// any other failure of the transport is `UNAVAILABLE` (503), whatever
/// hyper called it — the service could not be reached, which is not the
/// service failing (`UNKNOWN`/`CANCELLED` would read as a 500). A status of
/// our own (no replica, half-deadline) is kept.
fn as_status(target: &str, error: BoxError) -> BoxError {
    if error.downcast_ref::<tonic::Status>().is_some() {
        return error;
    }
    let message = format!("{target}: {}", chain(error.as_ref()));
    if deadline_passed(&error) {
        return Box::new(tonic::Status::deadline_exceeded(message));
    }
    Box::new(tonic::Status::unavailable(message))
}

/// An error, then its source, then that one's source, and so on.
fn sources<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |e| e.source())
}

/// The call's whole deadline is spent: nothing is left for another try.
fn deadline_passed(error: &BoxError) -> bool {
    sources(error.as_ref()).any(|e| e.is::<tonic::TimeoutExpired>())
}

/// An error and its sources, `outer: inner: …`.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    sources(error).map(|e| e.to_string()).collect::<Vec<_>>().join(": ")
}

/// The call's deadline, from its `grpc-timeout` header ("250m", "5S", …).
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (amount, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = amount.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// A trailers-only answer `UNAVAILABLE` (the replica is shutting down, or
/// cannot reach what it needs): another replica may do better.
fn is_unavailable(response: &http::Response<Body>) -> bool {
    response.headers().get("grpc-status").is_some_and(|s| s.as_bytes() == b"14")
}

/// The replica provably never processed the request, so any call may be
/// sent elsewhere:
/// - the connection was refused;
/// - hyper cancelled the request before writing it (the connection closed
///   under it, as when a replica shuts down and its GOAWAY crosses our
///   request; hyper's own pooled client retries exactly these);
/// - the replica answered with GOAWAY and h2 failed the call with it. h2
///   fails a call that way only when its stream is above the GOAWAY's
///   last-stream-id, which the peer promises it did not and will not
///   process (RFC 9113 §6.8), or when the connection had already received
///   a GOAWAY when the call was to be sent (the stream never opened, or
///   opened without its body, and a unary call's handler needs its
///   message). A draining replica's final GOAWAY crossing our request's
///   HEADERS is the graceful restart that used to cost a call;
/// - the replica reset the call's stream with REFUSED_STREAM, which says
///   the same of that one stream (RFC 9113 §8.7).
fn never_processed(error: &BoxError) -> bool {
    sources(error.as_ref()).any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
            || e.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_canceled)
            || e.downcast_ref::<h2::Error>()
                .is_some_and(|e| e.is_remote() && (e.is_go_away() || e.reason() == Some(h2::Reason::REFUSED_STREAM)))
    })
}

impl Service<http::Request<Body>> for ServiceChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each replica's channel is made ready per call, inside the future.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let this = self.clone();
        // Called from inside the caller's span; the future may run later.
        let caller = tracing::Span::current();
        Box::pin(async move { this.send(request, caller).await.map_err(|error| as_status(&this.shared.target, error)) })
    }
}

/// Keeps `shared`'s replicas equal to what `targets` resolve to, until the
/// channel is dropped. A lookup that fails keeps what we had rather than
/// emptying the set.
fn spawn_resolver(shared: std::sync::Weak<Shared>, targets: Vec<String>) {
    tokio::spawn(async move {
        loop {
            let mut resolved = HashSet::new();
            for target in &targets {
                match tokio::net::lookup_host(target.as_str()).await {
                    Ok(addresses) => resolved.extend(addresses),
                    Err(error) => tracing::warn!(%target, %error, "could not resolve a gRPC target"),
                }
            }
            let Some(shared) = shared.upgrade() else { return };
            if !resolved.is_empty() {
                shared.set(&resolved);
            }
            drop(shared);
            tokio::time::sleep(RESOLVE_EVERY).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_in_every_unit() {
        let parse = |v: &'static str| {
            let mut headers = http::HeaderMap::new();
            headers.insert("grpc-timeout", http::HeaderValue::from_static(v));
            grpc_timeout(&headers)
        };
        assert_eq!(parse("5000m"), Some(Duration::from_millis(5000)));
        assert_eq!(parse("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse("1M"), Some(Duration::from_secs(60)));
        assert_eq!(parse("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse("9n"), Some(Duration::from_nanos(9)));
        assert_eq!(parse("5x"), None);
        assert_eq!(parse("m"), None);
        assert_eq!(parse(""), None);
        assert_eq!(grpc_timeout(&http::HeaderMap::new()), None);
    }
}
