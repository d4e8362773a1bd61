//! The catalog service on its own: config from env, telemetry, serve.
use common::config::{Infra, env_or};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let probe = common::probe::Probe::Grpc { env: "GRPC_ADDR", default: "0.0.0.0:50052" };
    common::service_main("catalog", probe, run).await
}

async fn run() -> Result<(), common::StartupError> {
    let config = catalog::Config::from_env(Infra::from_env()?)?;
    let addr: String = env_or("GRPC_ADDR", "0.0.0.0:50052".to_owned())?;
    let service = catalog::start(&config).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%addr, "catalog serving gRPC");
    service.serve(listener, common::shutdown::on_os_signal()).await
}
