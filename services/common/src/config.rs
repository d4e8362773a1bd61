//! The settings every service shares (`Infra`) and the payment provider's
//! choice. Each binary's own settings are one clap struct in its crate,
//! built on these; `cli` says how the environment is read, `defaults`
//! holds every default address.
//!
//! The defaults are the ones that make `cargo run -p fleet` work on a
//! developer machine.
pub mod defaults;

use std::str::FromStr;

use crate::StartupError;
use crate::profile::Profile;

/// The shared infrastructure every service connects to.
#[derive(Debug, Clone, clap::Args)]
pub struct Infra {
    /// MariaDB/MySQL server URL without a database: each service creates
    /// and migrates its own schema there.
    #[arg(long, env = "MYSQL_URL", default_value = "mysql://root@127.0.0.1:3306")]
    pub mysql_url: String,
    /// Redis URL: caches, the catalog version, event streams.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Prefixes every schema name and Redis key (letters, digits, '_'), so
    /// several marketplaces can share the servers.
    #[arg(long, env = "SCHEMA_PREFIX", default_value = "")]
    pub schema_prefix: String,
    /// `development` or `production`: what the binary refuses to start with.
    #[arg(long = "marketplace-env", env = "MARKETPLACE_ENV", default_value = "development")]
    pub profile: Profile,
}

impl Infra {
    /// From the environment alone, checked.
    pub fn from_env() -> Result<Self, StartupError> {
        crate::cli::from_env::<Self>()?.checked()
    }

    /// What clap cannot check: the prefix's characters, and the production
    /// profile's refusal of a development Redis password.
    pub fn checked(self) -> Result<Self, StartupError> {
        self.validate()?;
        self.profile.refuse_development_secret("REDIS_URL", &self.redis_url)?;
        Ok(self)
    }

    pub fn validate(&self) -> Result<(), StartupError> {
        if self.schema_prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            Ok(())
        } else {
            Err(StartupError::Config(format!(
                "SCHEMA_PREFIX={:?} may hold only letters, digits and '_'",
                self.schema_prefix
            )))
        }
    }

    /// The schema a service owns, e.g. `identity` or `t42_identity`.
    pub fn schema(&self, service: &str) -> String {
        format!("{}{service}", self.schema_prefix)
    }

    /// A pool on the service's own schema, created and migrated.
    pub async fn mysql_pool(
        &self,
        service_schema: &str,
        max_connections: u32,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<sqlx::MySqlPool, StartupError> {
        // Checked here, by the binaries that use a database: the gateway
        // has none and is given no MYSQL_URL.
        self.profile.refuse_weak_database_url("MYSQL_URL", &self.mysql_url)?;
        crate::db::connect(&self.mysql_url, &self.schema(service_schema), max_connections, migrator).await
    }

    pub async fn redis(&self) -> Result<redis::aio::ConnectionManager, StartupError> {
        crate::redis_conn::connect(&self.redis_url).await
    }
}

/// The payment provider (`PAYMENT_PROVIDER`): the payment service talks to
/// it, and the gateway offers the sandbox's "complete" route only when it
/// is the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentProviderKind {
    /// Built in, for development and tests: anyone may "pay" their order.
    Sandbox,
    /// Stripe's PaymentIntents API (`STRIPE_SECRET_KEY`).
    Stripe,
}

impl FromStr for PaymentProviderKind {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.to_ascii_lowercase().as_str() {
            "sandbox" => Ok(PaymentProviderKind::Sandbox),
            "stripe" => Ok(PaymentProviderKind::Stripe),
            _ => Err("expected sandbox or stripe".to_owned()),
        }
    }
}

impl PaymentProviderKind {
    /// The provider `PAYMENT_PROVIDER` named, else the sandbox in
    /// development; in production it must be named, so a deployment never
    /// lets customers mark their own orders paid by accident.
    pub fn chosen(named: Option<Self>, profile: Profile) -> Result<Self, StartupError> {
        if named.is_none() {
            profile.require("PAYMENT_PROVIDER", None)?;
        }
        Ok(named.unwrap_or(PaymentProviderKind::Sandbox))
    }
}
