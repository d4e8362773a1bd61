//! The payment service on its own: config from flags and environment,
//! telemetry, serve.
use common::probe::Probe;
use payment::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::service_main(|config: &Config| Probe::Grpc { addr: config.grpc_addr.clone() }, run).await
}

async fn run(config: Config) -> Result<(), common::StartupError> {
    let config = config.checked()?;
    let service = payment::start(&config).await?;
    let listener = tokio::net::TcpListener::bind(&config.grpc_addr).await?;
    tracing::info!(addr = %config.grpc_addr, "payment serving gRPC");
    service.serve(listener, common::shutdown::on_os_signal()).await
}
