//! `cargo run -p fleet`: the whole marketplace in one process.
//!
//! `fleet` serves; `fleet create-admin --email E [--password P]` makes sure
//! an admin exists (the password may also come from `ADMIN_PASSWORD` or
//! standard input, read without echo on a terminal); `fleet events …`
//! lists, replays and discards parked events.
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use common::StartupError;
use common::config::{Infra, env_opt};
use fleet::{Fleet, FleetConfig};

const USAGE: &str = "usage: fleet                                   run every service and the gateway
       fleet --demo                            the same, seeded with a small demo marketplace (idempotent)
       fleet cluster                           every service as its own process (2 replicas of catalog, cart, order)
       fleet create-admin --email E [--password P]   create an admin (password also from ADMIN_PASSWORD or stdin)
       fleet events list | replay SERVICE CONSUMER EVENT_ID | discard SERVICE CONSUMER EVENT_ID
                                               the parked events of every service (as the console's Events page)";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let _telemetry = match common::telemetry::init("fleet") {
        Ok(t) => t,
        Err(e) => {
            eprintln!("fleet: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args.first().map(String::as_str) {
        None => serve(false).await,
        Some("--demo") => serve(true).await,
        Some("create-admin") => create_admin(&args[1..]).await,
        Some("cluster") => cluster().await,
        Some("events") => fleet::parked::command(&args[1..]).await,
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(StartupError::Config(format!("unknown argument {other:?}\n{USAGE}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(demo: bool) -> Result<(), StartupError> {
    let config = FleetConfig::from_env()?;
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
/// replicas, until Ctrl-C.
async fn cluster() -> Result<(), StartupError> {
    let infra = Infra::from_env()?;
    let port: u16 = common::config::env_or("PORT", 8000)?;
    let first_port: u16 = common::config::env_or("CLUSTER_FIRST_PORT", fleet::cluster::LOCAL_FIRST_PORT)?;
    let mut config = fleet::cluster::ClusterConfig::local(infra, port, first_port)?;
    for name in ["ADMIN_EMAIL", "ADMIN_PASSWORD", "OTEL_EXPORTER_OTLP_ENDPOINT", "RUST_LOG", "LOG_FORMAT"] {
        if let Some(value) = env_opt(name) {
            config.env.insert(name.to_owned(), value);
        }
    }
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

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

async fn create_admin(args: &[String]) -> Result<(), StartupError> {
    let email = flag(args, "--email").ok_or_else(|| StartupError::Config(format!("--email is required\n{USAGE}")))?;
    let password = match flag(args, "--password").or_else(|| env_opt("ADMIN_PASSWORD")) {
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
    let created = fleet::create_admin(&Infra::from_env()?, &email, &password).await?;
    if created {
        println!("admin {email} created");
    } else {
        println!("a user with email {email} already exists; left unchanged");
    }
    Ok(())
}
