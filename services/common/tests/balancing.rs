//! A channel to several replicas spreads calls over all of them, routes
//! around one that died or is restarting, and takes it back once it
//! answers again; a write goes to a second replica only when the first
//! provably never processed it.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::shutdown::CancellationToken;
use proto::order::v1 as order_pb;
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

/// Reads a client's HTTP/2 preface and frames up to its first request's
/// HEADERS, then answers GOAWAY with last-stream-id 0: "I processed none
/// of your streams", what a draining replica tells a client whose request
/// crossed its final GOAWAY (RFC 9113 §6.8: such a stream was not processed
/// and may be sent again).
async fn refusing_replica() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const SETTINGS: [u8; 9] = [0, 0, 0, 0x4, 0, 0, 0, 0, 0];
    const GOAWAY_NONE_PROCESSED: [u8; 17] = [0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut received = Vec::new();
                let mut chunk = [0u8; 4096];
                'headers: loop {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => received.extend_from_slice(&chunk[..n]),
                    }
                    // After the 24-byte preface: frames of a 9-byte header
                    // (24-bit length, type, flags, stream id) and a payload.
                    let mut at = 24;
                    while received.len() >= at + 9 {
                        if received[at + 3] == 0x1 {
                            break 'headers;
                        }
                        let length = u32::from_be_bytes([0, received[at], received[at + 1], received[at + 2]]);
                        at += 9 + length as usize;
                    }
                }
                let _ = socket.write_all(&SETTINGS).await;
                let _ = socket.write_all(&GOAWAY_NONE_PROCESSED).await;
                // Held open until the client lets go.
                while matches!(socket.read(&mut chunk).await, Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_write_refused_by_goaway_goes_to_another_replica() {
    let stop = CancellationToken::new();
    let (live, _) = replica(stop.clone()).await;
    let channel = common::grpc_client::lazy_channel(&format!("{},{live}", refusing_replica().await)).expect("channel");
    for _ in 0..6 {
        let status = place_order(&channel).await;
        assert_eq!(status.code(), tonic::Code::Unimplemented, "reached a live replica: {status}");
    }
    stop.cancel();
}

/// An order service double whose PlaceOrder (a write that is not
/// retry-safe) takes a few milliseconds and counts, per idempotency key,
/// how often it was processed.
#[derive(Clone, Default)]
struct CountingOrders {
    processed: Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>,
}

type Answer<T> = Result<tonic::Response<T>, tonic::Status>;

#[tonic::async_trait]
impl order_pb::order_server::Order for CountingOrders {
    async fn place_order(
        &self,
        request: tonic::Request<order_pb::PlaceOrderRequest>,
    ) -> Answer<order_pb::OrderMessage> {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        let key = request.into_inner().idempotency_key.unwrap_or_default();
        *self.processed.lock().expect("lock").entry(key).or_default() += 1;
        Ok(tonic::Response::new(order_pb::OrderMessage::default()))
    }

    async fn get_order(&self, _: tonic::Request<order_pb::GetOrderRequest>) -> Answer<order_pb::OrderMessage> {
        Err(tonic::Status::unimplemented("double"))
    }

    async fn list_orders(&self, _: tonic::Request<order_pb::ListOrdersRequest>) -> Answer<order_pb::OrderPage> {
        Err(tonic::Status::unimplemented("double"))
    }

    async fn list_vendor_orders(
        &self,
        _: tonic::Request<order_pb::ListVendorOrdersRequest>,
    ) -> Answer<order_pb::VendorOrderPage> {
        Err(tonic::Status::unimplemented("double"))
    }

    async fn refund_order(&self, _: tonic::Request<order_pb::RefundOrderRequest>) -> Answer<order_pb::OrderMessage> {
        Err(tonic::Status::unimplemented("double"))
    }

    async fn apply_stock_write(
        &self,
        _: tonic::Request<order_pb::StockWriteRequest>,
    ) -> Answer<order_pb::ApplyStockWriteResponse> {
        Err(tonic::Status::unimplemented("double"))
    }

    async fn undo_stock_write(
        &self,
        _: tonic::Request<order_pb::StockWriteRequest>,
    ) -> Answer<order_pb::UndoStockWriteResponse> {
        Err(tonic::Status::unimplemented("double"))
    }

    async fn get_stock(&self, _: tonic::Request<order_pb::GetStockRequest>) -> Answer<order_pb::StockLevels> {
        Err(tonic::Status::unimplemented("double"))
    }
}

/// One replica of the double, served by the services' own server
/// (`common::grpc_server`: NOT_SERVING, then drain, on shutdown) on
/// `addr`; the port may take a moment to be free again after a restart.
async fn serve_orders(orders: &CountingOrders, addr: &str) -> (String, CancellationToken, tokio::task::JoinHandle<()>) {
    let started = tokio::time::Instant::now();
    let listener = loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => break listener,
            Err(error) if started.elapsed() < std::time::Duration::from_secs(5) => {
                eprintln!("rebinding {addr}: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(error) => panic!("cannot listen on {addr} again: {error}"),
        }
    };
    let addr = listener.local_addr().expect("addr").to_string();
    let stop = CancellationToken::new();
    let routes = tonic::service::Routes::new(order_pb::order_server::OrderServer::new(orders.clone()));
    let defaults = common::cli::from_env().expect("serving settings");
    let serving =
        common::grpc_server::serve("marketplace.order.v1.Order", routes, listener, None, defaults, stop.clone());
    let task = tokio::spawn(async move { serving.await.expect("served") });
    (addr, stop, task)
}

/// A rolling restart: each replica in turn is stopped gracefully (its
/// listener closes, its connections get GOAWAY and drain) and started
/// again on its address, while writers keep placing orders. No call may
/// fail, and no order may be processed twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_restart_under_concurrent_writes_fails_no_call() {
    let orders = CountingOrders::default();
    let mut replicas = vec![serve_orders(&orders, "127.0.0.1:0").await, serve_orders(&orders, "127.0.0.1:0").await];
    let channel = common::grpc_client::lazy_channel(&format!("{},{}", replicas[0].0, replicas[1].0)).expect("channel");
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writers: Vec<_> = (0..16)
        .map(|_| {
            let (channel, running) = (channel.clone(), running.clone());
            tokio::spawn(async move {
                let mut client = order_pb::order_client::OrderClient::new(channel);
                let (mut placed, mut failed) = (Vec::new(), Vec::new());
                while running.load(Ordering::Relaxed) {
                    let key = uuid::Uuid::new_v4().to_string();
                    let request = order_pb::PlaceOrderRequest { lines: Vec::new(), idempotency_key: Some(key.clone()) };
                    let request = common::grpc_client::request(request, std::time::Duration::from_secs(5), None);
                    match client.place_order(request).await {
                        Ok(_) => placed.push(key),
                        Err(status) => failed.push(format!("{:?}: {}", status.code(), status.message())),
                    }
                }
                (placed, failed)
            })
        })
        .collect();
    for _round in 0..3 {
        for replica in replicas.iter_mut() {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            replica.1.cancel();
            (&mut replica.2).await.expect("drained");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            *replica = serve_orders(&orders, &replica.0).await;
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    running.store(false, Ordering::Relaxed);
    let (mut placed, mut failed) = (Vec::new(), Vec::new());
    for writer in writers {
        let (ok, errors) = writer.await.expect("writer");
        placed.extend(ok);
        failed.extend(errors);
    }
    for replica in &replicas {
        replica.1.cancel();
    }
    let processed = orders.processed.lock().expect("lock").clone();
    let twice: Vec<_> = processed.iter().filter(|(_, n)| **n > 1).collect();
    println!("{} orders placed, {} calls failed, {} processed twice", placed.len(), failed.len(), twice.len());
    assert!(failed.is_empty(), "{} calls failed during the rolling restart: {failed:?}", failed.len());
    assert!(twice.is_empty(), "orders processed twice: {twice:?}");
    assert!(placed.iter().all(|key| processed.get(key) == Some(&1)), "every placed order was processed once");
    assert!(placed.len() > 100, "the writers kept writing ({})", placed.len());
}
