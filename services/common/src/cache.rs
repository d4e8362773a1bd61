//! A Redis cache that never makes a read fail: every operation has a short
//! timeout, and after a failure Redis is skipped for a moment (a small
//! circuit breaker) so a dead Redis costs nothing per request. Entries are
//! addressed through a version counter that writers bump, so the first read
//! after a successful write misses; identical concurrent misses are
//! coalesced so the query behind them runs once per process.
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

use crate::ApiError;

const OP_TIMEOUT: Duration = Duration::from_millis(250);
const SKIP_AFTER_FAILURE_MS: i64 = 1000;
/// A bump that failed (Redis away) is retried this often until it lands.
const BUMP_RETRY: Duration = Duration::from_millis(200);

/// The Redis key of the catalog's version counter: bumped by every write
/// that changes what a product listing shows (catalog writes, stock set by
/// vendors), read by every cache of listings.
pub fn catalog_version_key(prefix: &str) -> String {
    format!("{prefix}catalog:version")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One load shared by every concurrent miss of a key.
type SharedLoad = Arc<OnceCell<Result<Vec<u8>, ApiError>>>;

#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    redis: ConnectionManager,
    service: &'static str,
    skip_until_ms: AtomicI64,
    hits: AtomicU64,
    misses: AtomicU64,
    in_flight: Mutex<HashMap<String, SharedLoad>>,
    pending_bumps: Mutex<Vec<String>>,
}

impl Cache {
    pub fn new(redis: ConnectionManager, service: &'static str) -> Self {
        Self {
            inner: Arc::new(Inner {
                redis,
                service,
                skip_until_ms: AtomicI64::new(0),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                in_flight: Mutex::new(HashMap::new()),
                pending_bumps: Mutex::new(Vec::new()),
            }),
        }
    }

    fn available(&self) -> bool {
        now_ms() >= self.inner.skip_until_ms.load(Ordering::Relaxed)
    }

    fn failed(&self, what: &str, error: &dyn std::fmt::Display) {
        let first = self.inner.skip_until_ms.swap(now_ms() + SKIP_AFTER_FAILURE_MS, Ordering::Relaxed) < now_ms();
        if first {
            tracing::warn!(service = self.inner.service, %error, "redis {what} failed; serving without the cache");
        }
        metrics::counter!("cache_errors_total", "service" => self.inner.service).increment(1);
    }

    /// Runs `op` unless the breaker says Redis is away.
    async fn run<T>(&self, what: &str, op: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
        if !self.available() {
            return None;
        }
        self.attempt(what, op).await
    }

    /// Runs `op` under the timeout; a failure opens the breaker.
    async fn attempt<T>(&self, what: &str, op: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
        match tokio::time::timeout(OP_TIMEOUT, op).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                self.failed(what, &e);
                None
            }
            Err(_) => {
                self.failed(what, &"timed out");
                None
            }
        }
    }

    /// The current value of a version counter (0 before the first bump),
    /// or `None` when Redis cannot say.
    pub async fn version(&self, key: &str) -> Option<u64> {
        let mut conn = self.inner.redis.clone();
        self.run("version read", async move { conn.get::<_, Option<u64>>(key).await }).await.map(|v| v.unwrap_or(0))
    }

    /// Bumps a version counter. When Redis is away the bump is kept and
    /// retried in the background until it lands, so a write is never
    /// forgotten by the caches.
    ///
    /// Unlike reads, a bump does not skip Redis while the breaker is open,
    /// and tries twice (the first command after a Redis restart fails on
    /// the old connection and makes the manager reconnect): a deferred bump
    /// leaves every other process reading the old version, i.e. an old
    /// page, while Redis answers them.
    pub async fn bump(&self, key: &str) {
        for _ in 0..2 {
            let mut conn = self.inner.redis.clone();
            if self.attempt("version bump", conn.incr::<_, _, u64>(key, 1)).await.is_some() {
                self.inner.skip_until_ms.store(0, Ordering::Relaxed);
                return;
            }
        }
        let start_retrier = {
            let mut pending = self.inner.pending_bumps.lock().unwrap_or_else(|p| p.into_inner());
            let idle = pending.is_empty();
            if !pending.iter().any(|k| k == key) {
                pending.push(key.to_owned());
            }
            idle
        };
        if start_retrier {
            let cache = self.clone();
            tokio::spawn(async move { cache.retry_bumps().await });
        }
    }

    async fn retry_bumps(&self) {
        loop {
            tokio::time::sleep(BUMP_RETRY).await;
            let keys = self.inner.pending_bumps.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let mut landed = Vec::new();
            for key in keys {
                let mut conn = self.inner.redis.clone();
                let done = tokio::time::timeout(OP_TIMEOUT, conn.incr::<_, _, u64>(key.clone(), 1)).await;
                if matches!(done, Ok(Ok(_))) {
                    landed.push(key);
                }
            }
            let mut pending = self.inner.pending_bumps.lock().unwrap_or_else(|p| p.into_inner());
            pending.retain(|k| !landed.contains(k));
            if pending.is_empty() {
                tracing::info!(service = self.inner.service, "pending cache version bumps landed");
                return;
            }
        }
    }

    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut conn = self.inner.redis.clone();
        self.run("get", async move { conn.get::<_, Option<Vec<u8>>>(key).await }).await.flatten()
    }

    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        let mut conn = self.inner.redis.clone();
        let seconds = ttl.as_secs().max(1);
        self.run("set", async move { conn.set_ex::<_, _, ()>(key, value, seconds).await }).await;
    }

    /// Counts a lookup and publishes the hit ratio so far.
    fn count(&self, hit: bool) {
        let service = self.inner.service;
        let (hits, misses) = if hit {
            metrics::counter!("cache_hits_total", "service" => service).increment(1);
            (self.inner.hits.fetch_add(1, Ordering::Relaxed) + 1, self.inner.misses.load(Ordering::Relaxed))
        } else {
            metrics::counter!("cache_misses_total", "service" => service).increment(1);
            (self.inner.hits.load(Ordering::Relaxed), self.inner.misses.fetch_add(1, Ordering::Relaxed) + 1)
        };
        metrics::gauge!("cache_hit_ratio", "service" => service).set(hits as f64 / (hits + misses) as f64);
    }

    /// The cached bytes under `key`, or `load`'s, stored for `ttl`.
    /// Concurrent misses of one key in this process share one `load`.
    pub async fn get_or_load<F, Fut>(&self, key: &str, ttl: Duration, load: F) -> Result<Vec<u8>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, ApiError>>,
    {
        if let Some(hit) = self.get(key).await {
            self.count(true);
            return Ok(hit);
        }
        self.count(false);
        let cell = {
            let mut in_flight = self.inner.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            in_flight.entry(key.to_owned()).or_default().clone()
        };
        let mut loaded_here = false;
        let result = cell
            .get_or_init(|| {
                loaded_here = true;
                metrics::counter!("cache_loads_total", "service" => self.inner.service).increment(1);
                async {
                    let loaded = load().await;
                    if let Ok(bytes) = &loaded {
                        self.set(key, bytes, ttl).await;
                    }
                    loaded
                }
            })
            .await
            .clone();
        if loaded_here {
            self.inner.in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
        }
        result
    }
}
