//! Typed configuration from the environment.
//!
//! Each binary has one config struct built from these helpers; the defaults
//! are the ones that make `cargo run -p fleet` work on a developer machine.
use std::str::FromStr;

use crate::StartupError;
use crate::profile::Profile;

/// A variable parsed as `T`, or `default` when it is unset or empty.
pub fn env_or<T: FromStr>(name: &str, default: T) -> Result<T, StartupError>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|e| StartupError::Config(format!("{name}={value:?} is not valid: {e}")))
        }
        _ => Ok(default),
    }
}

/// A variable that may be unset.
pub fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The shared infrastructure every service connects to.
#[derive(Debug, Clone)]
pub struct Infra {
    /// Server URL without a database: each service picks its own schema.
    pub mysql_url: String,
    pub redis_url: String,
    /// Prefixes every schema name and Redis key, so fleets can share servers.
    pub schema_prefix: String,
    /// `MARKETPLACE_ENV`: what the binary refuses to start with.
    pub profile: Profile,
}

impl Infra {
    pub fn from_env() -> Result<Self, StartupError> {
        let infra = Self {
            mysql_url: env_or("MYSQL_URL", "mysql://root@127.0.0.1:3306".to_owned())?,
            redis_url: env_or("REDIS_URL", "redis://127.0.0.1:6379".to_owned())?,
            schema_prefix: env_or("SCHEMA_PREFIX", String::new())?,
            profile: Profile::from_env()?,
        };
        infra.validate()?;
        infra.profile.refuse_development_secret("REDIS_URL", &infra.redis_url)?;
        Ok(infra)
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
    /// The sandbox by default in development; in production it must be
    /// chosen explicitly, so a deployment never lets customers mark their
    /// own orders paid by accident.
    pub fn from_env(profile: Profile) -> Result<Self, StartupError> {
        profile.require("PAYMENT_PROVIDER", env_opt("PAYMENT_PROVIDER").as_deref())?;
        env_or("PAYMENT_PROVIDER", PaymentProviderKind::Sandbox)
    }
}
