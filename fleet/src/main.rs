//! `cargo run -p fleet`: the whole marketplace in one process.
//!
//! `fleet` serves; `fleet create-admin --email E [--password P]` makes sure
//! an admin exists (the password may also come from `ADMIN_PASSWORD` or
//! standard input, read without echo on a terminal); `fleet events …`
//! lists, replays and discards parked events. `fleet --help` has the rest.
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use common::StartupError;
use common::config::Infra;
use fleet::cli::{Cli, Command};
use fleet::{Fleet, FleetArgs, FleetConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let (cli, _) = common::cli::parse::<Cli>(fleet::cli::command());
    let _telemetry = match common::telemetry::init("fleet", &cli.telemetry) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("fleet: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        None => serve(cli.fleet, cli.demo).await,
        Some(_) if cli.demo => {
            Err(StartupError::Config("--demo seeds the fleet it serves: give it no subcommand".into()))
        }
        Some(Command::Cluster { first_port }) => cluster(cli.fleet, first_port).await,
        Some(Command::CreateAdmin { email, password }) => create_admin(cli.fleet.infra, &email, password).await,
        Some(Command::Events { action }) => match cli.fleet.infra.checked() {
            Ok(infra) => fleet::parked::command(&infra, action).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: FleetArgs, demo: bool) -> Result<(), StartupError> {
    let config = FleetConfig::new(args)?;
    if demo && config.infra.profile.is_production() {
        return Err(common::profile::refusal("--demo seeds accounts with a published password".into()));
    }
    if demo {
        fleet::create_admin(&config.infra, fleet::demo::DEMO_ADMIN_EMAIL, fleet::demo::DEMO_PASSWORD).await?;
    }
    let fleet = Fleet::start(config).await?;
    let base = fleet.base_url();
    println!("Marketplace fleet is up");
    println!("  REST API       {base}/");
    println!("  console        {base}/admin/");
    println!("  Swagger UI     {base}/api/docs/");
    println!("  OpenAPI        {base}/api/schema/");
    println!("  health         {base}/healthz  {base}/readyz  {base}/metrics");
    println!(
        "  gRPC           identity {}  catalog {}  cart {}  order {}  payment {}  analytics {}",
        fleet.identity_addr,
        fleet.catalog_addr,
        fleet.cart_addr,
        fleet.order_addr,
        fleet.payment_addr,
        fleet.analytics_addr
    );
    if demo {
        let logins = fleet::demo::seed(&base).await.map_err(|e| StartupError::Serve(format!("demo seeding: {e}")))?;
        fleet::demo::print_logins(&base, &logins);
    }
    println!("Ctrl-C stops it.");
    fleet.run_until(common::shutdown::on_os_signal()).await
}

/// `make cluster`: the service binaries as separate processes, with
/// replicas, until Ctrl-C. Each process inherits this one's environment,
/// where it finds its own settings.
async fn cluster(args: FleetArgs, first_port: u16) -> Result<(), StartupError> {
    let config = fleet::cluster::ClusterConfig::local(args.infra.checked()?, args.port, first_port)?;
    println!("Starting the marketplace as separate processes (logs in {}) ...", config.log_dir.display());
    let mut cluster = fleet::cluster::Cluster::start(config).await?;
    let base = &cluster.gateway_url;
    println!("Marketplace cluster is up");
    println!("  REST API       {base}/");
    println!("  console        {base}/admin/");
    println!("  Swagger UI     {base}/api/docs/");
    println!("  OpenAPI        {base}/api/schema/");
    println!("  {:<12} {:>8}  {:<22} {:<22} log", "process", "pid", "address", "metrics");
    for p in cluster.processes() {
        let pid = p.pid().map(|pid| pid.to_string()).unwrap_or_default();
        println!(
            "  {:<12} {:>8}  {:<22} {:<22} {}",
            p.name,
            pid,
            p.addr,
            format!("http://{}/metrics", p.metrics_addr),
            p.log().display()
        );
    }
    println!("Ctrl-C stops it.");
    common::shutdown::on_os_signal().cancelled().await;
    println!("Stopping ...");
    cluster.stop().await;
    Ok(())
}

async fn create_admin(infra: Infra, email: &str, password: Option<String>) -> Result<(), StartupError> {
    let infra = infra.checked()?;
    let password = match password {
        Some(p) => p,
        // On a terminal the password is typed without echo; piped in, it
        // is the first line of standard input.
        None if std::io::stdin().is_terminal() => rpassword::prompt_password(format!("password for {email}: "))?,
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let created = fleet::create_admin(&infra, email, &password).await?;
    if created {
        println!("admin {email} created");
    } else {
        println!("a user with email {email} already exists; left unchanged");
    }
    Ok(())
}
