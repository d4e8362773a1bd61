//! MySQL/MariaDB: a pool on the service's own schema, created if missing,
//! with the service's embedded migrations applied (sqlx's migrator takes a
//! lock, so replicas starting together are safe).
use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, Connection, MySqlConnection, MySqlPool, migrate::Migrator};

use crate::StartupError;

/// The URL with any password replaced, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn check_schema_name(schema: &str) -> Result<(), StartupError> {
    if !schema.is_empty() && schema.len() <= 64 && schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(StartupError::Config(format!("invalid schema name {schema:?}")))
    }
}

async fn server_connection(mysql_url: &str) -> Result<(MySqlConnectOptions, MySqlConnection), StartupError> {
    let unreachable =
        |e: sqlx::Error| StartupError::Unreachable { what: "MySQL", url: redact_url(mysql_url), reason: e.to_string() };
    let options = MySqlConnectOptions::from_str(mysql_url).map_err(unreachable)?;
    let connection = tokio::time::timeout(Duration::from_secs(10), MySqlConnection::connect_with(&options))
        .await
        .map_err(|_| StartupError::Unreachable {
            what: "MySQL",
            url: redact_url(mysql_url),
            reason: "timed out".into(),
        })?
        .map_err(unreachable)?;
    Ok((options, connection))
}

/// A pool on `schema`, created if missing, migrated to `migrator`.
pub async fn connect(
    mysql_url: &str,
    schema: &str,
    max_connections: u32,
    migrator: &Migrator,
) -> Result<MySqlPool, StartupError> {
    check_schema_name(schema)?;
    let (options, mut server) = server_connection(mysql_url).await?;
    let create = format!("CREATE DATABASE IF NOT EXISTS `{schema}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
    sqlx::query(AssertSqlSafe(create))
        .execute(&mut server)
        .await
        .map_err(|e| StartupError::Database(format!("creating schema {schema}: {e}")))?;
    let _ = server.close().await;
    let pool = MySqlPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options.database(schema))
        .await
        .map_err(|e| StartupError::Database(format!("connecting to schema {schema}: {e}")))?;
    migrator.run(&pool).await.map_err(|e| StartupError::Database(format!("migrating schema {schema}: {e}")))?;
    Ok(pool)
}

/// Drops `schema` (test clean-up).
pub async fn drop_schema(mysql_url: &str, schema: &str) -> Result<(), StartupError> {
    check_schema_name(schema)?;
    let (_, mut server) = server_connection(mysql_url).await?;
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{schema}`")))
        .execute(&mut server)
        .await
        .map_err(|e| StartupError::Database(format!("dropping schema {schema}: {e}")))?;
    Ok(())
}

/// True when the database answers a trivial query.
pub async fn ping(pool: &MySqlPool) -> bool {
    matches!(tokio::time::timeout(Duration::from_secs(2), sqlx::query("SELECT 1").execute(pool)).await, Ok(Ok(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact_url("mysql://u:secret@db:3306"), "mysql://u:***@db:3306");
        assert_eq!(redact_url("mysql://root@127.0.0.1:3306"), "mysql://root@127.0.0.1:3306");
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
