//! The HTTP side of the bench: the loopback-only base URL check, the one
//! shared `reqwest::Client` (HTTP/1.1 keep-alive, no proxy, no redirects, so
//! traffic can only ever reach 127.0.0.0/8) and JSON calls to the API.
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::Value;

use crate::error::{BenchError, Result, chain};

/// Deadline of one seeding call (registration hashes a password: slow under load).
const SEED_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline of one scenario request; bounds how long a scenario outlives `--duration`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks that `raw` is an `http(s)` origin on 127.0.0.0/8 and returns it
/// normalised as `scheme://127.x.y.z:port`. `localhost` is taken as 127.0.0.1
/// (never resolved: it might be `::1` or anything the resolver says).
pub fn loopback_origin(raw: &str) -> Result<String> {
    let refuse = |why: &str| BenchError::new(format!("refusing base URL {raw:?}: {why}"));
    let url = Url::parse(raw).map_err(|e| refuse(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("the scheme must be http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("credentials in the URL are not supported"));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("give the origin only (no path, query or fragment); the API is served at the root"));
    }
    let host = url.host_str().ok_or_else(|| refuse("no host"))?;
    let ip = if host.eq_ignore_ascii_case("localhost") {
        Ipv4Addr::LOCALHOST
    } else {
        host.parse::<Ipv4Addr>().map_err(|_| refuse("the host must be an IPv4 address in 127.0.0.0/8"))?
    };
    if !ip.is_loopback() {
        return Err(refuse("the bench only sends traffic to 127.0.0.0/8"));
    }
    let port = url.port_or_known_default().ok_or_else(|| refuse("no port"))?;
    Ok(format!("{}://{ip}:{port}", url.scheme()))
}

/// An answer of the API during seeding: status and parsed JSON body
/// (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<String>,
}

/// The API at one loopback origin, over one shared connection pool.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    origin: Arc<str>,
}

impl Api {
    /// `base_url` is checked with [`loopback_origin`].
    pub fn new(base_url: &str, clients: usize) -> Result<Self> {
        let origin = loopback_origin(base_url)?;
        let http = reqwest::Client::builder()
            .http1_only()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_max_idle_per_host(clients.max(16))
            .pool_idle_timeout(Duration::from_secs(90))
            .connect_timeout(Duration::from_secs(5))
            .timeout(SEED_TIMEOUT)
            .build()?;
        Ok(Self { http, origin: origin.into() })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The absolute URL of `path_and_query` (which starts with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.origin)
    }

    /// A link the API handed out (`next`), re-rooted on our origin: only its
    /// path and query are kept, so a link can never lead off loopback.
    pub fn rebase(&self, link: &str) -> Result<String> {
        let url = Url::parse(link).map_err(|e| BenchError::new(format!("bad link {link:?}: {e}")))?;
        Ok(match url.query() {
            Some(query) => self.url(&format!("{}?{query}", url.path())),
            None => self.url(url.path()),
        })
    }

    /// GET `url` (from [`Api::url`] or [`Api::rebase`]) under the scenario
    /// deadline; the status and the whole body.
    pub async fn get(&self, url: &str) -> reqwest::Result<(u16, Vec<u8>)> {
        let response = self.http.get(url).timeout(REQUEST_TIMEOUT).send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        Ok((status, body.into()))
    }

    /// GET `url` as the holder of `token` under the scenario deadline; the
    /// status and the whole body.
    pub async fn get_as(&self, url: &str, token: &str) -> reqwest::Result<(u16, Vec<u8>)> {
        let response = self.http.get(url).bearer_auth(token).timeout(REQUEST_TIMEOUT).send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        Ok((status, body.into()))
    }

    /// A JSON request of a scenario (as the holder of `token`) under the
    /// scenario deadline; the status and the whole body.
    pub async fn send(&self, method: Method, url: &str, token: &str, body: &Value) -> reqwest::Result<(u16, Vec<u8>)> {
        let request = self.http.request(method, url).bearer_auth(token).json(body).timeout(REQUEST_TIMEOUT);
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        Ok((status, body.into()))
    }

    /// One JSON call of the seeding phase.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: &Value) -> Result<Reply> {
        self.call_with(method, path, token, "application/json", body.to_string().into_bytes()).await
    }

    /// One call of the seeding phase with a body of `content_type` (an
    /// import file).
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Reply> {
        let mut request = self
            .http
            .request(method.clone(), self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| BenchError::new(format!("{method} {path}: transport error: {}", chain(&e))))?;
        let status = response.status().as_u16();
        let retry_after =
            response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| BenchError::new(format!("{method} {path}: transport error: {}", chain(&e))))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Reply { status, body, retry_after })
    }
}

impl Reply {
    /// The body when the status is `wanted`, else an error naming the call.
    pub fn expect(self, wanted: u16, call: &str) -> Result<Value> {
        if self.status == wanted {
            return Ok(self.body);
        }
        let mut body = self.body.to_string();
        if body.len() > 300 {
            body.truncate(body.floor_char_boundary(300));
            body.push('…');
        }
        let retry = self.retry_after.map(|r| format!(" (Retry-After: {r} s)")).unwrap_or_default();
        Err(BenchError::new(format!("{call} answered {} (expected {wanted}){retry}: {body}", self.status)))
    }
}

/// The integer `id` of an object the API returned.
pub fn id_of(body: &Value, call: &str) -> Result<i64> {
    body.get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| BenchError::new(format!("{call}: no integer \"id\" in {body}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_accepted_and_normalised() {
        assert_eq!(loopback_origin("http://127.0.0.1:8000").ok().as_deref(), Some("http://127.0.0.1:8000"));
        assert_eq!(loopback_origin("http://127.3.2.1:9/").ok().as_deref(), Some("http://127.3.2.1:9"));
        assert_eq!(loopback_origin("http://LOCALHOST:8000/").ok().as_deref(), Some("http://127.0.0.1:8000"));
        assert_eq!(loopback_origin("http://127.0.0.1").ok().as_deref(), Some("http://127.0.0.1:80"));
    }

    #[test]
    fn other_hosts_are_refused() {
        for raw in [
            "http://10.0.0.1:8000",
            "http://example.com",
            "http://[::1]:8000",
            "http://128.0.0.1",
            "http://0.0.0.0:8000",
            "ftp://127.0.0.1",
            "http://user:pw@127.0.0.1",
            "http://127.0.0.1:8000/api",
            "127.0.0.1:8000",
        ] {
            assert!(loopback_origin(raw).is_err(), "{raw} should be refused");
        }
    }

    #[test]
    fn links_are_rebased_on_our_origin() -> Result<()> {
        let api = Api::new("http://127.0.0.1:8000", 1)?;
        assert_eq!(
            api.rebase("http://evil.example:1/products/?cursor=abc&page_size=20")?,
            "http://127.0.0.1:8000/products/?cursor=abc&page_size=20"
        );
        assert_eq!(api.rebase("http://127.0.0.1:8000/products/")?, "http://127.0.0.1:8000/products/");
        assert!(api.rebase("not a url").is_err());
        Ok(())
    }
}
