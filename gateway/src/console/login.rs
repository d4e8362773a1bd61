//! Signing in and out of the console, through identity's login (under the
//! REST API's failed-login limits) and logout (which revokes the refresh
//! token's family).
use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use common::ErrorKind;
use proto::identity::v1 as pb;
use serde::Deserialize;

use super::page::{self, Layout, Posted, Section};
use super::session::{self, Csrf, SESSION_COOKIE, Session, Tokens};
use crate::AppState;
use crate::client_ip::client_ip;
use crate::error::HttpError;
use crate::origin::Connection;
use crate::routes::users::login_counted;

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    error: Option<String>,
}

fn login_page(status: StatusCode, csrf: &Csrf, email: String, error: Option<String>) -> Response {
    let layout = Layout::new("Log in", None, csrf, Section::None);
    page::render(status, &LoginPage { layout, email, error })
}

/// The sign-in form; a signed-in user goes on to the console.
pub async fn form(session: Option<axum::Extension<Session>>, axum::Extension(csrf): axum::Extension<Csrf>) -> Response {
    if session.is_some() {
        return Redirect::to("/admin/").into_response();
    }
    login_page(StatusCode::OK, &csrf, String::new(), None)
}

#[derive(Deserialize)]
pub struct Credentials {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    headers: HeaderMap,
    axum::Extension(csrf): axum::Extension<Csrf>,
    Posted(credentials): Posted<Credentials>,
) -> Response {
    let Credentials { email, password } = credentials;
    if email.trim().is_empty() || password.is_empty() {
        let error = "Enter both your email and your password.".to_owned();
        return login_page(StatusCode::OK, &csrf, email, Some(error));
    }
    let ip = client_ip(connection.peer.ip(), &headers, &state.config.trusted_proxies);
    let message = pb::LoginRequest { email: Some(email.clone()), password: Some(password) };
    let tokens: Tokens = match login_counted(&state, ip, message).await {
        Ok(pair) => pair.into(),
        Err(HttpError::Throttled { retry_after_secs }) => {
            let error = format!("Too many failed logins. Try again in {retry_after_secs} s.");
            return login_page(StatusCode::TOO_MANY_REQUESTS, &csrf, email, Some(error));
        }
        Err(HttpError::Api(error)) if error.kind == ErrorKind::Unauthenticated => {
            return login_page(StatusCode::OK, &csrf, email, Some(error.detail));
        }
        Err(HttpError::Api(error)) => return page::failure(None, &csrf, error),
        Err(HttpError::Plain(status, detail)) => return login_page(status, &csrf, email, Some(detail)),
    };
    let mut response = Redirect::to("/admin/").into_response();
    response.headers_mut().append(header::SET_COOKIE, session::session_cookie(&state, &tokens));
    response
}

#[derive(Deserialize)]
pub struct Nothing {}

/// Revokes the login's refresh token and forgets the session.
pub async fn logout(
    State(state): State<AppState>,
    session: Option<axum::Extension<Session>>,
    Posted(Nothing {}): Posted<Nothing>,
) -> Response {
    if let Some(axum::Extension(session)) = session {
        let mut client = state.downstream.identity.clone();
        let message = pb::LogoutRequest { refresh: Some(session.tokens.refresh.clone()) };
        if let Err(error) =
            state.downstream.call(client.logout(state.downstream.request(message, Some(session.token())))).await
        {
            tracing::warn!(%error, "a console logout could not revoke its refresh token");
        }
    }
    let mut response = Redirect::to("/admin/login/").into_response();
    response.headers_mut().append(header::SET_COOKIE, session::set_cookie(&state, SESSION_COOKIE, None));
    response
}
