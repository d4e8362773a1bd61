//! The gateway when a downstream service is down (503) or hangs (504):
//! a real gateway over real HTTP, pointed at a closed port or at a socket
//! that accepts connections and never answers.
use std::time::Duration;

use common::config::Infra;
use common::shutdown::CancellationToken;
use serde_json::{Value, json};

struct Running {
    base: String,
    stop: CancellationToken,
    infra: Infra,
}

impl Running {
    async fn start(identity_addr: String) -> Self {
        let mut infra = Infra::from_env().expect("infra");
        infra.schema_prefix = common::testkit::unique_prefix("gwdown");
        let mut config = gateway::Config::from_env(infra.clone()).expect("config");
        config.services.identity = identity_addr;
        config.downstream_timeout = Duration::from_millis(300);
        let gateway = gateway::Gateway::build(config).await.expect("gateway builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = CancellationToken::new();
        tokio::spawn(gateway.serve(listener, stop.clone()));
        Self { base, stop, infra }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response =
            reqwest::Client::new().post(format!("{}{path}", self.base)).json(&body).send().await.expect("sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = reqwest::Client::new().get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn stop(self) {
        self.stop.cancel();
        let mut redis = common::redis_conn::connect(&self.infra.redis_url).await.expect("redis");
        common::redis_conn::delete_prefixed(&mut redis, &self.infra.schema_prefix).await.expect("clean-up");
    }
}

fn registration() -> Value {
    json!({"email": "down@example.com", "password": "Tr1cky-Horse-92", "password_confirm": "Tr1cky-Horse-92"})
}

/// A port that was just free: nothing listens there.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    addr
}

#[tokio::test]
async fn a_service_that_is_down_answers_503() {
    let gateway = Running::start(closed_port().await).await;
    let (status, body) = gateway.post("/users/register/", registration()).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["detail"].is_string());
    let (status, body) = gateway.get("/readyz", None).await;
    assert_eq!(status, 503);
    assert_eq!(body["services"]["identity"], "NOT_SERVING");
    // Verifying a token needs identity's keys: unavailable, not a 500.
    let (status, _) = gateway.get("/users/profile/", Some("eyJhbGciOiJFZERTQSIsImtpZCI6IngifQ.e30.sig")).await;
    assert_eq!(status, 503);
    let (status, _) = gateway.get("/healthz", None).await;
    assert_eq!(status, 200, "liveness does not depend on downstream services");
    // The binary's `healthcheck` subcommand probes the same route.
    let addr = gateway.base.trim_start_matches("http://").to_owned();
    common::probe::http_ok(&addr, "/healthz").await.expect("probe");
    assert!(common::probe::http_ok(&addr, "/no-such-route").await.is_err());
    gateway.stop().await;
}

#[tokio::test]
async fn a_service_that_hangs_answers_504() {
    // Accepts TCP connections and never speaks HTTP/2.
    let addr = common::testkit::silent_listener().await.expect("listener");
    let gateway = Running::start(addr).await;
    let started = std::time::Instant::now();
    let (status, body) = gateway.post("/users/register/", registration()).await;
    assert_eq!(status, 504, "{body}");
    assert!(body["detail"].is_string());
    assert!(started.elapsed() < Duration::from_secs(5), "the deadline cut the call short");
    gateway.stop().await;
}
