//! Typed configuration from the environment.
//!
//! Each binary has one config struct built from these helpers; the defaults
//! are the ones that make `cargo run -p fleet` work on a developer machine.
use std::str::FromStr;

use crate::StartupError;

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
}

impl Infra {
    pub fn from_env() -> Result<Self, StartupError> {
        let infra = Self {
            mysql_url: env_or("MYSQL_URL", "mysql://root@127.0.0.1:3306".to_owned())?,
            redis_url: env_or("REDIS_URL", "redis://127.0.0.1:6379".to_owned())?,
            schema_prefix: env_or("SCHEMA_PREFIX", String::new())?,
        };
        infra.validate()?;
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
        crate::db::connect(&self.mysql_url, &self.schema(service_schema), max_connections, migrator).await
    }

    pub async fn redis(&self) -> Result<redis::aio::ConnectionManager, StartupError> {
        crate::redis_conn::connect(&self.redis_url).await
    }
}
