//! The one-process fleet's default gRPC ports: with no `*_GRPC_ADDR` set,
//! every in-process service binds any free loopback port, so two fleets
//! from the default configuration start side by side (the fixed 50051–50056
//! could not, and sat inside the kernel's ephemeral range).
use fleet::{Fleet, FleetConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fleets_from_the_default_configuration_run_side_by_side() {
    let mut started = Vec::new();
    let mut infras = Vec::new();
    for tag in ["portsa", "portsb"] {
        let mut config = FleetConfig::from_env().expect("configuration");
        // REST keeps its one fixed default (PORT, 8000): not under test.
        config.http_addr = fleet::ANY_LOOPBACK_PORT.into();
        let prefix = common::testkit::unique_prefix(tag);
        config.edit_infra(|infra| infra.schema_prefix = prefix.clone());
        infras.push(config.infra.clone());
        started.push(Fleet::start(config).await);
    }
    let mut checked = Vec::new();
    for fleet in started.iter().flatten() {
        let ready = reqwest::get(format!("{}/readyz", fleet.base_url())).await.map(|r| r.status().as_u16());
        let ports = [fleet.identity_addr, fleet.catalog_addr, fleet.cart_addr, fleet.order_addr, fleet.payment_addr]
            .map(|addr| addr.port());
        checked.push((ready.ok(), ports));
    }
    let errors: Vec<String> = started.iter().filter_map(|s| s.as_ref().err().map(ToString::to_string)).collect();
    for fleet in started.iter_mut().flatten() {
        fleet.stop().await;
    }
    for infra in &infras {
        fleet::drop_schemas(infra).await.expect("clean-up");
    }
    assert!(errors.is_empty(), "a fleet did not start: {errors:?}");
    assert!(checked.iter().all(|(ready, _)| *ready == Some(200)), "{checked:?}");
    assert!(checked[0].1.iter().all(|port| !checked[1].1.contains(port)), "{checked:?}");
}
