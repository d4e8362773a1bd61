//! Compiles every proto of the marketplace in one place, with no system
//! `protoc`: `protox` parses the files in pure Rust, tonic-prost-build turns
//! the descriptor set into code, and the encoded set is written beside it for
//! gRPC reflection.
use prost::Message;

const PROTOS: &[&str] = &[
    "marketplace/identity/v1/identity.proto",
    "marketplace/catalog/v1/catalog.proto",
    "marketplace/order/v1/order.proto",
    "marketplace/cart/v1/cart.proto",
    "marketplace/analytics/v1/analytics.proto",
    "marketplace/payment/v1/payment.proto",
    "marketplace/events/v1/events.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=marketplace");
    let fds = protox::compile(PROTOS, ["."])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("marketplace_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(fds)?;
    Ok(())
}
