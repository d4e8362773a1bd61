//! `fleet`'s command line: serving (optionally seeded with `--demo`), and
//! the `cluster`, `create-admin` and `events` subcommands. The services
//! inside read their own settings from the environment, as their binaries
//! do (see their `--help`).
use common::telemetry::Settings;

use crate::FleetArgs;
use crate::cluster::LOCAL_FIRST_PORT;
use crate::parked;

#[derive(Debug, clap::Parser)]
#[command(
    name = "fleet",
    version,
    about = "The whole marketplace: every service and the gateway in one process, or as separate processes",
    after_help = "Every service's and the gateway's own settings are read from the environment too (see their --help)."
)]
pub struct Cli {
    /// Seed a small demo marketplace before serving (idempotent; refused in
    /// production, as it publishes the accounts' password).
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
    #[command(flatten)]
    pub telemetry: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Every service as its own process (2 replicas of catalog, cart and
    /// order), until Ctrl-C. Build the binaries first.
    Cluster {
        /// The processes' gRPC and metrics ports are handed out from here up
        /// (REST on PORT).
        #[arg(long = "cluster-first-port", env = "CLUSTER_FIRST_PORT", default_value_t = LOCAL_FIRST_PORT)]
        first_port: u16,
    },
    /// Makes sure an admin exists; an existing user is left unchanged.
    CreateAdmin {
        /// The admin's email.
        #[arg(long)]
        email: String,
        /// The admin's password; without it, read from standard input
        /// (without echo on a terminal).
        #[arg(long, env = "ADMIN_PASSWORD")]
        password: Option<String>,
    },
    /// The parked events of every service, as the console's Events page
    /// shows them.
    Events {
        #[command(subcommand)]
        action: parked::Action,
    },
}

/// The whole command line, as `--help` and the README's check see it.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
