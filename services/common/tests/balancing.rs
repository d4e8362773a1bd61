//! A channel to several replicas spreads calls over all of them, routes
//! around one that died, and takes it back once it answers again.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::shutdown::CancellationToken;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// A health server on a fresh port that counts the calls it answers.
async fn replica(stop: CancellationToken) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (addr, calls, _) = serve_health(listener, stop);
    (addr, calls)
}

/// Serves counted health checks on `listener`; aborting the task is the
/// in-process stand-in for `kill -9` (listener and connections dropped).
fn serve_health(
    listener: tokio::net::TcpListener,
    stop: CancellationToken,
) -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let addr = listener.local_addr().expect("addr").to_string();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let counter = calls.clone();
    let counted = tonic::service::interceptor::InterceptedService::new(health, move |request| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(request)
    });
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let task = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(counted)
            .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
            .await;
    });
    (addr, calls, task)
}

#[tokio::test]
async fn calls_spread_over_every_listed_replica() {
    let stop = CancellationToken::new();
    let (first, first_calls) = replica(stop.clone()).await;
    let (second, second_calls) = replica(stop.clone()).await;
    let channel = common::grpc_client::lazy_channel(&format!("{first}, {second}")).expect("channel");
    let mut client = HealthClient::new(channel);
    for _ in 0..40 {
        client.check(HealthCheckRequest { service: String::new() }).await.expect("answered");
    }
    let (a, b) = (first_calls.load(Ordering::SeqCst), second_calls.load(Ordering::SeqCst));
    assert_eq!(a + b, 40);
    assert!(a > 0 && b > 0, "both replicas took calls: {a} and {b}");
    stop.cancel();
}

#[tokio::test]
async fn one_address_is_a_plain_channel_and_an_empty_one_is_refused() {
    let stop = CancellationToken::new();
    let (only, calls) = replica(stop.clone()).await;
    let mut client = HealthClient::new(common::grpc_client::lazy_channel(&only).expect("channel"));
    client.check(HealthCheckRequest { service: String::new() }).await.expect("answered");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(common::grpc_client::lazy_channel(" , ").is_err());
    stop.cancel();
}

fn check() -> HealthCheckRequest {
    HealthCheckRequest { service: String::new() }
}

/// Calls PlaceOrder, a write that is not retry-safe, on `channel`. The test
/// servers implement only health, so a call that reaches one of them is
/// `UNIMPLEMENTED`; the status says where the call got to.
async fn place_order(channel: &common::grpc_client::ServiceChannel) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("ready");
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/marketplace.order.v1.Order/PlaceOrder");
    let codec = tonic_prost::ProstCodec::<HealthCheckRequest, tonic_health::pb::HealthCheckResponse>::default();
    grpc.unary(tonic::Request::new(check()), path, codec).await.expect_err("no test server implements PlaceOrder")
}

#[tokio::test]
async fn a_killed_replica_costs_no_failed_read_and_takes_calls_again_once_back() {
    let stop = CancellationToken::new();
    let (steady, steady_calls) = replica(stop.clone()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (flaky, _, task) = serve_health(listener, stop.clone());
    let mut client =
        HealthClient::new(common::grpc_client::lazy_channel(&format!("{steady},{flaky}")).expect("channel"));
    for _ in 0..10 {
        client.check(check()).await.expect("both up");
    }
    task.abort();
    let _ = task.await;
    let before = steady_calls.load(Ordering::SeqCst);
    for i in 0..40 {
        client.check(check()).await.unwrap_or_else(|s| panic!("read {i} failed while a replica is down: {s}"));
    }
    // (A connection task of the aborted server may still answer a call or two.)
    assert!(steady_calls.load(Ordering::SeqCst) - before >= 38, "the survivor answered the reads");

    // The same address comes back: after its time out of rotation it is
    // tried again and takes its share.
    let listener = tokio::net::TcpListener::bind(&flaky).await.expect("rebind the same port");
    let (_, back_calls, _) = serve_health(listener, stop.clone());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while back_calls.load(Ordering::SeqCst) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the restarted replica never got a call");
        client.check(check()).await.expect("answered");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.cancel();
}

#[tokio::test]
async fn a_write_goes_to_another_replica_only_when_the_connection_was_refused() {
    let stop = CancellationToken::new();
    let (live, _) = replica(stop.clone()).await;
    // A port with nothing behind it: connections are refused.
    let dead = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        listener.local_addr().expect("addr").to_string()
    };
    let channel = common::grpc_client::lazy_channel(&format!("{dead},{live}")).expect("channel");
    // PlaceOrder is not retry-safe, but a refused connection never sent it:
    // every call reaches the live replica, which does not implement it.
    for _ in 0..6 {
        let status = place_order(&channel).await;
        assert_eq!(status.code(), tonic::Code::Unimplemented, "reached a live replica: {status}");
    }
    stop.cancel();
}

#[tokio::test]
async fn malformed_addresses_are_refused_at_start() {
    assert!(common::grpc_client::lazy_channel("catalog").is_err());
    assert!(common::grpc_client::lazy_channel("127.0.0.1:notaport").is_err());
    assert!(common::grpc_client::lazy_channel("catalog:50052,127.0.0.1:1").is_ok());
}

#[tokio::test]
async fn a_frozen_replica_costs_a_read_half_its_deadline_not_the_call() {
    let stop = CancellationToken::new();
    let (live, _) = replica(stop.clone()).await;
    // A frozen process (SIGSTOP): connections accepted, never answered.
    let frozen = common::testkit::silent_listener().await.expect("listener");
    let mut client =
        HealthClient::new(common::grpc_client::lazy_channel(&format!("{frozen},{live}")).expect("channel"));
    for i in 0..6 {
        let mut request = tonic::Request::new(check());
        request.set_timeout(std::time::Duration::from_millis(600));
        // The frozen replica never answers: only a second try elsewhere can.
        let answer = tokio::time::timeout(std::time::Duration::from_secs(2), client.check(request)).await;
        assert!(matches!(answer, Ok(Ok(_))), "read {i} failed with a frozen replica: {answer:?}");
    }
    stop.cancel();
}

/// Accepts connections and closes them at once: a replica that dies
/// while a call is on its way.
async fn closing_replica() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    addr
}

#[tokio::test]
async fn a_write_cancelled_before_it_was_written_goes_to_another_replica() {
    let stop = CancellationToken::new();
    let (live, _) = replica(stop.clone()).await;
    let channel = common::grpc_client::lazy_channel(&format!("{},{live}", closing_replica().await)).expect("channel");
    for _ in 0..6 {
        let status = place_order(&channel).await;
        assert_eq!(status.code(), tonic::Code::Unimplemented, "reached a live replica: {status}");
    }
    stop.cancel();
}

#[tokio::test]
async fn a_write_lost_with_its_connection_is_unavailable_not_unknown() {
    let channel = common::grpc_client::lazy_channel(&closing_replica().await).expect("channel");
    let status = place_order(&channel).await;
    // UNAVAILABLE is the gateway's 503; UNKNOWN would be a 500.
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status}");
}
