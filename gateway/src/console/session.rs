//! The console's session, in two HttpOnly, SameSite=Strict cookies (also
//! Secure when `PUBLIC_URL` is https): `mp_session` holds the access and
//! refresh tokens of one login, `mp_csrf` a random token that every form
//! carries back. That is the double-submit pattern: another site cannot
//! read the cookie to put it in a form (and with SameSite=Strict the
//! browser does not even send it along). The middleware turns the cookie
//! into a `Session` for the handlers and refreshes the tokens once the
//! access token no longer verifies; the extractors say who may see a page.
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use common::auth::{Principal, Role};
use common::status::VendorStatus;
use proto::identity::v1 as pb;

use super::page;
use crate::AppState;

pub const SESSION_COOKIE: &str = "mp_session";
pub const CSRF_COOKIE: &str = "mp_csrf";
/// Longest a cookie value is read (two tokens fit in far less).
const MAX_COOKIE_LEN: usize = 4096;

/// The tokens of one login.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Tokens {
    fn cookie_value(&self) -> String {
        format!("{}|{}", self.access, self.refresh)
    }

    fn parse(value: &str) -> Option<Self> {
        let (access, refresh) = value.split_once('|')?;
        let token_chars = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic() && b != b'|' && b != b';');
        (token_chars(access) && token_chars(refresh))
            .then(|| Self { access: access.to_owned(), refresh: refresh.to_owned() })
    }
}

impl From<pb::TokenPair> for Tokens {
    fn from(pair: pb::TokenPair) -> Self {
        Self { access: pair.access, refresh: pair.refresh }
    }
}

/// A signed-in user, as the request's extension.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    pub tokens: Tokens,
    /// A vendor's shop status (`None`: no shop, or not a vendor): what
    /// the navigation offers and the shop's pages allow.
    pub shop_status: Option<VendorStatus>,
}

impl Session {
    pub fn token(&self) -> &str {
        &self.principal.token
    }
}

/// The request's CSRF token (the cookie's, or a fresh one being set).
#[derive(Debug, Clone)]
pub struct Csrf(pub String);

impl Csrf {
    /// Whether a posted token is this one (compared in constant time); an
    /// empty token accepts nothing.
    pub fn accepts(&self, posted: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), posted.as_bytes());
        !a.is_empty() && a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| value.len() <= MAX_COOKIE_LEN)
}

/// A `Set-Cookie` value for the console's path; `None` expires it.
pub fn set_cookie(state: &AppState, name: &str, value: Option<&str>) -> HeaderValue {
    let secure = state.config.public_url.as_deref().is_some_and(|url| url.starts_with("https://"));
    let mut text = format!("{name}={}; Path=/admin/; HttpOnly; SameSite=Strict", value.unwrap_or(""));
    if value.is_none() {
        text.push_str("; Max-Age=0");
    }
    if secure {
        text.push_str("; Secure");
    }
    // Tokens and CSRF values are printable ASCII without `;`.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("mp_invalid=; Max-Age=0"))
}

pub fn session_cookie(state: &AppState, tokens: &Tokens) -> HeaderValue {
    set_cookie(state, SESSION_COOKIE, Some(&tokens.cookie_value()))
}

/// A vendor's shop status, read for each page (an admin may have changed
/// it since the login); none for other roles or when identity is away.
async fn shop_status(state: &AppState, principal: &Principal) -> Option<VendorStatus> {
    if principal.role != Role::Vendor {
        return None;
    }
    let d = &state.downstream;
    let mut identity = d.identity.clone();
    let shop = d.call(identity.get_my_vendor(d.request(pb::GetMyVendorRequest {}, Some(&principal.token)))).await;
    shop.ok().map(|shop| shop.status())
}

/// The session behind a cookie: as is while the access token verifies,
/// refreshed once when it does not, or none.
async fn resume(state: &AppState, tokens: Tokens) -> Option<(Session, bool)> {
    let (principal, tokens, refreshed) = match state.keys.principal(&tokens.access).await {
        Ok(principal) => (principal, tokens, false),
        Err(_) => {
            let mut client = state.downstream.identity.clone();
            let message = pb::RefreshTokenRequest { refresh: Some(tokens.refresh) };
            let fresh: Tokens =
                state.downstream.call(client.refresh_token(state.downstream.request(message, None))).await.ok()?.into();
            (state.keys.principal(&fresh.access).await.ok()?, fresh, true)
        }
    };
    let shop_status = shop_status(state, &principal).await;
    Some((Session { principal, tokens, shop_status }, refreshed))
}

/// Puts `Csrf` (and `Session`, when signed in) on every console request,
/// and sets the cookies that changed — unless the handler set them itself
/// (login, logout).
pub async fn middleware(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let known_csrf = cookie(headers, CSRF_COOKIE)
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned);
    let tokens = cookie(headers, SESSION_COOKIE).map(Tokens::parse);
    let csrf = known_csrf.clone().unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    request.extensions_mut().insert(Csrf(csrf.clone()));
    let mut session_change = None;
    match tokens {
        None => {}
        Some(None) => session_change = Some(set_cookie(&state, SESSION_COOKIE, None)),
        Some(Some(tokens)) => match resume(&state, tokens).await {
            Some((session, refreshed)) => {
                if refreshed {
                    session_change = Some(session_cookie(&state, &session.tokens));
                }
                request.extensions_mut().insert(session);
            }
            None => session_change = Some(set_cookie(&state, SESSION_COOKIE, None)),
        },
    }
    let mut response = next.run(request).await;
    let sets = |name: &str| {
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| v.as_bytes().starts_with(format!("{name}=").as_bytes()))
    };
    let (sets_session, sets_csrf) = (sets(SESSION_COOKIE), sets(CSRF_COOKIE));
    if let Some(change) = session_change.filter(|_| !sets_session) {
        response.headers_mut().append(header::SET_COOKIE, change);
    }
    if known_csrf.is_none() && !sets_csrf {
        response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, CSRF_COOKIE, Some(&csrf)));
    }
    response
}

/// Anyone signed in; others are sent to the login page.
pub struct SignedIn(pub Session, pub Csrf);

/// A signed-in admin; others get a 403 page.
pub struct Admin(pub Session, pub Csrf);

/// A signed-in vendor whose shop is approved; others get a 403 page (a
/// vendor still waiting, with what it waits for).
pub struct Vendor(pub Session, pub Csrf);

/// A signed-in vendor or admin (who manage products); others get a 403 page.
pub struct Manager(pub Session, pub Csrf);

fn csrf_of(parts: &Parts) -> Csrf {
    parts.extensions.get::<Csrf>().cloned().unwrap_or_else(|| Csrf(String::new()))
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Session>() {
            Some(session) => Ok(SignedIn(session.clone(), csrf_of(parts))),
            None => Err(Redirect::to("/admin/login/").into_response()),
        }
    }
}

/// The caller, when signed in with `role`.
async fn with_role(parts: &mut Parts, state: &AppState, role: Role) -> Result<(Session, Csrf), Response> {
    let SignedIn(session, csrf) = SignedIn::from_request_parts(parts, state).await?;
    if session.principal.role != role {
        return Err(page::forbidden(&session, &csrf));
    }
    Ok((session, csrf))
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        with_role(parts, state, Role::Admin).await.map(|(session, csrf)| Admin(session, csrf))
    }
}

impl FromRequestParts<AppState> for Manager {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(admin) = parts.extensions.get::<Session>().filter(|s| s.principal.is_admin()) {
            return Ok(Manager(admin.clone(), csrf_of(parts)));
        }
        let Vendor(session, csrf) = Vendor::from_request_parts(parts, state).await?;
        Ok(Manager(session, csrf))
    }
}

impl FromRequestParts<AppState> for Vendor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (session, csrf) = with_role(parts, state, Role::Vendor).await?;
        if !session.shop_status.is_some_and(common::buyable::sells) {
            return Err(page::message(
                axum::http::StatusCode::FORBIDDEN,
                Some(&session),
                &csrf,
                "403 Forbidden",
                "Your shop is not approved: you can sell and see orders once an admin approves it.",
            ));
        }
        Ok(Vendor(session, csrf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_odd_values_are_refused() {
        let tokens = Tokens { access: "a.b.c".into(), refresh: "r-1".into() };
        let parsed = Tokens::parse(&tokens.cookie_value()).expect("parsed");
        assert_eq!((parsed.access.as_str(), parsed.refresh.as_str()), ("a.b.c", "r-1"));
        for bad in ["", "only", "|r", "a|", "a|b|c", "a b|c"] {
            assert!(Tokens::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        let csrf = Csrf("0123456789abcdef0123456789abcdef".into());
        assert!(csrf.accepts("0123456789abcdef0123456789abcdef"));
        assert!(!csrf.accepts("0123456789abcdef0123456789abcdee"));
        assert!(!csrf.accepts(""));
        assert!(!Csrf(String::new()).accepts(""), "no token, no post");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; mp_csrf=xyz"));
        headers.append(header::COOKIE, HeaderValue::from_static("mp_session=t|r"));
        assert_eq!(cookie(&headers, CSRF_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("t|r"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
