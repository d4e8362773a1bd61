//! The versioned cache against the real Redis: concurrent misses of one
//! key run the load once, and a dead Redis only costs the cache.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::ApiError;
use common::cache::Cache;
use common::config::Infra;

async fn cache_on(url: &str) -> Cache {
    Cache::new(common::redis_conn::connect(url).await.expect("redis"), "test")
}

#[tokio::test]
async fn a_stampede_of_identical_misses_loads_once() {
    let infra = Infra::from_env().expect("infra");
    let cache = cache_on(&infra.redis_url).await;
    let key = format!("{}stampede", common::testkit::unique_prefix("cache"));
    let loads = Arc::new(AtomicUsize::new(0));
    let requests = (0..24).map(|_| {
        let (cache, key, loads) = (cache.clone(), key.clone(), loads.clone());
        async move {
            cache
                .get_or_load(&key, Duration::from_secs(5), || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, ApiError>(b"page".to_vec())
                })
                .await
        }
    });
    let results = futures::future::join_all(requests).await;
    assert!(results.iter().all(|r| r.as_deref().ok() == Some(&b"page"[..])));
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    // Stored: the next read is a hit that does not load.
    let again = cache.get_or_load(&key, Duration::from_secs(5), || async { Err(ApiError::internal("no load")) }).await;
    assert_eq!(again.ok().as_deref(), Some(&b"page"[..]));
}

#[tokio::test]
async fn versions_count_bumps() {
    let infra = Infra::from_env().expect("infra");
    let cache = cache_on(&infra.redis_url).await;
    let key = format!("{}version", common::testkit::unique_prefix("cache"));
    assert_eq!(cache.version(&key).await, Some(0));
    cache.bump(&key).await;
    cache.bump(&key).await;
    assert_eq!(cache.version(&key).await, Some(2));
    let mut conn = common::redis_conn::connect(&infra.redis_url).await.expect("redis");
    redis::cmd("DEL").arg(&key).query_async::<()>(&mut conn).await.expect("clean-up");
}

#[tokio::test]
async fn without_redis_every_read_still_loads() {
    // A Redis that goes away after the connection is made.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut server = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server");
    let url = format!("redis://127.0.0.1:{port}");
    let mut cache = None;
    for _ in 0..100 {
        if let Ok(conn) = common::redis_conn::connect(&url).await {
            cache = Some(Cache::new(conn, "test"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cache = cache.expect("connected");
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(cache.version("v").await, None);
    cache.bump("v").await;
    for _ in 0..3 {
        let loaded = cache.get_or_load("k", Duration::from_secs(5), || async { Ok(b"fresh".to_vec()) }).await;
        assert_eq!(loaded.ok().as_deref(), Some(&b"fresh"[..]));
    }
}

#[tokio::test]
async fn product_snapshots_are_kept_until_the_catalog_version_moves() {
    use common::product_snapshots::ProductSnapshots;
    use proto::catalog::v1::Product;

    let infra = Infra::from_env().expect("infra");
    let cache = cache_on(&infra.redis_url).await;
    let prefix = common::testkit::unique_prefix("snapshots");
    let snapshots = ProductSnapshots::new(cache.clone(), &prefix);
    let asked = Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let read = |ids: &'static [i64], price: &'static str| {
        let asked = asked.clone();
        let snapshots = &snapshots;
        async move {
            let fetch = |ids: Vec<i64>| async move {
                asked.lock().expect("asked").extend(&ids);
                Ok(ids.into_iter().map(|id| Product { id, price: price.into(), ..Product::default() }).collect())
            };
            let mut products = snapshots.products(ids, fetch).await.expect("products");
            products.sort_by_key(|p| p.id);
            products.into_iter().map(|p| (p.id, p.price)).collect::<Vec<_>>()
        }
    };
    assert_eq!(read(&[1, 2], "1.00").await, [(1, "1.00".to_owned()), (2, "1.00".to_owned())]);
    // Same version: only the product not read before is fetched.
    assert_eq!(read(&[2, 3], "2.00").await, [(2, "1.00".to_owned()), (3, "2.00".to_owned())]);
    assert_eq!(*asked.lock().expect("asked"), [1, 2, 3]);
    // A catalog write bumps the version: everything is read again.
    cache.bump(&common::cache::catalog_version_key(&prefix)).await;
    assert_eq!(read(&[1], "3.00").await, [(1, "3.00".to_owned())]);
    assert_eq!(*asked.lock().expect("asked"), [1, 2, 3, 1]);
    let mut conn = common::redis_conn::connect(&infra.redis_url).await.expect("redis");
    common::redis_conn::delete_prefixed(&mut conn, &prefix).await.expect("clean-up");
}
