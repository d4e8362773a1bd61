//! A channel to several replicas spreads calls over all of them.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::shutdown::CancellationToken;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// A health server on a fresh port that counts the calls it answers.
async fn replica(stop: CancellationToken) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let counter = calls.clone();
    let counted = tonic::service::interceptor::InterceptedService::new(health, move |request| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(request)
    });
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(counted)
            .serve_with_incoming_shutdown(incoming, stop.cancelled_owned()),
    );
    (addr, calls)
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
