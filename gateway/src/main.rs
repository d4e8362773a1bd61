//! The gateway on its own: config from env, telemetry, serve REST.
use common::config::{Infra, env_or};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let probe = common::probe::Probe::Http { env: "HTTP_ADDR", default: "0.0.0.0:8000", path: "/healthz" };
    common::service_main("gateway", probe, run).await
}

async fn run() -> Result<(), common::StartupError> {
    let config = gateway::Config::from_env(Infra::from_env()?)?;
    let addr: String = env_or("HTTP_ADDR", "0.0.0.0:8000".to_owned())?;
    let gateway = gateway::Gateway::build(config).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%addr, "gateway serving REST");
    gateway.serve(listener, common::shutdown::on_os_signal()).await
}
