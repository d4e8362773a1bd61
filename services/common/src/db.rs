//! MySQL/MariaDB: a pool on the service's own schema, created if missing,
//! with the service's embedded migrations applied (sqlx's migrator takes a
//! lock, so replicas starting together are safe).
//!
//! sqlx makes no spans, so every service's `Store` method carries one,
//! written the same way everywhere:
//! `#[instrument(name = "<service>.<method>", skip_all, fields(db.system = "mysql", otel.kind = "client"))]`
//! — a trace shows the database work under each call, and no bound
//! values (`skip_all`).
use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError, MySqlPoolOptions};
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
        // READ COMMITTED: InnoDB then takes no gap locks on plain index
        // scans, which removes most lock-order deadlocks between concurrent
        // inserts; every invariant here is held by unique keys, row locks
        // and conditional updates, none by repeatable reads.
        .after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED").execute(connection).await?;
                Ok(())
            })
        })
        // Listings build a few hundred distinct statements (filters ×
        // orderings × list lengths); keep them all prepared.
        .connect_with(options.database(schema).statement_cache_capacity(STATEMENT_CACHE))
        .await
        .map_err(|e| StartupError::Database(format!("connecting to schema {schema}: {e}")))?;
    migrate(mysql_url, &pool, schema, migrator).await?;
    Ok(pool)
}

/// How long a replica waits for another one's migrations.
const MIGRATION_LOCK_WAIT_SECS: u32 = 120;

/// Runs `migrator` while holding a named lock, so replicas starting
/// together migrate one after the other. sqlx's own migration lock asks
/// for `GET_LOCK(…, -1)` and ignores the answer; MariaDB reads a negative
/// timeout as "do not wait" and returns NULL at once, so without this two
/// replicas apply the same migration and one fails on a duplicate version.
async fn migrate(mysql_url: &str, pool: &MySqlPool, schema: &str, migrator: &Migrator) -> Result<(), StartupError> {
    let failed = |e: sqlx::Error| StartupError::Database(format!("migrating schema {schema}: {e}"));
    let lock = format!("{schema}.migrations");
    // On a connection of its own: the pool may be as small as one.
    let (_, mut holder) = server_connection(mysql_url).await?;
    let (granted,): (Option<i64>,) = sqlx::query_as("SELECT GET_LOCK(?, ?)")
        .bind(&lock)
        .bind(MIGRATION_LOCK_WAIT_SECS)
        .fetch_one(&mut holder)
        .await
        .map_err(failed)?;
    if granted != Some(1) {
        return Err(StartupError::Database(format!("migrating schema {schema}: another replica holds {lock}")));
    }
    let result = migrator.run(pool).await;
    let _ = sqlx::query("SELECT RELEASE_LOCK(?)").bind(&lock).execute(&mut holder).await;
    let _ = holder.close().await;
    result.map_err(|e| StartupError::Database(format!("migrating schema {schema}: {e}")))
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

const STATEMENT_CACHE: usize = 1024;
pub const ER_DUP_ENTRY: u16 = 1062;
/// ER_NO_REFERENCED_ROW_2: a foreign key names a row that does not exist.
pub const ER_NO_REFERENCED_ROW: u16 = 1452;
pub const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
pub const ER_LOCK_DEADLOCK: u16 = 1213;
const TRANSIENT_ATTEMPTS: u32 = 8;

/// The server's error number (e.g. 1062), when the error came from it.
pub fn error_number(error: &sqlx::Error) -> Option<u16> {
    error.as_database_error()?.try_downcast_ref::<MySqlDatabaseError>().map(MySqlDatabaseError::number)
}

/// Deadlocks and lock-wait timeouts: the transaction was rolled back and
/// running it again is correct.
pub fn is_transient(error: &sqlx::Error) -> bool {
    matches!(error_number(error), Some(ER_LOCK_DEADLOCK | ER_LOCK_WAIT_TIMEOUT))
}

/// Runs a whole transaction, again when it lost a deadlock or a lock wait
/// (with a short jittered pause), so such losses never reach a client.
pub async fn retry_transient<T, F, Fut>(mut transaction: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut attempt = 1;
    loop {
        match transaction().await {
            Err(error) if attempt < TRANSIENT_ATTEMPTS && is_transient(&error) => {
                let jitter = u64::from(uuid::Uuid::new_v4().as_fields().1 % 10);
                tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5 + jitter)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Appends `(?, ?, …)` to `query`, binding each item: the list of an `IN`.
pub fn push_in_list<'t, T>(query: &mut sqlx::QueryBuilder<sqlx::MySql>, items: impl IntoIterator<Item = T>)
where
    T: sqlx::Encode<'t, sqlx::MySql> + sqlx::Type<sqlx::MySql>,
{
    query.push("(");
    let mut list = query.separated(", ");
    for item in items {
        list.push_bind(item);
    }
    query.push(")");
}

/// Completes each `DELETE … IN ` prefix of `deletes` with the list of
/// `keys` and runs them all in one transaction (a purge of rows that
/// belong together, e.g. a settled record and its lines).
pub async fn delete_keys(pool: &MySqlPool, deletes: &[&'static str], keys: &[String]) -> Result<(), sqlx::Error> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    for delete in deletes {
        let mut query = sqlx::QueryBuilder::<sqlx::MySql>::new(*delete);
        push_in_list(&mut query, keys.iter().cloned());
        query.build().execute(&mut *tx).await?;
    }
    tx.commit().await
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
