//! Compiles every proto of the marketplace in one place, with no system
//! `protoc`: `protox` parses the files in pure Rust, tonic-prost-build turns
//! the descriptor set into code, and the encoded set is written beside it for
//! gRPC reflection. Which calls a client may send twice is read from the
//! methods' `idempotency_level` options into `RETRY_SAFE`, so the protos
//! are the one place that says it.
use std::fmt::Write as _;

use prost::Message;
use prost_types::method_options::IdempotencyLevel;

const PROTOS: &[&str] = &[
    "marketplace/identity/v1/identity.proto",
    "marketplace/catalog/v1/catalog.proto",
    "marketplace/order/v1/order.proto",
    "marketplace/order/v1/events.proto",
    "marketplace/cart/v1/cart.proto",
    "marketplace/analytics/v1/analytics.proto",
    "marketplace/payment/v1/payment.proto",
    "marketplace/payment/v1/events.proto",
    "marketplace/events/v1/events.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=marketplace");
    let fds = protox::compile(PROTOS, ["."])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("marketplace_descriptor.bin"), fds.encode_to_vec())?;
    std::fs::write(out.join("retry_safe.rs"), retry_safe(&fds))?;
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(fds)?;
    Ok(())
}

/// The gRPC paths of the methods marked `NO_SIDE_EFFECTS` or `IDEMPOTENT`,
/// as a sorted Rust slice.
fn retry_safe(fds: &prost_types::FileDescriptorSet) -> String {
    let mut paths = Vec::new();
    for file in &fds.file {
        for service in &file.service {
            for method in &service.method {
                let level = method.options.as_ref().map(|o| o.idempotency_level()).unwrap_or_default();
                if level != IdempotencyLevel::IdempotencyUnknown {
                    paths.push(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                }
            }
        }
    }
    paths.sort();
    let mut code = String::from("/// Methods whose `idempotency_level` says a repeat changes nothing more.\n");
    code.push_str("pub const RETRY_SAFE: &[&str] = &[\n");
    for path in paths {
        let _ = writeln!(code, "    {path:?},");
    }
    code.push_str("];\n");
    code
}
