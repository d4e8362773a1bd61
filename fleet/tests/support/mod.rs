//! What the end-to-end suites share: one fleet per test binary on the real
//! MariaDB and Redis (uniquely prefixed schemas, dropped at the end), and a
//! small REST client that reads like the contract.
#![allow(dead_code)]

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use common::testkit::{self, Case};
use fleet::{Fleet, FleetConfig};
use identity::tokens::KeyPair;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "Tr1cky-Horse-92";

/// The shared fixture of one test binary.
pub struct Ctx {
    pub base: String,
    pub http: reqwest::Client,
    pub prefix: String,
    pub admin_email: String,
    /// The key the fleet signs with (so tests can forge expired tokens).
    pub signing_key: KeyPair,
    /// The services' own gRPC addresses, for tests that go around the gateway.
    pub cart_addr: std::net::SocketAddr,
    pub order_addr: std::net::SocketAddr,
    /// Where identity's gRPC metrics are: the gateway's `/metrics` in the
    /// one-process fleet, identity's own endpoint in the cluster.
    pub identity_metrics: String,
    next_ip: AtomicU32,
}

/// What a suite stops and cleans up afterwards.
pub struct Running {
    shape: Shape,
    infra: common::config::Infra,
    /// Flushes the suite's spans when dropped, after the clean-up.
    _telemetry: Option<common::telemetry::Telemetry>,
}

enum Shape {
    Fleet(Fleet),
    /// With the directory of its processes' logs, kept when a case failed.
    Cluster(fleet::cluster::Cluster, std::path::PathBuf),
}

/// Starts a fleet (or, with `E2E_SHAPE=cluster`, the separate-process
/// cluster) when the first selected case runs, runs `cases` through the
/// common harness (libtest's command line: `--exact`, `--list`, nextest),
/// then stops it and drops its schemas; the exit code says whether
/// everything passed.
pub fn run_suite(
    tag: &str,
    cases: Vec<Case<Ctx>>,
    configure: impl FnOnce(&mut FleetConfig) + Send + 'static,
) -> ExitCode {
    let tag = tag.to_owned();
    let start = move || async move {
        let telemetry = common::telemetry::init_with_filter(&tag, "warn,sqlx=error").ok();
        let mut config = FleetConfig::for_tests(&tag).map_err(|e| format!("test config: {e}"))?;
        let prefix = config.infra.schema_prefix.clone();
        let admin_email = format!("admin-{}@example.com", prefix.trim_end_matches('_').replace('_', "-"));
        let signing_key = KeyPair::generate().map_err(|e| format!("signing key: {e}"))?;
        config.identity.admin = identity::Admin::new(&admin_email, PASSWORD);
        config.identity.private_key_pem = Some(signing_key.private_pem.clone());
        // Every test client claims its own address through a trusted proxy,
        // so per-IP limits of one test never touch another.
        config.gateway.trusted_proxies = "127.0.0.0/8".parse().map_err(|e| format!("cidr: {e}"))?;
        configure(&mut config);
        let infra = config.infra.clone();
        if std::env::var("E2E_SHAPE").as_deref() == Ok("cluster") {
            let (ctx, shape) = on_cluster(config, admin_email, signing_key).await?;
            return Ok((ctx, Running { shape, infra, _telemetry: telemetry }));
        }
        let fleet = match Fleet::start(config).await {
            Ok(fleet) => fleet,
            Err(e) => {
                let _ = fleet::drop_schemas(&infra).await;
                return Err(format!("the fleet did not start: {e}"));
            }
        };
        let ctx = Ctx {
            base: fleet.base_url(),
            http: reqwest::Client::new(),
            prefix,
            admin_email,
            signing_key,
            cart_addr: fleet.cart_addr,
            order_addr: fleet.order_addr,
            identity_metrics: format!("{}/metrics", fleet.base_url()),
            next_ip: AtomicU32::new(1),
        };
        Ok((ctx, Running { shape: Shape::Fleet(fleet), infra, _telemetry: telemetry }))
    };
    testkit::suite(cases, testkit::Pace::parallel(8), start, finish)
}

async fn finish(running: Option<Running>, passed: bool) {
    let Some(Running { shape, infra, _telemetry }) = running else { return };
    let log_dir = match shape {
        Shape::Fleet(mut fleet) => {
            fleet.stop().await;
            None
        }
        Shape::Cluster(mut cluster, log_dir) => {
            cluster.stop().await;
            Some(log_dir)
        }
    };
    if let Err(e) = fleet::drop_schemas(&infra).await {
        eprintln!("clean-up failed: {e}");
    }
    match log_dir {
        Some(dir) if passed => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Some(dir) => eprintln!("process logs kept in {}", dir.display()),
        None => {}
    }
}

/// The same suite against the marketplace as separate processes with
/// replicas (`E2E_SHAPE=cluster`, `make test` runs the contract suites
/// this way too): the fleet settings a suite changed become the processes'
/// environment.
async fn on_cluster(config: FleetConfig, admin_email: String, signing_key: KeyPair) -> Result<(Ctx, Shape), String> {
    let infra = config.infra.clone();
    let mut cluster_config =
        fleet::cluster::ClusterConfig::for_tests(infra.clone()).map_err(|e| format!("cluster config: {e}"))?;
    let trusted = if config.gateway.trusted_proxies.is_empty() { "" } else { "127.0.0.0/8" };
    for (name, value) in [
        ("ADMIN_EMAIL", admin_email.clone()),
        ("ADMIN_PASSWORD", PASSWORD.to_owned()),
        ("JWT_PRIVATE_KEY_PEM", signing_key.private_pem.clone()),
        ("TRUSTED_PROXIES", trusted.to_owned()),
        ("REGISTER_RATE_LIMIT", config.gateway.register_rate_limit.to_string()),
        ("LOGIN_FAILURE_LIMIT", config.gateway.login_failure_limit.to_string()),
        ("WEBHOOK_SECRET", config.payment.webhook_secrets.join(",")),
        ("RESERVATION_TTL", config.order.reservation_ttl.as_secs().to_string()),
        ("REAPER_INTERVAL_MS", config.order.reaper_interval.as_millis().to_string()),
        ("RUST_LOG", "warn,sqlx=error".to_owned()),
    ] {
        cluster_config.env.insert(name.to_owned(), value);
    }
    let log_dir = cluster_config.log_dir.clone();
    let cluster = match fleet::cluster::Cluster::start(cluster_config).await {
        Ok(cluster) => cluster,
        Err(e) => {
            let _ = fleet::drop_schemas(&infra).await;
            return Err(format!("the cluster did not start: {e}"));
        }
    };
    let first = |name: &str| cluster.process(name).and_then(|p| p.addr.parse().ok());
    let (Some(cart_addr), Some(order_addr)) = (first("cart-1"), first("order-1")) else {
        return Err("the cluster has no cart-1 or order-1".to_owned());
    };
    let identity_metrics = match cluster.process("identity") {
        Some(identity) => format!("http://{}/metrics", identity.metrics_addr),
        None => return Err("the cluster has no identity".to_owned()),
    };
    let ctx = Ctx {
        base: cluster.gateway_url.clone(),
        http: reqwest::Client::new(),
        prefix: infra.schema_prefix.clone(),
        admin_email,
        signing_key,
        cart_addr,
        order_addr,
        identity_metrics,
        next_ip: AtomicU32::new(1),
    };
    Ok((ctx, Shape::Cluster(cluster, log_dir)))
}

/// A REST response: status, headers and the JSON body (Null when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self.body
    }
}

/// A client with its own source address (sent as X-Forwarded-For), and
/// the trace context it sends, if any.
#[derive(Clone)]
pub struct Api {
    ctx: Arc<Ctx>,
    pub ip: String,
    traceparent: Option<String>,
}

impl Ctx {
    pub fn api(self: &Arc<Self>) -> Api {
        let n = self.next_ip.fetch_add(1, Ordering::Relaxed);
        Api { ctx: self.clone(), ip: format!("198.18.{}.{}", n / 250, n % 250 + 1), traceparent: None }
    }

    pub fn unique_email(&self, tag: &str) -> String {
        format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
    }
}

impl Api {
    pub fn ctx(&self) -> &Arc<Ctx> {
        &self.ctx
    }

    /// The same client sending a W3C `traceparent` with every request, as
    /// a client working inside a span of its own does.
    pub fn traced(&self, traceparent: &str) -> Api {
        Api { traceparent: Some(traceparent.to_owned()), ..self.clone() }
    }

    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut request =
            self.ctx.http.request(method, format!("{}{path}", self.ctx.base)).header("x-forwarded-for", &self.ip);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(traceparent) = &self.traceparent {
            request = request.header("traceparent", traceparent);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        Self::reply(response).await
    }

    /// A POST whose body is `body` as `content_type` (files, not JSON).
    pub async fn post_raw(&self, path: &str, token: Option<&str>, content_type: &str, body: Vec<u8>) -> Reply {
        let mut request = self
            .ctx
            .http
            .post(format!("{}{path}", self.ctx.base))
            .header("x-forwarded-for", &self.ip)
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::reply(request.send().await.expect("request sent")).await
    }

    pub async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body read");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::DELETE, path, token, None).await
    }

    pub async fn register(&self, email: &str, role: &str) -> Reply {
        self.post(
            "/users/register/",
            None,
            json!({"email": email, "password": PASSWORD, "password_confirm": PASSWORD, "role": role}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post("/users/login/", None, json!({"email": email, "password": password})).await
    }

    /// A new user of `role`, logged in.
    pub async fn user(&self, role: &str) -> User {
        let email = self.ctx.unique_email(role);
        let body = self.register(&email, role).await.expect(201);
        let tokens = self.login(&email, PASSWORD).await.expect(200);
        User {
            id: body["id"].as_i64().expect("id"),
            email,
            access: tokens["access"].as_str().expect("access").to_owned(),
            refresh: tokens["refresh"].as_str().expect("refresh").to_owned(),
        }
    }

    pub async fn admin(&self) -> User {
        let tokens = self.login(&self.ctx.admin_email, PASSWORD).await.expect(200);
        User {
            id: 0,
            email: self.ctx.admin_email.clone(),
            access: tokens["access"].as_str().expect("access").to_owned(),
            refresh: tokens["refresh"].as_str().expect("refresh").to_owned(),
        }
    }

    /// A vendor with a profile (pending), and the profile.
    pub async fn vendor_with_profile(&self) -> (User, Value) {
        let vendor = self.user("vendor").await;
        let name = format!("Shop {}", uuid::Uuid::new_v4().simple());
        let profile = self.post("/vendors/create/", Some(&vendor.access), json!({"shop_name": name})).await.expect(201);
        (vendor, profile)
    }

    /// A vendor whose profile an admin approved.
    pub async fn approved_vendor(&self) -> (User, Value) {
        let (vendor, profile) = self.vendor_with_profile().await;
        let admin = self.admin().await;
        let id = profile["id"].as_i64().expect("id");
        let profile = self.patch(&format!("/vendors/{id}/verify/"), Some(&admin.access), json!({})).await.expect(200);
        (vendor, profile)
    }
}

impl Api {
    /// A product by `vendor`, with `extra` fields over a valid default.
    pub async fn product(&self, vendor: &User, extra: Value) -> Value {
        let mut body = json!({"name": format!("Item {}", uuid::Uuid::new_v4().simple()), "price": "10.00", "stock": 5});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                body.insert(k.clone(), v.clone());
            }
        }
        self.post("/products/", Some(&vendor.access), body).await.expect(201)
    }

    pub async fn category(&self, admin: &User, name: &str, parent: Option<i64>) -> Value {
        self.post("/products/categories/", Some(&admin.access), json!({"name": name, "parent": parent}))
            .await
            .expect(201)
    }

    /// Every product of a cursor walk from `path`, following `next`.
    pub async fn walk(&self, path: &str, token: Option<&str>) -> Vec<Value> {
        let mut all = Vec::new();
        let mut reply = self.get(path, token).await.expect(200);
        for _ in 0..1000 {
            all.extend(reply["results"].as_array().expect("results").iter().cloned());
            let Some(next) = reply["next"].as_str() else {
                return all;
            };
            let path = next.strip_prefix(&self.ctx.base).expect("same origin").to_owned();
            reply = self.get(&path, token).await.expect(200);
        }
        panic!("the walk never ended");
    }
}

pub struct User {
    pub id: i64,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

/// Runs `n` copies of a future concurrently and collects their results.
pub async fn race<T, F, Fut>(n: usize, make: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T>,
{
    futures::future::join_all((0..n).map(make)).await
}

/// The decoded (unverified) JSON of a JWT's header and payload.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part = || common::base64url::decode(parts.next().expect("part")).expect("base64url");
    let header = part();
    let payload = part();
    (serde_json::from_slice(&header).expect("header json"), serde_json::from_slice(&payload).expect("payload json"))
}
