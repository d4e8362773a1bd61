//! Sliding-window rate limits in Redis, shared by every gateway replica.
//!
//! Each window is a sorted set of event timestamps (ms). The scripts trim,
//! count and (for registration) add atomically, so concurrent requests on
//! different replicas cannot slip past a limit together. If Redis is down
//! the limits fail open (logged): refusing every login because the cache
//! is away would be the worse outage.
use std::sync::LazyLock;

use redis::Script;
use redis::aio::ConnectionManager;

/// Trims each window and returns the longest wait (ms) among those at or
/// over the limit, 0 when none is.
static CHECK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = 0
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
return wait
",
    )
});

/// Records one event in each window.
static RECORD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now, window, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
end
return 0
",
    )
});

/// Like CHECK then RECORD, in one step: the event is recorded only when
/// it is allowed.
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now, window, limit, member = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
redis.call('ZADD', key, now, member)
redis.call('PEXPIRE', key, window)
return 0
",
    )
});

#[derive(Clone)]
pub struct RateLimiter {
    redis: ConnectionManager,
    prefix: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn member(now: i64) -> String {
    format!("{now}-{}", uuid_like())
}

/// A unique suffix without another dependency: time plus a process counter.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A Redis call cut short after a moment: a limit that cannot be checked
/// quickly is not checked (fail open).
async fn bounded<T>(call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
    match tokio::time::timeout(std::time::Duration::from_millis(250), call).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// Whole seconds to wait, at least one.
fn seconds(wait_ms: i64) -> u64 {
    ((wait_ms.max(1) + 999) / 1000) as u64
}

impl RateLimiter {
    pub fn new(redis: ConnectionManager, prefix: &str) -> Self {
        Self { redis, prefix: format!("{prefix}ratelimit:") }
    }

    fn keys(&self, keys: &[String]) -> Vec<String> {
        keys.iter().map(|k| format!("{}{k}", self.prefix)).collect()
    }

    /// Seconds to wait when any window holds `limit` events, else `None`.
    pub async fn blocked(&self, keys: &[String], window_secs: i64, limit: u32) -> Option<u64> {
        if limit == 0 || keys.is_empty() {
            return None;
        }
        let mut invocation = CHECK.prepare_invoke();
        for key in self.keys(keys) {
            invocation.key(key);
        }
        invocation.arg(now_ms()).arg(window_secs * 1000).arg(limit);
        match bounded(invocation.invoke_async::<i64>(&mut self.redis.clone())).await {
            Ok(0) => None,
            Ok(wait) => Some(seconds(wait)),
            Err(error) => {
                tracing::warn!(%error, "rate limit check failed; allowing");
                None
            }
        }
    }

    /// Records an event (a failed login) in every window.
    pub async fn record(&self, keys: &[String], window_secs: i64) {
        if keys.is_empty() {
            return;
        }
        let now = now_ms();
        let mut invocation = RECORD.prepare_invoke();
        for key in self.keys(keys) {
            invocation.key(key);
        }
        invocation.arg(now).arg(window_secs * 1000).arg(member(now));
        if let Err(error) = bounded(invocation.invoke_async::<i64>(&mut self.redis.clone())).await {
            tracing::warn!(%error, "rate limit record failed");
        }
    }

    /// Takes one slot of `key`'s window if there is one; else the wait.
    pub async fn take(&self, key: &str, window_secs: i64, limit: u32) -> Option<u64> {
        if limit == 0 {
            return None;
        }
        let now = now_ms();
        let mut conn = self.redis.clone();
        let mut invocation = TAKE.key(format!("{}{key}", self.prefix));
        invocation.arg(now).arg(window_secs * 1000).arg(limit).arg(member(now));
        let result = bounded(invocation.invoke_async::<i64>(&mut conn)).await;
        match result {
            Ok(0) => None,
            Ok(wait) => Some(seconds(wait)),
            Err(error) => {
                tracing::warn!(%error, "rate limit take failed; allowing");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(super::seconds(1), 1);
        assert_eq!(super::seconds(1000), 1);
        assert_eq!(super::seconds(1001), 2);
        assert_eq!(super::seconds(-5), 1);
    }
}
