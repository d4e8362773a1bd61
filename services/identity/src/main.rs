//! The identity service on its own: config from env, telemetry, serve.
use common::config::{Infra, env_or};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let _telemetry = match common::telemetry::init("identity") {
        Ok(t) => t,
        Err(e) => {
            eprintln!("identity: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("identity: {e}");
            eprintln!("identity: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), common::StartupError> {
    let config = identity::Config::from_env(Infra::from_env()?)?;
    let addr: String = env_or("GRPC_ADDR", "0.0.0.0:50051".to_owned())?;
    let service = identity::start(&config).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%addr, "identity serving gRPC");
    service.serve(listener, common::shutdown::on_os_signal()).await
}
