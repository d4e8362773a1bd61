//! Redis: one multiplexed, self-reconnecting connection per process, and
//! the key prefix that keeps fleets sharing a server apart.
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::StartupError;
use crate::db::redact_url;

/// Connects (failing fast with the URL named when Redis is unreachable).
pub async fn connect(url: &str) -> Result<ConnectionManager, StartupError> {
    let unreachable = |reason: String| StartupError::Unreachable { what: "Redis", url: redact_url(url), reason };
    let client = redis::Client::open(url).map_err(|e| unreachable(e.to_string()))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2);
    tokio::time::timeout(Duration::from_secs(10), ConnectionManager::new_with_config(client, config))
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))
}

/// Deletes every key under `prefix` (test clean-up).
pub async fn delete_prefixed(conn: &mut ConnectionManager, prefix: &str) -> redis::RedisResult<()> {
    if prefix.is_empty() {
        return Ok(());
    }
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(500)
            .query_async(conn)
            .await?;
        if !keys.is_empty() {
            redis::cmd("DEL").arg(&keys).query_async::<()>(conn).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}
