//! The gateway on its own: config from flags and environment, telemetry,
//! serve REST.
use common::probe::Probe;
use gateway::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::service_main(|config: &Config| Probe::Http { addr: config.http_addr.clone(), path: "/healthz" }, run).await
}

async fn run(config: Config) -> Result<(), common::StartupError> {
    let config = config.checked()?;
    let addr = config.http_addr.clone();
    let gateway = gateway::Gateway::build(config).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%addr, "gateway serving REST");
    gateway.serve(listener, common::shutdown::on_os_signal()).await
}
