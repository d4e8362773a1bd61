//! The contract's `Idempotency-Key`, built once for every route that
//! honours it (checkout, refunds, payment initiation).
//!
//! Per (user, key) Redis holds what the first request was (method, path
//! and body, as a fingerprint) and, once it completed below 500, its
//! status and body for 24 h. A repeat with the same request replays the
//! stored answer (`Idempotent-Replayed: true`); another request under the
//! same key is a 422; a repeat while the first still runs is a 409. The
//! key also travels to the service (e.g. `PlaceOrder`), which dedupes in
//! its own database, so even a gateway that dies between the commit and
//! storing the answer cannot make a second order.
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use common::ApiError;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::{HttpResult, json_response};

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_CHARS: usize = 255;
/// The first request holds its key with a lease that the gateway running
/// it renews every second: a gateway killed mid-request frees the key
/// within seconds, so the client's retry (same key) gets its answer, and
/// the service's own key check still prevents a second order.
const LEASE_MS: u64 = 5_000;
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
const KEEP_SECS: u64 = 24 * 3600;

#[derive(Serialize, Deserialize)]
struct Entry {
    fingerprint: String,
    /// `None` while the first request runs.
    status: Option<u16>,
    body: Option<Value>,
}

/// The header as the document shows it (`params(KeyHeader)`).
#[allow(dead_code)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct KeyHeader {
    /// The first completed answer (status and body) for this key is kept
    /// 24 h per user and replayed with `Idempotent-Replayed: true`; the same
    /// key with another request is a 422, while the first still runs a 409.
    #[param(rename = "Idempotency-Key", required = false, min_length = 1, max_length = 255)]
    key: String,
}

/// The key a request carries, if any (400 when it is empty or too long).
pub fn key_of(headers: &HeaderMap) -> HttpResult<Option<String>> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
        return Err(
            ApiError::bad_request("Idempotency-Key must be 1 to 255 characters.", "idempotency_key_invalid").into()
        );
    }
    Ok(Some(key.to_owned()))
}

/// Same request = same method, path and parsed JSON body (key order and
/// whitespace aside: the map serialises sorted).
fn fingerprint(method: &str, path: &str, body: &Value) -> String {
    hex::encode(Sha256::digest(format!("{method} {path} {body}").as_bytes()))
}

fn reply(status: StatusCode, body: &Value, replayed: bool) -> Response {
    let mut response = json_response(status, body);
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Runs `first` once per (user, key); see the module doc. Without a key it
/// simply runs.
pub async fn once<F, Fut>(
    state: &AppState,
    user_id: i64,
    key: Option<String>,
    method: &str,
    path: &str,
    body: &Value,
    first: F,
) -> Response
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = HttpResult<(StatusCode, Value)>>,
{
    let answer = |result: HttpResult<(StatusCode, Value)>| match result {
        Ok((status, body)) => (status, body),
        Err(error) => error.parts(),
    };
    let Some(key) = key else {
        let (status, body) = answer(first().await);
        return reply(status, &body, false);
    };
    let redis_key =
        format!("{}idem:{user_id}:{}", state.config.infra.schema_prefix, hex::encode(Sha256::digest(key.as_bytes())));
    let print = fingerprint(method, path, body);
    let mut redis = state.redis.clone();
    let claim =
        serde_json::to_string(&Entry { fingerprint: print.clone(), status: None, body: None }).unwrap_or_default();
    let claimed: redis::RedisResult<Option<String>> =
        redis::cmd("SET").arg(&redis_key).arg(&claim).arg("NX").arg("PX").arg(LEASE_MS).query_async(&mut redis).await;
    match claimed {
        Ok(Some(_)) => {}
        Ok(None) => return earlier(&mut redis, &redis_key, &print).await,
        Err(error) => {
            // Without Redis the service's own key check still holds.
            tracing::warn!(%error, "idempotency store unavailable; relying on the service's key");
            let (status, body) = answer(first().await);
            return reply(status, &body, false);
        }
    }
    let lease = Lease::hold(redis.clone(), redis_key.clone());
    let (status, response_body) = answer(first().await);
    drop(lease);
    let stored = if status.is_server_error() {
        redis.del::<_, ()>(&redis_key).await
    } else {
        let entry = Entry { fingerprint: print, status: Some(status.as_u16()), body: Some(response_body.clone()) };
        redis.set_ex::<_, _, ()>(&redis_key, serde_json::to_string(&entry).unwrap_or_default(), KEEP_SECS).await
    };
    if let Err(error) = stored {
        tracing::warn!(%error, "could not store an idempotent response");
    }
    reply(status, &response_body, false)
}

/// The answer for a key used before: replay, 422 or 409.
async fn earlier(redis: &mut redis::aio::ConnectionManager, redis_key: &str, print: &str) -> Response {
    let stored: Option<String> = redis.get(redis_key).await.unwrap_or(None);
    let entry = stored.and_then(|s| serde_json::from_str::<Entry>(&s).ok());
    let error =
        |status: StatusCode, detail: &str, code: &str| reply(status, &json!({ "detail": detail, "code": code }), false);
    match entry {
        Some(entry) if entry.fingerprint != print => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "This Idempotency-Key was used with a different request.",
            "idempotency_key_reused",
        ),
        Some(Entry { status: Some(status), body: Some(body), .. }) => {
            reply(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), &body, true)
        }
        // Still running (or it just finished between our two reads).
        _ => error(
            StatusCode::CONFLICT,
            "A request with this Idempotency-Key is still being processed.",
            "idempotency_key_in_flight",
        ),
    }
}

/// Renews the in-flight claim while the first request runs; dropping it
/// (the request finished, or its future was dropped) stops the renewals.
struct Lease(tokio::task::JoinHandle<()>);

impl Lease {
    fn hold(mut redis: redis::aio::ConnectionManager, key: String) -> Self {
        Self(tokio::spawn(async move {
            let mut every = tokio::time::interval(RENEW_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                if let Err(error) = redis.pexpire::<_, ()>(&key, LEASE_MS as i64).await {
                    tracing::warn!(%error, "could not renew an idempotency lease");
                }
            }
        }))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.abort();
    }
}
