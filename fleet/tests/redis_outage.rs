//! The fleet on a Redis of its own (never the machine's shared one), which
//! the test stops and starts again: reads keep answering from MariaDB,
//! writes still land and are visible, and the limits fail open.
mod support;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cases;
use fleet::local_redis::LocalRedis;
use serde_json::json;
use support::{Ctx, PASSWORD};

static REDIS: Mutex<Option<LocalRedis>> = Mutex::new(None);

fn with_redis(act: impl FnOnce(&mut LocalRedis)) {
    if let Some(redis) = REDIS.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        act(redis);
    }
}

fn stop_redis() {
    with_redis(LocalRedis::kill);
}

fn start_redis() {
    with_redis(|redis| redis.start().expect("Redis starts again"));
}

fn main() -> ExitCode {
    let redis = LocalRedis::ephemeral().expect("a Redis of the test's own");
    let url = redis.url();
    *REDIS.lock().unwrap_or_else(|p| p.into_inner()) = Some(redis);
    let code = support::run_suite("redisout", cases![Ctx; reads_and_writes_survive_a_redis_outage], move |config| {
        config.edit_infra(|infra| infra.redis_url = url.clone())
    });
    REDIS.lock().unwrap_or_else(|p| p.into_inner()).take();
    code
}

async fn reads_and_writes_survive_a_redis_outage(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, profile) = api.approved_vendor().await;
    let product = api.product(&vendor, json!({"price": "10.00"})).await;
    let list = format!("/products/?vendor={}", profile["id"]);
    let path = format!("/products/{}/", product["id"]);
    api.get(&list, None).await.expect(200);

    stop_redis();

    // Reads answer from MariaDB.
    assert_eq!(api.get(&list, None).await.expect(200)["results"][0]["price"], "10.00");
    assert_eq!(api.get(&path, None).await.expect(200)["price"], "10.00");
    api.get("/products/categories/", None).await.expect(200);
    // Limits fail open; accounts still work.
    let email = ctx.unique_email("outage");
    api.register(&email, "customer").await.expect(201);
    api.login(&email, PASSWORD).await.expect(200);
    // A write lands and is visible at once.
    api.patch(&path, Some(&vendor.access), json!({"price": "11.00"})).await.expect(200);
    assert_eq!(api.get(&list, None).await.expect(200)["results"][0]["price"], "11.00");

    // Redis comes back (empty, as after a restart): the caches refill and
    // the next write is again visible on the very next read.
    start_redis();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for price in ["12.00", "13.00"] {
        api.get(&list, None).await.expect(200);
        api.patch(&path, Some(&vendor.access), json!({"price": price})).await.expect(200);
        assert_eq!(api.get(&list, None).await.expect(200)["results"][0]["price"], price);
        assert_eq!(api.get(&path, None).await.expect(200)["price"], price);
    }
}
