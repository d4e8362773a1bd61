//! The gateway's in-process cache of rendered public product listings
//! (DESIGN §10): keyed by the request (host, path and query) and valid for
//! one catalog version and at most a second. A hit costs one small Redis
//! GET (the version) and no serialisation; any catalog write bumps the
//! version, so the next read on every replica misses. Stock moved by
//! checkouts does not bump it: entries expire after `MAX_AGE` so list
//! stock lags by at most that.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;

const MAX_AGE: Duration = Duration::from_secs(1);
const MAX_ENTRIES: usize = 4096;

struct Entry {
    version: u64,
    stored: Instant,
    body: Bytes,
}

#[derive(Default)]
pub struct ListCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl ListCache {
    pub fn get(&self, version: u64, key: &str) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(key)?;
        (entry.version == version && entry.stored.elapsed() < MAX_AGE).then(|| entry.body.clone())
    }

    pub fn put(&self, version: u64, key: String, body: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            // Cheaper than LRU bookkeeping on every hit; the hot pages are
            // back within a request each.
            entries.retain(|_, e| e.version == version && e.stored.elapsed() < MAX_AGE);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, Entry { version, stored: Instant::now(), body });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_belong_to_one_version() {
        let cache = ListCache::default();
        cache.put(3, "k".into(), Bytes::from_static(b"page"));
        assert_eq!(cache.get(3, "k").as_deref(), Some(&b"page"[..]));
        assert_eq!(cache.get(4, "k"), None);
        assert_eq!(cache.get(3, "other"), None);
    }
}
