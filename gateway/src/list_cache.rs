//! The gateway's in-process caches of public listings (DESIGN §10): rendered
//! listing and facet bodies keyed by the request (host, path and query), and
//! the stock of listed products keyed by product. An entry is valid for one
//! catalog version and at most a second. A hit costs one small Redis GET
//! (the version, read once per request) and no serialisation; any catalog
//! write — a vendor's stock write included — bumps the version, so the next
//! read on every replica misses. Stock moved by checkouts does not bump it:
//! entries expire after `MAX_AGE`, so list stock lags by at most that.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;

const MAX_AGE: Duration = Duration::from_secs(1);

struct Entry<V> {
    version: u64,
    stored: Instant,
    value: V,
}

pub struct VersionedCache<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    max_entries: usize,
}

/// Rendered listing and facet bodies by request.
pub type ListCache = VersionedCache<String, Bytes>;
/// Units in stock by product, as listings show them.
pub type StockCache = VersionedCache<i64, i64>;

impl<K: Eq + Hash, V: Clone> VersionedCache<K, V> {
    pub fn new(max_entries: usize) -> Self {
        Self { entries: Mutex::new(HashMap::new()), max_entries }
    }

    pub fn get(&self, version: u64, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(key)?;
        (entry.version == version && entry.stored.elapsed() < MAX_AGE).then(|| entry.value.clone())
    }

    pub fn put(&self, version: u64, key: K, value: V) {
        self.put_all(version, [(key, value)]);
    }

    pub fn put_all(&self, version: u64, values: impl IntoIterator<Item = (K, V)>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let stored = Instant::now();
        for (key, value) in values {
            if entries.len() >= self.max_entries {
                // Cheaper than LRU bookkeeping on every hit; the hot entries
                // are back within a request each.
                entries.retain(|_, e| e.version == version && e.stored.elapsed() < MAX_AGE);
                if entries.len() >= self.max_entries {
                    entries.clear();
                }
            }
            entries.insert(key, Entry { version, stored, value });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_belong_to_one_version() {
        let cache = ListCache::new(8);
        cache.put(3, "k".into(), Bytes::from_static(b"page"));
        assert_eq!(cache.get(3, &"k".to_owned()).as_deref(), Some(&b"page"[..]));
        assert_eq!(cache.get(4, &"k".to_owned()), None);
        assert_eq!(cache.get(3, &"other".to_owned()), None);
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = StockCache::new(2);
        cache.put_all(1, [(1, 10), (2, 20), (3, 30)]);
        assert_eq!(cache.get(1, &3), Some(30));
        assert!(cache.entries.lock().map(|e| e.len()).unwrap_or(0) <= 2);
    }
}
