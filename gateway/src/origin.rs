//! The origin (`scheme://host[:port][/prefix]`) that absolute links in
//! responses (`next`, `previous`) start with. Never the raw `Host` header,
//! which any client can set to anything:
//! 1. `PUBLIC_URL` when configured (required in production);
//! 2. else, for a request from a trusted proxy, the host it forwards
//!    (`X-Forwarded-Host`, else `Host`) and `X-Forwarded-Proto`;
//! 3. else the address the client connected to, spelled as its `Host`
//!    header spells it only when that names the same port on `localhost` or
//!    on that very address (as Django's `ALLOWED_HOSTS` would).
use std::net::{IpAddr, SocketAddr};

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, header};
use axum::serve::{IncomingStream, Listener};
use tokio::net::{TcpListener, TcpStream};

use crate::AppState;
use crate::client_ip::Cidr;
use crate::error::HttpError;

/// Both ends of a client's connection.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    pub peer: SocketAddr,
    /// The gateway's own address on this connection (`None` if the socket
    /// could not say).
    pub local: Option<SocketAddr>,
}

/// The gateway's listener: TCP with `TCP_NODELAY` on every connection
/// (small JSON answers must not wait for Nagle), telling each handler both
/// ends of its connection.
pub struct GatewayListener(pub TcpListener);

impl Listener for GatewayListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        let (io, addr) = Listener::accept(&mut self.0).await;
        if let Err(error) = io.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        (io, addr)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, GatewayListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, GatewayListener>) -> Self {
        Connection { peer: *stream.remote_addr(), local: stream.io().local_addr().ok() }
    }
}

/// Where links in a response point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(pub String);

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Resolves the origin of a request (see the module doc for the order).
    pub fn resolve(public_url: Option<&str>, trusted: &[Cidr], connection: &Connection, headers: &HeaderMap) -> Self {
        if let Some(url) = public_url {
            return Origin(url.trim_end_matches('/').to_owned());
        }
        let value =
            |name| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.split(',').next().unwrap_or(v).trim());
        if trusted.iter().any(|cidr| cidr.contains(connection.peer.ip()))
            && let Some(host) = value(header::HeaderName::from_static("x-forwarded-host"))
                .or_else(|| value(header::HOST))
                .and_then(valid_authority)
        {
            let scheme = match value(header::HeaderName::from_static("x-forwarded-proto")) {
                Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
                _ => "http",
            };
            return Origin(format!("{scheme}://{host}"));
        }
        let Some(local) = connection.local else {
            return Origin("http://localhost".to_owned());
        };
        let named = value(header::HOST).and_then(valid_authority).filter(|host| names(host, local));
        Origin(format!("http://{}", named.unwrap_or_else(|| local.to_string())))
    }
}

/// A usable `PUBLIC_URL`: `http(s)://host[:port][/prefix]`, nothing after.
pub fn check_public_url(url: &str) -> Result<(), &'static str> {
    let uri: axum::http::Uri = url.parse().map_err(|_| "is not a URL")?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let authority_ok = uri.authority().is_some_and(|a| !a.as_str().contains('@'));
    if !scheme_ok || !authority_ok || uri.query().is_some() || url.contains('#') {
        return Err("must be http(s)://host[:port][/prefix]");
    }
    Ok(())
}

/// `host[:port]` with nothing else (no user info, path or odd bytes).
fn valid_authority(host: &str) -> Option<String> {
    let authority: Authority = host.parse().ok()?;
    (authority.as_str() == host && !host.contains('@') && !host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// True when `host` (a valid authority) names the gateway at `local`.
fn names(host: &str, local: SocketAddr) -> bool {
    let Ok(authority) = host.parse::<Authority>() else { return false };
    let port = authority.port_u16().unwrap_or(80);
    let name = authority.host().trim_start_matches('[').trim_end_matches(']');
    let same_host = name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip == local.ip());
    same_host && port == local.port()
}

impl FromRequestParts<AppState> for Origin {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let connection = parts
            .extensions
            .get::<ConnectInfo<Connection>>()
            .map(|info| info.0)
            .unwrap_or(Connection { peer: SocketAddr::from(([127, 0, 0, 1], 0)), local: None });
        Ok(Origin::resolve(
            state.config.public_url.as_deref(),
            &state.config.trusted_proxies,
            &connection,
            &parts.headers,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_ip::Cidrs;

    fn connection(peer: &str, local: &str) -> Connection {
        Connection { peer: peer.parse().expect("peer"), local: Some(local.parse().expect("local")) }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().expect("header"));
        }
        headers
    }

    #[test]
    fn public_urls_are_checked() {
        assert!(check_public_url("https://shop.example.com").is_ok());
        assert!(check_public_url("http://10.0.0.1:8000/api").is_ok());
        for bad in ["shop.example.com", "ftp://x", "https://u:p@x", "https://x/?a=1", "https://x/#f", ""] {
            assert!(check_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn public_url_wins() {
        let origin = Origin::resolve(
            Some("https://shop.example.com/"),
            &[],
            &connection("10.0.0.9:5000", "10.0.0.1:8000"),
            &headers(&[("host", "evil.example")]),
        );
        assert_eq!(origin.as_str(), "https://shop.example.com");
    }

    #[test]
    fn a_direct_client_cannot_choose_the_host() {
        let direct = connection("203.0.113.7:5000", "127.0.0.1:8000");
        for forged in ["evil.example", "evil.example:8000", "127.0.0.1:9999", "localhost:8000/x", "a@127.0.0.1:8000"] {
            let origin = Origin::resolve(None, &[], &direct, &headers(&[("host", forged)]));
            assert_eq!(origin.as_str(), "http://127.0.0.1:8000", "{forged}");
        }
        for honest in ["localhost:8000", "127.0.0.1:8000"] {
            let origin = Origin::resolve(None, &[], &direct, &headers(&[("host", honest)]));
            assert_eq!(origin.as_str(), format!("http://{honest}"));
        }
        let forwarded = headers(&[("host", "localhost:8000"), ("x-forwarded-host", "evil.example")]);
        assert_eq!(Origin::resolve(None, &[], &direct, &forwarded).as_str(), "http://localhost:8000");
    }

    #[test]
    fn a_trusted_proxy_forwards_its_host_and_scheme() {
        let proxies: Cidrs = "10.0.0.0/8".parse().expect("cidr");
        let via_proxy = connection("10.0.0.5:5000", "10.0.0.1:8000");
        let forwarded = headers(&[
            ("host", "gateway:8000"),
            ("x-forwarded-host", "shop.example.com"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(Origin::resolve(None, &proxies, &via_proxy, &forwarded).as_str(), "https://shop.example.com");
        let plain = headers(&[("host", "shop.example.com:8443")]);
        assert_eq!(Origin::resolve(None, &proxies, &via_proxy, &plain).as_str(), "http://shop.example.com:8443");
        let garbage = headers(&[("host", "shop.example.com/../x")]);
        assert_eq!(Origin::resolve(None, &proxies, &via_proxy, &garbage).as_str(), "http://10.0.0.1:8000");
    }
}
