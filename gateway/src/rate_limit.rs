//! Sliding-window rate limits in Redis, shared by every gateway replica.
//!
//! Each window is a sorted set of event timestamps (ms). The scripts trim,
//! count and add atomically, so concurrent requests on different replicas
//! cannot slip past a limit together; failed logins are reserved as
//! attempts in flight before the password is checked, so a burst cannot
//! either. If Redis is down
//! the limits fail open (logged): refusing every login because the cache
//! is away would be the worse outage.
use std::sync::LazyLock;

use redis::Script;
use redis::aio::ConnectionManager;

/// Reserves one attempt in every failure window (`KEYS` come in pairs:
/// the failures, then the attempts in flight). Returns the longest wait
/// (ms) when any window already holds `limit` failures; -1 when failures
/// and attempts in flight together reach it (the caller waits for those to
/// finish: they may yet succeed); else records the attempt in flight and
/// returns 0.
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now, window, limit, member, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local wait, busy = 0, false
for i = 1, #KEYS, 2 do
  local failures, inflight = KEYS[i], KEYS[i + 1]
  redis.call('ZREMRANGEBYSCORE', failures, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now - lease)
  local failed = redis.call('ZCARD', failures)
  if failed >= limit then
    local oldest = redis.call('ZRANGE', failures, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  elseif failed + redis.call('ZCARD', inflight) >= limit then
    busy = true
  end
end
if wait > 0 then return wait end
if busy then return -1 end
for i = 1, #KEYS, 2 do
  redis.call('ZADD', KEYS[i + 1], now, member)
  redis.call('PEXPIRE', KEYS[i + 1], lease)
end
return 0
",
    )
});

/// Ends a reserved attempt: out of flight, and a failure when `ARGV[3]` is 1.
static FINISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now, window, failed, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
for i = 1, #KEYS, 2 do
  redis.call('ZREM', KEYS[i + 1], member)
  if failed == '1' then
    redis.call('ZADD', KEYS[i], now, member)
    redis.call('PEXPIRE', KEYS[i], window)
  end
end
return 0
",
    )
});

/// Trims the window and records one event when it holds fewer than
/// `limit`; else returns the wait (ms).
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

/// How long an attempt waits for others in flight before giving up (503).
const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
const IN_FLIGHT_POLL: std::time::Duration = std::time::Duration::from_millis(20);
/// An attempt whose gateway died stops counting after this long.
const IN_FLIGHT_LEASE_MS: i64 = 30_000;

/// What a reservation gave.
pub enum Reservation {
    /// Go ahead; `None` when the limit is off or Redis could not be asked.
    Granted(Option<Attempt>),
    /// The limit is reached: seconds until the oldest failure leaves.
    Throttled(u64),
    /// Attempts in flight kept the outcome open past the wait.
    Busy,
}

/// An attempt counted in flight until `finish` says how it ended; one
/// dropped unfinished (the client went away) leaves flight as no failure.
pub struct Attempt {
    limiter: RateLimiter,
    keys: Vec<String>,
    member: String,
    window_secs: i64,
    done: bool,
}

impl Attempt {
    pub async fn finish(mut self, failed: bool) {
        self.done = true;
        self.limiter.finish(&self.keys, &self.member, self.window_secs, failed).await;
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.done {
            let (limiter, keys, member, window) = (
                self.limiter.clone(),
                std::mem::take(&mut self.keys),
                std::mem::take(&mut self.member),
                self.window_secs,
            );
            tokio::spawn(async move { limiter.finish(&keys, &member, window, false).await });
        }
    }
}

#[derive(Clone)]
pub struct RateLimiter {
    redis: ConnectionManager,
    prefix: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Unique across processes and hosts (every container is pid 1).
fn member(now: i64) -> String {
    format!("{now}-{}", uuid::Uuid::new_v4().simple())
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

    /// Reserves an attempt in every failure window of `keys` before the
    /// work it guards (a password check) runs: in-flight attempts count,
    /// so a burst of N wrong passwords gets exactly `limit` chances. While
    /// attempts in flight could still reach the limit, waits for them to
    /// finish (they may succeed) rather than refusing a right password.
    pub async fn reserve(&self, keys: &[String], window_secs: i64, limit: u32) -> Reservation {
        if limit == 0 || keys.is_empty() {
            return Reservation::Granted(None);
        }
        let pairs: Vec<String> =
            self.keys(keys).into_iter().flat_map(|key| [key.clone(), format!("{key}:inflight")]).collect();
        let deadline = tokio::time::Instant::now() + IN_FLIGHT_WAIT;
        loop {
            let now = now_ms();
            let member = member(now);
            let mut invocation = RESERVE.prepare_invoke();
            for key in &pairs {
                invocation.key(key);
            }
            invocation.arg(now).arg(window_secs * 1000).arg(limit).arg(&member).arg(IN_FLIGHT_LEASE_MS);
            match bounded(invocation.invoke_async::<i64>(&mut self.redis.clone())).await {
                Ok(0) => {
                    let attempt = Attempt { limiter: self.clone(), keys: pairs, member, window_secs, done: false };
                    return Reservation::Granted(Some(attempt));
                }
                Ok(-1) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(IN_FLIGHT_POLL).await;
                }
                Ok(-1) => return Reservation::Busy,
                Ok(wait) => return Reservation::Throttled(seconds(wait)),
                Err(error) => {
                    tracing::warn!(%error, "rate limit reservation failed; allowing");
                    return Reservation::Granted(None);
                }
            }
        }
    }

    async fn finish(&self, keys: &[String], member: &str, window_secs: i64, failed: bool) {
        let mut invocation = FINISH.prepare_invoke();
        for key in keys {
            invocation.key(key);
        }
        invocation.arg(now_ms()).arg(window_secs * 1000).arg(if failed { "1" } else { "0" }).arg(member);
        if let Err(error) = bounded(invocation.invoke_async::<i64>(&mut self.redis.clone())).await {
            tracing::warn!(%error, "rate limit finish failed");
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
    fn members_are_unique_across_processes() {
        // Two gateways (each pid 1 in its container) recording at the same
        // millisecond must not overwrite each other's entry.
        let (a, b) = (super::member(7), super::member(7));
        assert_ne!(a, b);
        let random = a.strip_prefix("7-").expect("time first");
        assert!(random.len() == 32 && random.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert!(!random.contains(&format!("{}-", std::process::id())));
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(super::seconds(1), 1);
        assert_eq!(super::seconds(1000), 1);
        assert_eq!(super::seconds(1001), 2);
        assert_eq!(super::seconds(-5), 1);
    }
}
